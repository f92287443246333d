"""Sweep statistics (paper section 3.1) on synthetic accuracy tables with planted behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ssrl_core.evaluate.bias_stats import bias_report, class_curves, class_slopes, opposite_ratio, pair_correlations


def planted_table(seed: int = 0) -> pd.DataFrame:
    """10 values x 3 seeds x 6 classes: up1 and up2 rise, down falls (opposite to both),
    flat1..flat3 are noise around a constant."""
    rng = np.random.default_rng(seed)
    values = np.linspace(0.0, 1.0, 10)
    rows = []
    for s in range(3):
        for v in values:
            acc = {"up1": 0.5 + 0.3 * v, "up2": 0.4 + 0.2 * v, "down": 0.8 - 0.3 * v,
                   "flat1": 0.6, "flat2": 0.7, "flat3": 0.3}
            for cls, a in acc.items():
                rows.append({"value": v, "seed": s, "class": cls, "accuracy": a + rng.normal(0, 0.004)})
    return pd.DataFrame(rows)


def test_planted_opposites_are_found_exactly() -> None:
    table = planted_table()
    rep = bias_report(table)
    assert rep["opposite_classes"] == ["down", "up1", "up2"]
    assert rep["opposite_ratio"] == pytest.approx(3 / 6)
    opp = rep["pairs"][rep["pairs"]["opposite"]]
    assert {frozenset(p) for p in zip(opp["class_a"], opp["class_b"])} == {
        frozenset({"down", "up1"}), frozenset({"down", "up2"})}


def test_correlations_match_scipy_on_mean_curves() -> None:
    table = planted_table()
    pairs = pair_correlations(table)
    row = pairs[(pairs["class_a"] == "down") & (pairs["class_b"] == "up1")].iloc[0]
    curves = class_curves(table).pivot(index="value", columns="class", values="mean")
    r, p = stats.pearsonr(curves["down"], curves["up1"])
    tau, _ = stats.kendalltau(curves["down"], curves["up1"])
    rho, _ = stats.spearmanr(curves["down"], curves["up1"])
    assert row["pearson_r"] == pytest.approx(r) and row["pearson_p"] == pytest.approx(p)
    assert row["kendall_r"] == pytest.approx(tau) and row["spearman_r"] == pytest.approx(rho)
    assert row["pearson_r"] < -0.99
    assert len(pairs) == 15  # 6 classes -> 15 pairs


def test_slopes_are_classed_ascending_descending_flat() -> None:
    slopes = class_slopes(planted_table()).set_index("class")
    assert slopes.loc["up1", "trend"] == "ascending" and slopes.loc["up2", "trend"] == "ascending"
    assert slopes.loc["down", "trend"] == "descending"
    assert slopes.loc["up1", "slope"] == pytest.approx(0.3, abs=0.01)
    assert set(slopes.loc[["flat1", "flat2", "flat3"], "trend"]) == {"flat"}


def test_tiny_but_significant_change_counts_as_flat() -> None:
    t = planted_table()
    t = t[t["class"].isin(["up1", "flat1"])].copy()
    tiny = t["class"] == "flat1"
    t.loc[tiny, "accuracy"] = 0.6 + 0.005 * t.loc[tiny, "value"]  # exact line: p ~ 0, change 0.5 points
    slopes = class_slopes(t).set_index("class")
    assert slopes.loc["flat1", "p"] < 1e-6
    assert slopes.loc["flat1", "trend"] == "flat"
    assert class_slopes(t, flat_change=0.001).set_index("class").loc["flat1", "trend"] == "ascending"


def test_no_opposites_when_all_classes_move_together() -> None:
    t = planted_table()
    t = t[t["class"] != "down"]
    assert opposite_ratio(pair_correlations(t)) == 0.0


def test_table_errors_are_plain() -> None:
    with pytest.raises(ValueError, match="lacks the column"):
        bias_report(pd.DataFrame({"value": [1], "class": ["a"]}))
    with pytest.raises(ValueError, match="must be numbers"):
        class_curves(pd.DataFrame({"value": ["x"], "seed": [0], "class": ["a"], "accuracy": [0.5]}))
