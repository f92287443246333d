"""Plain names for the jargon the pages show: methods, backbones, metric keys, factors, verdicts.

The methods' names and descriptions are the core's (`ssrl_core.methods`: each method class
carries its `label` and `description`), read when asked (they load torch).

Result tables from `ssrl_core` use short keys (ami, top1, n_test, probe_metric, r2,
total_intensity_<channel>); `table()` renames their columns and values for a biologist, and
the verdict functions say in one sentence what a number means.
"""

from __future__ import annotations

import numbers

import pandas as pd

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


def factor_name(name: str) -> str:
    """`total_intensity_DAPI` -> "brightness of DAPI", `n_nuclei` -> "number of nuclei in the crop"."""
    s = str(name)
    if s.startswith("total_intensity_"):
        return f"brightness of {s[len('total_intensity_'):]}"
    return {"n_nuclei": "number of nuclei in the crop", "nucleus_area": "nucleus size",
            "nucleus_offset": "nucleus distance from the centre", "label": "label (class)"}.get(s, s)


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


def _gain(r) -> float:
    """How far above chance a factor's probe score is, in 0..1 (R^2 as it is)."""
    score, chance = float(r["probe_score"]), float(r.get("chance", 0.0) or 0.0)
    if str(r["probe_metric"]) == "r2":
        return score
    return (score - chance) / max(1e-9, 1.0 - chance)


def remedy(factor: str) -> str:
    """The augmentation that varies a measured factor (so the representation learns to ignore it)."""
    f = str(factor)
    if f.startswith("total_intensity_"):
        return "brightness/contrast jitter"
    return {"nucleus_area": "zoom: random resized crop or affine scaling",
            "nucleus_offset": "shifts: random crops or affine translation",
            "n_nuclei": "a centre crop around one nucleus"}.get(f, "a step that varies it")


def bias_verdict(factors: pd.DataFrame, random: pd.DataFrame | None = None) -> str:
    """One or two sentences: what the representation encodes most (in words calibrated against
    chance, and against random weights of the same network when `random` is its factor table),
    and a warning for batches."""
    from ssrl_core.evaluate.verdicts import against_random

    if factors is None or factors.empty:
        return ""
    ref = ({str(r["factor"]): float(r["probe_score"]) for _, r in random.iterrows()}
           if random is not None and not random.empty else {})
    rows = sorted(((_gain(r), str(r.get("words", "")), str(r["factor"]), str(r["kind"]), float(r["probe_score"]))
                   for _, r in factors.iterrows() if pd.notna(r["probe_score"])), reverse=True)
    if not rows:
        return ""

    def said(row) -> str:
        return f"{factor_name(row[2])} is encoded {row[1]}{against_random(row[4], ref.get(row[2]))}"

    top = rows[0]
    text = said(top)
    text = text[:1].upper() + text[1:]
    labels = [r for r in rows if r[3] == "label"]
    if labels and labels[0] is not top:
        text += f"; the {said(labels[0])}"
    text += "."
    batches = [r for r in rows if r[3] == "batch" and r[0] >= 0.3 and not r[1].startswith("not at all")]
    if batches:
        b = batches[0]
        text += (f" The {factor_name(b[2])} is still predicted {b[1]} after per-plate normalisation: check for "
                 f"{b[2]} effects before comparing compounds or classes.")
    nuis = [r for r in rows if r[3] == "nuisance" and r[0] >= 0.5]
    if nuis and labels and nuis[0][0] > labels[0][0]:
        text += (f" It sees {factor_name(nuis[0][2])} better than the labels: an augmentation that changes it "
                 f"({remedy(nuis[0][2])}) would make it ignore that.")
    return text
