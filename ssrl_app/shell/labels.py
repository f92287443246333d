"""Plain names for the jargon the pages show: methods, backbones, metric keys, factors, verdicts.

The methods' names and descriptions are the core's (`ssrl_core.methods`: each method class
carries its `label` and `description`), read when asked (they load torch).

Result tables from `ssrl_core` use short keys (ami, top1, n_test, probe_metric, r2,
total_intensity_<channel>); `table()` renames their columns and values for a biologist, and
the verdict functions say in one sentence what a number means. The factor probe's verdict and
factor names (`bias_verdict`, `factor_name`) are `ssrl_core.evaluate.bias_words`, which
`ssrl factors` prints too; they are re-exported here for the pages.
"""

from __future__ import annotations

import numbers

import pandas as pd

from ssrl_core.evaluate.bias_words import bias_verdict as bias_verdict  # re-exported for the pages
from ssrl_core.evaluate.bias_words import factor_name

BACKBONE = {
    "tiny_cnn": "tiny CNN (fastest, for CPU demos)",
    "small_cnn": "small CNN (fast on a CPU)",
    "vgg11": "VGG-11", "vgg13": "VGG-13",
    "resnet18": "ResNet-18 (the paper's; slow on a CPU)",
    "resnet18_half": "ResNet-18, half width", "resnet18_s2": "ResNet-18, strided stem",
    "resnet50": "ResNet-50 (GPU)", "convnext_tiny": "ConvNeXt-Tiny (GPU)",
}
COLUMNS = {
    "ami": "agreement (AMI)", "ari": "agreement (ARI)", "nmi": "agreement (NMI)",
    "silhouette": "separation (silhouette)", "top1": "linear probe accuracy", "n_test": "test cells",
    "probe_score": "how well it is predicted", "probe_metric": "score type", "chance": "chance level",
    "levels": "values", "n": "cells", "kind": "kind", "type": "type", "factor": "factor",
    "difference": "B minus A", "metric": "measure", "class": "class",
    "n_treated": "treated cells", "n_control": "control cells", "compound_ami": "compound agreement (AMI)",
    "compound_silhouette": "compound separation", "plate_ami": "plate agreement (AMI)",
    "plate_silhouette": "plate separation", "mean_average_precision": "mAP", "p_value": "p-value",
    "q_value": "q-value (corrected)", "significant": "significant", "profiles": "treated replicates",
    "controls": "control replicates", "same_plate_map": "mAP against same-plate controls",
    "same_plate_p_value": "p-value (same-plate controls)", "note": "note", "level": "replicates",
    "cells": "cells", "probe": "probe recall", "knn": "k-NN recall",
}
VALUES = {
    "ami": "agreement with the column (AMI)", "ari": "agreement with the column (ARI)",
    "nmi": "agreement with the column (NMI)", "silhouette": "separation of the clusters (silhouette)",
    "top1": "linear probe accuracy", "r2": "R² (share of variation explained)", "accuracy": "accuracy",
    "label": "label", "batch": "batch (plate, well…)", "nuisance": "measured on the image",
}


def short_method(name: str) -> str:
    """"MoCo v2": the method's own label (`ssrl_core.methods`)."""
    from ssrl_core.methods import METHODS

    return METHODS[name].label if name in METHODS else name


def short_backbone(name: str) -> str:
    """"small CNN" (the part before the explanation)."""
    return BACKBONE.get(name, name).split(" (")[0]


def help_for(what: str, names: list[str]) -> str:
    """The run field's declared help (`method` or `backbone`), then one line per choice (Markdown list)."""
    from ssrl_core.methods import METHODS
    from ssrl_core.train.fields import FIELDS

    if what == "method":
        lines = [f"- **{short_method(n)}**: {METHODS[n].description}" for n in names]
        return FIELDS["method.name"].help + "\n\n" + "\n".join(lines)
    lines = [f"- **{short_backbone(n)}**" + (f": {BACKBONE[n].split(' (', 1)[1].rstrip(')')}"
                                            if " (" in BACKBONE.get(n, "") else "") for n in names]
    return FIELDS["backbone"].help + "\n\n" + "\n".join(lines)


def table(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with plain column names, metric keys and factor names."""
    out = df.copy()
    for col in ("metric", "probe_metric", "kind"):
        if col in out.columns:
            out[col] = out[col].map(lambda v: VALUES.get(str(v), v))
    if "factor" in out.columns:
        out["factor"] = out["factor"].map(factor_name)
    return out.rename(columns={c: COLUMNS.get(str(c), c) for c in out.columns})


def protocol_row(representation: str, res: dict) -> dict:
    """One table row of an `evaluate_cells` result, with plain column names."""
    cm, pr = res["cluster"], res.get("probe") or {}
    row = {"representation": representation, "compared with": res["column"], "k": cm["k"],
           "agreement (AMI)": cm["ami"], "single K-Means runs": f"{min(cm['ami_runs']):.2f}–{max(cm['ami_runs']):.2f}",
           "chance level (AMI)": cm["chance95"], "separation (silhouette)": cm["silhouette"]}
    if pr:
        unit = {"plate": "plates", "well": "wells", "cell": "cells"}[pr["held_out_by"]]
        row[f"probe on unseen {unit} (balanced accuracy)"] = pr["balanced_accuracy"]
        row["k-NN (balanced accuracy)"] = pr["knn"]
        row["probe chance level"] = pr["chance95"]
    return row


def vertical(row: dict, digits: int = 3) -> pd.DataFrame:
    """A one-row result as a two-column table (measure, value), numbers rounded to `digits`: it
    fits a narrow column at a 1024-px projector, where a wide one-row table is cut."""
    def text(v) -> str:
        if v is None or isinstance(v, bool):
            return "" if v is None else ("yes" if v else "no")
        if isinstance(v, numbers.Integral):
            return f"{int(v):,}"
        if isinstance(v, numbers.Real):
            return f"{round(float(v), digits):g}"
        return str(v)
    return pd.DataFrame({"measure": list(row), "value": [text(v) for v in row.values()]})


def compound_row(r: dict) -> dict:
    """One table row of a `check_compound` result, with plain column names."""
    pr = r.get("probe") or {}
    row = {"treated cells": r["n_treated"], "control cells": r["n_control"],
           "treatment agreement (AMI)": r["compound_ami"], "chance level (AMI)": r["chance95"],
           "AMI without per-plate normalisation": r["compound_ami_raw"]}
    if pr:
        row["probe on unseen wells/plates (balanced accuracy)"] = pr["balanced_accuracy"]
        row["k-NN (balanced accuracy)"] = pr["knn"]
    row["plate agreement of the controls (AMI)"] = r["plate_ami"]
    return row
