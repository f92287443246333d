"""Hand labels (`ssrl_core.data.annotations`) and group differences (`evaluate.group_diff`) on real files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssrl_core.data import annotations as ann
from ssrl_core.data.cellset import CellSet
from ssrl_core.evaluate import group_diff


@pytest.fixture()
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def _cells(n: int = 12) -> CellSet:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 1000, size=(n, 24, 24, 2)).astype(np.uint16)
    return CellSet(images, ["DAPI", "Actin"], pd.DataFrame({"compound": ["DMSO"] * n}), "toy")


def test_labels_are_saved_merged_and_replaced(data_home) -> None:
    cells = _cells()
    ann.label_cells("toy", cells, [1, 2, 3], "my phenotype", "mitotic")
    ann.label_cells("toy", cells, [3, 4], "my phenotype", "debris")  # cell 3 relabelled
    assert ann.annotations_file("toy").is_file() and ann.annotations_file("toy").parent == data_home / "annotations"
    merged = ann.with_annotations("toy", cells)
    assert list(merged.meta["my phenotype"]) == ["", "mitotic", "mitotic", "debris", "debris"] + [""] * 7
    assert merged.images is cells.images  # pixels are not copied
    assert "my phenotype" not in cells.meta.columns  # the source set is not changed
    ann.label_cells("toy", cells, [1], "my phenotype", "")  # "" removes a label
    assert list(ann.with_annotations("toy", cells).meta["my phenotype"])[:3] == ["", "", "mitotic"]
    ann.drop_column("toy", "my phenotype")
    assert "my phenotype" not in ann.with_annotations("toy", cells).meta.columns


def test_bad_names_are_refused_in_plain_words(data_home) -> None:
    cells = _cells()
    with pytest.raises(ann.AnnotationError, match="already has a column called 'compound'"):
        ann.label_cells("toy", cells, [0], "compound", "x")
    with pytest.raises(ann.AnnotationError, match="letter first"):
        ann.label_cells("toy", cells, [0], "../etc", "x")
    with pytest.raises(ann.AnnotationError, match="between 0 and 11"):
        ann.label_cells("toy", cells, [12], "ok", "x")
    assert not ann.annotations_file("toy").exists()  # nothing half-written


def test_labels_of_a_path_dataset_do_not_collide_with_a_name(data_home, tmp_path) -> None:
    assert ann.annotations_file(tmp_path / "a" / "toy.npz") != ann.annotations_file(tmp_path / "b" / "toy.npz")


def test_group_differences_find_the_feature_that_was_changed() -> None:
    rng = np.random.default_rng(1)
    n = 40
    images = rng.integers(100, 200, size=(n, 32, 32, 2)).astype(np.uint16)
    images[n // 2:, ..., 1] += 600  # group B: much brighter Actin, same DAPI
    cells = CellSet(images, ["DAPI", "Actin"], pd.DataFrame(index=range(n)), "toy")
    index = np.arange(n)
    table = group_diff.measurements(cells, index)
    in_a = index < n // 2
    diff = group_diff.compare_groups(table, in_a, ~in_a, cells.channels)
    top = diff.iloc[0]
    assert top["measurement"] == "Actin: mean intensity" and top["effect size (d)"] < -0.8
    assert top["size"] == "large" and top["p-value"] < 1e-6
    a_best, b_best = group_diff.best_showing(table, in_a, ~in_a, top["column"], n=3)
    assert all(c < n // 2 for c in a_best) and all(c >= n // 2 for c in b_best)
    assert "Actin: mean intensity (lower in A, large)" in group_diff.summary(diff)
    with pytest.raises(ValueError):
        group_diff.compare_groups(table, in_a, np.zeros(n, bool))


def test_every_reader_of_a_dataset_sees_the_hand_labels(data_home) -> None:
    """load_dataset (used by the CLI, training filters and the app) merges the labels."""
    from ssrl_core.data import registry
    from ssrl_core.data.npz import save_npz
    from ssrl_core.train.config import DataConfig
    from ssrl_core.train.data import load_cells

    data_home.mkdir(parents=True, exist_ok=True)
    save_npz(_cells(), data_home / "toy.npz")
    registry.clear_cache()
    ann.label_cells("toy", registry.load_dataset("toy"), [2, 5, 7], "picked", "yes")
    assert list(registry.load_dataset("toy").meta["picked"]).count("yes") == 3
    chosen = load_cells(DataConfig(name="toy", filter={"picked": ["yes"]}))  # a training filter on the label
    assert len(chosen) == 3
