"""Why do two groups of cells differ? Measured features side by side, with effect sizes.

When a representation puts cells in two clusters, a biologist asks what tells them apart. This
answers with measurements a person can read, not with feature dimensions: per channel the mean
and spread of the intensity and a texture measure (mean gradient magnitude), and the shape of the
central nucleus (area, eccentricity, solidity, number of nuclei in the crop; see
`evaluate/morphology.py`), the same measurements as the `hand-features` baseline.

For each measurement: the two group means, the standardised mean difference (Cohen's d with the
pooled standard deviation; |d| 0.2 small, 0.5 medium, 0.8 large, Cohen 1988) and a two-sided
Mann-Whitney U p-value (no normality assumed). `best_showing` picks the cells that show the
largest difference best: in each group, those furthest towards its own side on that measurement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ssrl_core.data.cellset import CellSet, to_unit_float
from ssrl_core.evaluate.handmade import hand_feature_names, hand_features

# Which hand-made columns to show (per channel: mean, std, gradient; every nucleus measure).
_PER_CHANNEL = ("mean", "std", "gradient")
PLAIN = {"mean": "mean intensity", "std": "intensity spread", "gradient": "texture (edges)",
         "n_nuclei": "nuclei in the crop", "nucleus_area": "nucleus area (px)",
         "nucleus_eccentricity": "nucleus elongation", "nucleus_solidity": "nucleus solidity",
         "nucleus_perimeter": "nucleus perimeter (px)", "nucleus_offset": "nucleus off-centre (px)"}


def readable_name(column: str, channels: list[str]) -> str:
    """`DAPI_mean` -> `DAPI: mean intensity`; `nucleus_area` -> `nucleus area (px)`."""
    if column in PLAIN:
        return PLAIN[column]
    for ch in channels:
        if column.startswith(f"{ch}_") and column[len(ch) + 1:] in PLAIN:
            return f"{ch}: {PLAIN[column[len(ch) + 1:]]}"
    return column


def measurements(cells: CellSet, index: np.ndarray, ranges: tuple[np.ndarray, np.ndarray] | None = None,
                 nuclear_channel: int = 0) -> pd.DataFrame:
    """The readable measurements of the cells at positions `index` (one row per cell).

    `ranges`: per-channel (lo, hi) used to scale pixels to [0, 1]; the whole set's by default,
    so that intensities are comparable between the groups.
    """
    index = np.asarray(index, dtype=int)
    lo, hi = ranges if ranges is not None else cells.ranges()
    unit = to_unit_float(np.asarray(cells.subset(index).images), lo, hi)
    names = hand_feature_names(list(cells.channels))
    table = pd.DataFrame(hand_features(unit, nuclear_channel=nuclear_channel), columns=names)
    keep = [f"{ch}_{s}" for ch in cells.channels for s in _PER_CHANNEL] + [c for c in names if c in PLAIN]
    return table[keep].set_index(pd.Index(index, name="cell"))


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / pooled standard deviation; 0 when both groups are constant."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    diff = float(a.mean() - b.mean())
    return 0.0 if pooled == 0 and diff == 0 else diff / max(float(pooled), 1e-12)


def size_word(d: float) -> str:
    """Cohen's words for |d|."""
    if not np.isfinite(d):
        return "n/a"
    d = abs(d)
    return "large" if d >= 0.8 else "medium" if d >= 0.5 else "small" if d >= 0.2 else "negligible"


def compare_groups(table: pd.DataFrame, in_a: np.ndarray, in_b: np.ndarray,
                   channels: list[str] | None = None) -> pd.DataFrame:
    """One row per measurement, sorted by |d|: means of A and B, d, its size in words, p-value.

    `table` is `measurements(...)` of the cells of both groups; `in_a` / `in_b` are boolean masks
    over its rows (the groups must not be empty).
    """
    in_a, in_b = np.asarray(in_a, dtype=bool), np.asarray(in_b, dtype=bool)
    if not in_a.any() or not in_b.any():
        raise ValueError("both groups need at least one cell")
    rows = []
    for col in table.columns:
        x = table[col].to_numpy(dtype=float)
        a, b = x[in_a], x[in_b]
        d = cohens_d(a, b)
        fa, fb = a[np.isfinite(a)], b[np.isfinite(b)]
        p = float(stats.mannwhitneyu(fa, fb).pvalue) if len(fa) and len(fb) and np.ptp(np.r_[fa, fb]) > 0 else 1.0
        rows.append({"measurement": readable_name(col, list(channels or [])), "column": col,
                     "mean A": float(np.nanmean(a)) if len(fa) else float("nan"),
                     "mean B": float(np.nanmean(b)) if len(fb) else float("nan"),
                     "effect size (d)": d, "size": size_word(d), "p-value": p})
    out = pd.DataFrame(rows)
    return out.reindex(out["effect size (d)"].abs().sort_values(ascending=False, na_position="last").index
                       ).reset_index(drop=True)


def best_showing(table: pd.DataFrame, in_a: np.ndarray, in_b: np.ndarray, column: str,
                 n: int = 6) -> tuple[list[int], list[int]]:
    """Cells (the `cell` index of `table`) that show the difference on `column` best:
    the A cells furthest towards A's side and the B cells furthest towards B's side."""
    x = table[column].to_numpy(dtype=float)
    cells = table.index.to_numpy()
    in_a, in_b = np.asarray(in_a, dtype=bool), np.asarray(in_b, dtype=bool)
    a_higher = np.nanmean(x[in_a]) >= np.nanmean(x[in_b])

    def pick(mask: np.ndarray, high: bool) -> list[int]:
        idx = np.flatnonzero(mask & np.isfinite(x))
        order = idx[np.argsort(x[idx])]
        return [int(c) for c in cells[(order[::-1] if high else order)[:n]]]

    return pick(in_a, a_higher), pick(in_b, not a_higher)


def summary(diff: pd.DataFrame, name_a: str = "A", name_b: str = "B", top: int = 3) -> str:
    """One plain sentence naming the largest differences."""
    strong = diff[diff["size"].isin(["large", "medium"]) & (diff["p-value"] < 0.05)].head(top)
    if strong.empty:
        return (f"No measured feature differs much between {name_a} and {name_b}: what separates them in the "
                "representation is not one of these measurements (look at the cells).")
    parts = [f"{r['measurement']} ({'higher' if r['effect size (d)'] > 0 else 'lower'} in {name_a}, {r['size']})"
             for _, r in strong.iterrows()]
    return f"{name_a} and {name_b} differ most in " + "; ".join(parts) + "."
