"""The metrics of the reproduction tables, one function per paper table.

- `digit_metrics`: Table 2 (MNIST): AMI of a K-Means with k = 10 against the digit, silhouette of
  the K-Means clusters, held-out linear top-1 on the digit.
- `view_lpips`: Table 2's last column: mean LPIPS (AlexNet, ImageNet + v0.1 weights) between the
  two views a recipe makes of the same image: how far apart the augmentation pushes the views.
- `compound_metrics`: Tables 3-4 (BBBC021): AMI of a K-Means with k = 2 against treated /
  control on the held-out sites of the treated plate; the same K-Means on the DMSO cells of both
  plates against the plate (the batch factor).
- `phenotype_metrics`: MitoCheck: AMI (k = number of classes) and held-out linear top-1.
- `factor_metrics`: the factor probe: which of phenotype / compound, number of nuclei in the
  crop and intensity a representation encodes (AMI and linear-probe score per factor).
- `mean_std` / `fmt`: aggregation over training seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet, channel_ranges, to_unit_float
from ssrl_core.evaluate.cluster import agreement, cluster_metrics, kmeans
from ssrl_core.evaluate.compound import check_compound
from ssrl_core.evaluate.factors import factor_probe, nuisance_factors
from ssrl_core.evaluate.probe import linear_probe
from ssrl_core.reproduce.plan import OTHER_PLATE, TRAIN_PLATE, TREATMENT

FACTOR_LABELS = {"label": "phenotype", "compound": "compound"}


def digit_metrics(features: np.ndarray, labels, seed: int = 0) -> dict[str, float]:
    """AMI (k = 10), silhouette of the clusters and linear top-1 on the digit (Table 2)."""
    labels = np.asarray(labels).astype(str)
    cm = cluster_metrics(features, labels, k=10, seed=seed)
    lp = linear_probe(features, labels, test_fraction=0.3, seed=seed)
    return {"ami": cm["ami"], "silhouette": cm["silhouette"], "top1": lp["top1"]}


def phenotype_metrics(features: np.ndarray, labels, seed: int = 0) -> dict[str, float]:
    """AMI (k = number of classes) and stratified held-out linear top-1 on the phenotype."""
    labels = np.asarray(labels).astype(str)
    cm = cluster_metrics(features, labels, seed=seed)
    lp = linear_probe(features, labels, test_fraction=0.3, seed=seed)
    return {"ami": cm["ami"], "top1": lp["top1"], "chance": lp["chance"], "k": cm["k"]}


def compound_metrics(features: np.ndarray, meta: pd.DataFrame, seed: int = 0) -> dict[str, float]:
    """k = 2 AMI treated vs DMSO on the treated plate, and plate AMI on the DMSO cells of both plates."""
    meta = meta.reset_index(drop=True)
    plate = meta["plate"].astype(str).to_numpy()
    same = plate == TRAIN_PLATE
    r = check_compound(features[same], meta[same], TREATMENT, control="DMSO", k=2, seed=seed)
    out = {"compound_ami": r["compound_ami"], "compound_silhouette": r["compound_silhouette"]}
    dmso = (meta["compound"].astype(str) == "DMSO").to_numpy()
    if len(set(plate[dmso])) > 1:
        out["plate_ami"] = agreement(kmeans(features[dmso], 2, seed), plate[dmso])["ami"]
    else:
        out["plate_ami"] = float("nan")
    return out


def view_lpips(cells: CellSet, recipe: str, n: int = 256, crop_size: int | None = None, seed: int = 0,
               device: str = "cpu") -> float:
    """Mean LPIPS (AlexNet) between the two views `recipe` makes of `n` cells (paper Table 2)."""
    from ssrl_core.augment import TwoViews, get_preset
    from ssrl_core.perceptual import LPIPS

    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(cells), min(n, len(cells)), replace=False))
    lo, hi = channel_ranges(cells.images)
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
    is held-out accuracy (categorical factors) or cross-validated R^2 (continuous ones).
    """
    meta = meta.reset_index(drop=True)[[label_column]]
    intensity = [c for c in nuisance.columns if c.startswith("total_intensity_")][:1]
    nuis = nuisance.reset_index(drop=True)[["n_nuclei", "nucleus_area", *intensity]]
    table = factor_probe(features, meta, nuis, seed=seed)
    out: dict[str, float] = {}
    for _, row in table.iterrows():
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
