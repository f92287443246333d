"""Inter-class bias statistics of a parameter sweep (Bendidi et al. 2024, section 3.1).

Input: a tidy table with one row per (value, seed, class) and the class's linear-probe
accuracy. Output:
- per-class curves (mean and standard deviation over seeds at each value);
- for every pair of classes, Pearson, Kendall and Spearman correlations of their mean curves
  (across parameter values) with p-values. A pair is *opposite* when any of the three is below
  -0.3 with p < 0.05 (the paper's definition);
- the ratio of classes with at least one opposite partner;
- each class's trend: the slope of a linear regression of accuracy on the parameter value (all
  seeds' points), with its p-value; "flat" when p >= 0.05 or when the fitted change over the whole
  swept range is under `flat_change` (1 accuracy point by default), otherwise "ascending" or
  "descending".
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

REQUIRED = ("value", "seed", "class", "accuracy")
OPPOSITE_R = -0.3
OPPOSITE_P = 0.05


def _check(table: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"the sweep table lacks the column(s) {missing}; it needs {list(REQUIRED)}")
    t = table[list(REQUIRED)].copy()
    t["value"] = pd.to_numeric(t["value"], errors="coerce")
    t["accuracy"] = pd.to_numeric(t["accuracy"], errors="coerce")
    if t["value"].isna().any():
        raise ValueError("the swept parameter values must be numbers to compute correlations and slopes")
    t["class"] = t["class"].astype(str)
    return t.dropna(subset=["accuracy"])


def class_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and number of seeds of each class's accuracy at each value."""
    t = _check(table)
    g = t.groupby(["class", "value"])["accuracy"]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=0), "n": g.size()}).reset_index()
    return out.sort_values(["class", "value"]).reset_index(drop=True)


def _corr(fn, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r, p = fn(a, b)
    return float(r), float(p)


def pair_correlations(table: pd.DataFrame, threshold: float = OPPOSITE_R,
                      alpha: float = OPPOSITE_P) -> pd.DataFrame:
    """Pearson, Kendall and Spearman correlations (with p-values) of every pair of class curves.

    Curves are the seed-averaged accuracies at each parameter value; a pair is opposite when
    at least one coefficient is below `threshold` with a p-value below `alpha`.
    """
    curves = class_curves(table).pivot(index="value", columns="class", values="mean").sort_index()
    rows = []
    for a, b in itertools.combinations(curves.columns, 2):
        both = curves[[a, b]].dropna()
        xa, xb = both[a].to_numpy(), both[b].to_numpy()
        row = {"class_a": a, "class_b": b, "n_values": len(both)}
        for name, fn in (("pearson", stats.pearsonr), ("kendall", stats.kendalltau),
                         ("spearman", stats.spearmanr)):
            row[f"{name}_r"], row[f"{name}_p"] = _corr(fn, xa, xb)
        row["opposite"] = any(row[f"{m}_r"] < threshold and row[f"{m}_p"] < alpha
                              for m in ("pearson", "kendall", "spearman"))
        rows.append(row)
    cols = ["class_a", "class_b", "n_values"] + [f"{m}_{s}" for m in ("pearson", "kendall", "spearman")
                                                 for s in ("r", "p")] + ["opposite"]
    return pd.DataFrame(rows, columns=cols)


def opposite_classes(pairs: pd.DataFrame) -> list[str]:
    """Classes that have at least one opposite partner, sorted."""
    opp = pairs[pairs["opposite"].astype(bool)]
    return sorted(set(opp["class_a"]) | set(opp["class_b"]))


def opposite_ratio(pairs: pd.DataFrame, classes: list[str] | None = None) -> float:
    """Share of classes with at least one opposite partner (0..1)."""
    all_classes = classes if classes is not None else sorted(set(pairs["class_a"]) | set(pairs["class_b"]))
    if not all_classes:
        return float("nan")
    return len(opposite_classes(pairs)) / len(all_classes)


def class_slopes(table: pd.DataFrame, alpha: float = 0.05, flat_change: float = 0.01) -> pd.DataFrame:
    """Linear-regression slope of accuracy on the parameter value, per class, and its trend.

    Returns class, slope, intercept, p, change (slope x swept range) and trend
    ("ascending" | "descending" | "flat").
    """
    t = _check(table)
    span = float(t["value"].max() - t["value"].min())
    rows = []
    for cls, g in t.groupby("class"):
        if g["value"].nunique() < 2:
            slope, icpt, p = float("nan"), float(g["accuracy"].mean()), float("nan")
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = stats.linregress(g["value"].to_numpy(float), g["accuracy"].to_numpy(float))
            slope, icpt, p = float(fit.slope), float(fit.intercept), float(fit.pvalue)
        change = slope * span if np.isfinite(slope) else float("nan")
        flat = not np.isfinite(p) or p >= alpha or abs(change) < flat_change
        trend = "flat" if flat else ("ascending" if slope > 0 else "descending")
        rows.append({"class": cls, "slope": slope, "intercept": icpt, "p": p, "change": change, "trend": trend})
    return pd.DataFrame(rows, columns=["class", "slope", "intercept", "p", "change", "trend"])


def bias_report(table: pd.DataFrame) -> dict:
    """Everything above in one dict: curves, pairs, slopes (DataFrames), opposite classes and ratio."""
    pairs = pair_correlations(table)
    classes = sorted(_check(table)["class"].unique().tolist())
    slopes = class_slopes(table)
    return {"curves": class_curves(table), "pairs": pairs, "slopes": slopes,
            "opposite_classes": opposite_classes(pairs), "opposite_ratio": opposite_ratio(pairs, classes),
            "classes": classes, "trends": slopes["trend"].value_counts().to_dict()}
