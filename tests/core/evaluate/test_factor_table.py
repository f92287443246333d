"""`evaluate.factor_table`: one factor table for the Bias page and `ssrl factors`, measured on the
whole dataset's intensity scale (a cell's brightness factor does not depend on the subset)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet, channel_ranges
from ssrl_core.evaluate import factor_probe, factor_table, nuisance_factors


def _cells(n: int = 60) -> CellSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 40, (n, 24, 24, 2), dtype=np.uint8)
    images[:, 8:16, 8:16, 0] += np.linspace(60, 200, n, dtype=np.uint8)[:, None, None]  # brighter nuclei
    meta = pd.DataFrame({"label": np.tile(["a", "b", "c"], n // 3), "plate": np.repeat(["p1", "p2"], n // 2)})
    return CellSet(images, ["DNA", "Actin"], meta)


def test_subset_factors_use_the_whole_dataset_scale() -> None:
    cells = _cells()
    index = np.arange(40, 60)  # the brightest third: its own range would differ from the dataset's
    feats = np.random.default_rng(1).normal(size=(len(index), 8)).astype(np.float32)
    meta = cells.meta.iloc[index].reset_index(drop=True)
    table = factor_table(feats, meta, cells, index)
    lo, hi = channel_ranges(cells.images)
    expected = factor_probe(feats, meta, nuisance_factors(cells.subset(index), lo=lo, hi=hi))
    pd.testing.assert_frame_equal(table, expected)
    sub = cells.subset(index)
    own = nuisance_factors(sub, lo=channel_ranges(sub.images)[0], hi=channel_ranges(sub.images)[1])  # other numbers
    whole_scale = nuisance_factors(sub)  # a subset keeps its dataset's scale by default
    whole = nuisance_factors(cells.subset(index), lo=lo, hi=hi)
    assert not np.allclose(own["total_intensity_DNA"], whole["total_intensity_DNA"])
    assert whole_scale.equals(whole)  # a subset keeps its dataset's scale
    assert {"label", "total_intensity_DNA"} <= set(table["factor"])


def test_without_cells_only_metadata_factors() -> None:
    cells = _cells()
    feats = np.random.default_rng(2).normal(size=(len(cells), 4)).astype(np.float32)
    table = factor_table(feats, cells.meta)
    assert set(table["kind"]) == {"label", "batch"}
