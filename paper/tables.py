"""The metrics of the reproduction tables, one function per paper table, all under the one
evaluation protocol (`ssrl_core.evaluate.protocol.evaluate_cells`: features normalised per plate
to the DMSO cells where there are controls, k = the number of groups, the median AMI over 10
K-Means runs, probes trained on other plates or wells), so every number here is the number the
app and the command line show for the same cells.

- `digit_metrics`: Table 2 (MNIST): digit AMI (k = 10), silhouette of the clusters, probe.
- `view_lpips`: Table 2's last column: mean LPIPS (AlexNet, ImageNet + v0.1 weights) between the
  two views a recipe makes of the same image: how far apart the augmentation pushes the views.
- `compound_metrics`: Tables 3-4 (BBBC021): treated vs DMSO on all held-out cells (the held-out
  sites of the treated plate and the DMSO plate never trained on), AMI with k = 2 after per-plate
  normalisation (and without), the plate AMI of the DMSO cells, and the probe trained on other wells.
- `phenotype_metrics`: MitoCheck: AMI (k = number of classes) and the probe trained on other plates.
- `factor_metrics`: the factor probe: which of phenotype / compound, number of nuclei in the
  crop and intensity a representation encodes (AMI and held-out probe score per factor).
- `mean_std` / `fmt`: aggregation over training seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet, to_unit_float
from ssrl_core.evaluate.factors import factor_probe, nuisance_factors
from ssrl_core.evaluate.protocol import evaluate_cells

FACTOR_LABELS = {"label": "phenotype", "compound": "compound"}


def protocol_metrics(features: np.ndarray, meta: pd.DataFrame, column: str, seed: int = 0,
                     k: int | None = None) -> dict[str, float]:
    """The protocol's numbers for one embedding: ami, ami_spread, ami_chance, silhouette, probe
    (balanced accuracy on held-out plates/wells), probe_top1, knn, probe_chance (and ami_raw,
    plate_ami, plate_ami_raw where there are plates and controls)."""
    res = evaluate_cells(features, meta, column, k=k, seed=seed)
    cm, pr = res["cluster"], res["probe"] or {}
    out = {"ami": cm["ami"], "ami_spread": cm["ami_spread"], "ami_chance": cm["chance95"],
           "silhouette": cm["silhouette"], "k": float(cm["k"])}
    if pr:
        out.update(probe=pr["balanced_accuracy"], probe_top1=pr["top1"], knn=pr["knn"], probe_chance=pr["chance95"])
    if res.get("raw"):
        out["ami_raw"] = res["raw"]["ami"]
    plate = res.get("plate") or {}
    for key in ("plate_ami", "plate_ami_raw"):
        if key in plate:
            out[key] = float(plate[key])
    return out


def digit_metrics(features: np.ndarray, labels, seed: int = 0) -> dict[str, float]:
    """Digit AMI (k = 10), silhouette of the clusters and probe (Table 2)."""
    meta = pd.DataFrame({"label": np.asarray(labels).astype(str)})
    return protocol_metrics(features, meta, "label", seed=seed, k=10)


def phenotype_metrics(features: np.ndarray, meta: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """Phenotype AMI (k = number of classes) and the probe trained on other plates."""
    return protocol_metrics(features, meta.reset_index(drop=True), "label", seed=seed)


def compound_metrics(features: np.ndarray, meta: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """Treated vs DMSO (k = 2) on every held-out cell, per-plate normalised; `compound_ami` is its AMI."""
    out = protocol_metrics(features, meta.reset_index(drop=True), "compound", seed=seed)
    out["compound_ami"] = out["ami"]
    return out


def view_lpips(cells: CellSet, recipe: str, n: int = 256, crop_size: int | None = None, seed: int = 0,
               device: str = "cpu") -> float:
    """Mean LPIPS (AlexNet) between the two views `recipe` makes of `n` cells (paper Table 2)."""
    from ssrl_core.augment import TwoViews, get_preset
    from ssrl_core.perceptual import LPIPS

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(cells), min(n, len(cells)), replace=False))
    lo, hi = cells.ranges()
    images = to_unit_float(cells.images[idx], lo, hi)
    size = int(crop_size or images.shape[1])
    maker = TwoViews(get_preset(recipe), out_size=size)
    pairs = [maker(img, int(seed * 1_000_003 + i)) for i, img in enumerate(images)]
    a = np.stack([_hwc(p[0]) for p in pairs]).astype(np.float32)
    b = np.stack([_hwc(p[1]) for p in pairs]).astype(np.float32)
    return float(np.mean(LPIPS("alex", device=device).batch(a, b)))


def _hwc(view: np.ndarray) -> np.ndarray:
    return view[..., None] if view.ndim == 2 else view


def measured_factors(cells: CellSet) -> pd.DataFrame:
    """Nuisance factors measured on the crops (number of nuclei, intensity, area, offset)."""
    return nuisance_factors(cells, nuclear_channel=0)


def factor_metrics(features: np.ndarray, meta: pd.DataFrame, nuisance: pd.DataFrame, label_column: str,
                   seed: int = 0) -> dict[str, float]:
    """AMI and probe score for the label, the number and size of nuclei and the total intensity.

    Keys: `<factor> AMI` and `<factor> probe` where factor is phenotype / compound, n_nuclei,
    nucleus_area (the central nucleus) or intensity (the nuclear channel's total intensity); probe
    is balanced accuracy on held-out plates or wells (categorical factors) or out-of-fold R^2
    (continuous ones). The features are normalised per plate with the metadata's controls.
    """
    keep = [c for c in (label_column, "plate", "well", "compound") if c in meta.columns]
    meta = meta.reset_index(drop=True)[list(dict.fromkeys(keep))]
    intensity = [c for c in nuisance.columns if c.startswith("total_intensity_")][:1]
    nuis = nuisance.reset_index(drop=True)[["n_nuclei", "nucleus_area", *intensity]]
    table = factor_probe(features, meta, nuis, seed=seed, kinds=("label", "nuisance"))
    out: dict[str, float] = {}
    for _, row in table.iterrows():
        if row["kind"] == "label" and row["factor"] != label_column:
            continue
        name = FACTOR_LABELS.get(row["factor"], row["factor"])
        if name.startswith("total_intensity_"):
            name = "intensity"
        out[f"{name} AMI"] = float(row["ami"])
        out[f"{name} probe"] = float(row["probe_score"])
    return out


def mean_std(values: list[float]) -> tuple[float, float, int]:
    """Mean, standard deviation (0 with one value) and count of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, int(len(v))


def fmt(values: list[float], digits: int = 3) -> str:
    """`0.512` for one value, `0.512 ± 0.020` for several, `n/a` for none."""
    m, s, n = mean_std(values)
    if n == 0:
        return "n/a"
    return f"{m:.{digits}f}" if n == 1 else f"{m:.{digits}f} ± {s:.{digits}f}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table of a DataFrame (strings as they are, floats to 3 decimals)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in frame.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
