"""Plain names for the jargon the pages show: methods, backbones, metric keys, factors, verdicts.

Result tables from `ssrl_core` use short keys (ami, top1, n_test, probe_metric, r2,
total_intensity_<channel>); `table()` renames their columns and values for a biologist, and
the verdict functions say in one sentence what a number means.
"""

from __future__ import annotations

import pandas as pd

METHOD = {
    "moco_v2": "MoCo v2 (contrast with a memory of past cells)",
    "simclr": "SimCLR (contrast within the batch)",
    "byol": "BYOL (predict the other view, no negatives)",
    "vicreg": "VICReg (agree, keep features varied and decorrelated)",
    "barlow_twins": "Barlow Twins (make feature correlations an identity)",
}
BACKBONE = {
    "tiny_cnn": "tiny CNN (fastest, for CPU demos)",
    "small_cnn": "small CNN (fast on a CPU)",
    "vgg11": "VGG-11", "vgg13": "VGG-13",
    "resnet18": "ResNet-18 (the paper's; slow on a CPU)",
    "resnet18_half": "ResNet-18, half width", "resnet18_s2": "ResNet-18, strided stem",
    "resnet50": "ResNet-50 (GPU)", "convnext_tiny": "ConvNeXt-Tiny (GPU)",
}
HELP = {
    "method": "How the network learns that two views are the same cell. MoCo v2 is the paper's choice.",
    "backbone": "The network that turns a cell into numbers. Bigger ones see more but train slower.",
    "batch": "How many cells the network looks at per step. Larger: steadier learning, more memory.",
    "seed": "A number that fixes the random choices; the same seed gives the same run.",
    "crop": "Cells are resized to this many pixels per side before training.",
    "lr": "How big each learning step is. The default is measured to work for short runs.",
    "epochs": "How many times the run goes through all cells (the time budget may end it sooner).",
}
COLUMNS = {
    "ami": "agreement (AMI)", "ari": "agreement (ARI)", "nmi": "agreement (NMI)",
    "silhouette": "separation (silhouette)", "top1": "linear probe accuracy", "n_test": "test cells",
    "probe_score": "how well it is predicted", "probe_metric": "score type", "chance": "chance level",
    "levels": "values", "n": "cells", "kind": "kind", "type": "type", "factor": "factor",
    "difference": "B minus A", "metric": "measure", "class": "class",
    "n_treated": "treated cells", "n_control": "control cells", "compound_ami": "compound agreement (AMI)",
    "compound_silhouette": "compound separation", "plate_ami": "plate agreement (AMI)",
    "plate_silhouette": "plate separation",
}
VALUES = {
    "ami": "agreement with the column (AMI)", "ari": "agreement with the column (ARI)",
    "nmi": "agreement with the column (NMI)", "silhouette": "separation of the clusters (silhouette)",
    "top1": "linear probe accuracy", "r2": "R² (share of variation explained)", "accuracy": "accuracy",
    "label": "label", "batch": "batch (plate, well…)", "nuisance": "measured on the image",
}


def short_method(name: str) -> str:
    """"MoCo v2" (the part before the explanation)."""
    return METHOD.get(name, name).split(" (")[0]


def short_backbone(name: str) -> str:
    """"small CNN" (the part before the explanation)."""
    return BACKBONE.get(name, name).split(" (")[0]


def help_for(what: str, names: list[str]) -> str:
    """The field's help, then one line per choice (Markdown list)."""
    table = METHOD if what == "method" else BACKBONE
    lines = [f"- **{short_method(n) if what == 'method' else short_backbone(n)}**"
             + (f": {table[n].split(' (', 1)[1].rstrip(')')}" if " (" in table.get(n, "") else "") for n in names]
    return HELP[what] + "\n\n" + "\n".join(lines)


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


def cluster_verdict(ami: float, column: str) -> str:
    """One sentence on an AMI value."""
    a = float(ami)
    if a >= 0.6:
        how = "follow it closely"
    elif a >= 0.3:
        how = "partly follow it"
    elif a >= 0.1:
        how = "follow it only weakly"
    else:
        how = "do not follow it (chance level)"
    return f"The clusters {how} ({column}: AMI {a:.2f})."


def _level(score: float, chance: float, metric: str) -> tuple[float, str]:
    """(how far above chance in 0..1, words)."""
    room = max(1e-9, 1.0 - chance)
    gain = (score - chance) / room if metric != "r2" else score
    if gain >= 0.8:
        return gain, "almost perfectly"
    if gain >= 0.5:
        return gain, "well"
    if gain >= 0.2:
        return gain, "partly"
    if gain >= 0.05:
        return gain, "weakly (just above chance)"
    return gain, "not at all (chance level)"


def remedy(factor: str) -> str:
    """The augmentation that varies a measured factor (so the representation learns to ignore it)."""
    f = str(factor)
    if f.startswith("total_intensity_"):
        return "brightness/contrast jitter"
    return {"nucleus_area": "zoom: random resized crop or affine scaling",
            "nucleus_offset": "shifts: random crops or affine translation",
            "n_nuclei": "a centre crop around one nucleus"}.get(f, "a step that varies it")


def bias_verdict(factors: pd.DataFrame) -> str:
    """One or two sentences: what the representation encodes most, and a warning for batches."""
    if factors is None or factors.empty:
        return ""
    rows = []
    for _, r in factors.iterrows():
        gain, words = _level(float(r["probe_score"]), float(r.get("chance", 0.0) or 0.0), str(r["probe_metric"]))
        rows.append((gain, words, str(r["factor"]), str(r["kind"])))
    rows.sort(reverse=True)
    top = rows[0]
    first = factor_name(top[2])
    text = f"{first[:1].upper()}{first[1:]} is encoded {top[1]}"
    labels = [r for r in rows if r[3] == "label"]
    if labels and labels[0] is not top:
        text += f"; the {factor_name(labels[0][2])} is encoded {labels[0][1]}"
    text += "."
    batches = [r for r in rows if r[3] == "batch" and r[0] >= 0.2]
    if batches:
        b = batches[0]
        text += (f" The {factor_name(b[2])} is predicted {b[1]}: check for {b[2]} effects before "
                 "comparing compounds or classes.")
    nuis = [r for r in rows if r[3] == "nuisance" and r[0] >= 0.5]
    if nuis and labels and nuis[0][0] > labels[0][0]:
        text += (f" It sees {factor_name(nuis[0][2])} better than the labels: an augmentation that changes it "
                 f"({remedy(nuis[0][2])}) would make it ignore that.")
    return text
