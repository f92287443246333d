"""Registry: datasets found by name in the data folder, the shared data and built-ins."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from ssrl_core.data import registry
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.npz import save_npz


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no_shared"))
    registry.clear_cache()
    save_npz(CellSet(np.zeros((7, 16, 16, 2), np.uint16), ["DAPI", "GFP"], name="mine"), tmp_path / "data" / "mine.npz")
    (tmp_path / "data" / "sub").mkdir()
    save_npz(CellSet(np.zeros((3, 16, 16, 1), np.uint8), ["DNA"]), tmp_path / "data" / "sub" / "nested.npz")
    (tmp_path / "data" / "broken.npz").write_bytes(b"not a zip")
    return tmp_path / "data"


def test_list_reads_headers_and_always_offers_mnist(data_dir):
    sets = {d["name"]: d for d in registry.list_datasets()}
    assert set(sets) == {"mine", "nested", "mnist-5k", "mitocheck_demo"}  # the shipped sample is always there
    assert sets["mitocheck_demo"]["kind"] == "sample"
    mine = sets["mine"]
    assert (mine["cells"], mine["height"], mine["width"], mine["channels"]) == (7, 16, 16, 2)
    assert mine["channel_names"] == ["DAPI", "GFP"] and mine["dtype"] == "uint16" and mine["kind"] == "npz"
    broken = [d for d in registry.list_datasets(include_broken=True) if d["name"] == "broken"]
    assert broken and broken[0]["error"] == "broken.npz is a text file (it begins 'not a zip'), not an .npz archive"


def test_load_by_name_path_and_folder_with_cache(data_dir, tmp_path):
    a = registry.load_dataset("mine")
    assert len(a) == 7 and a.channels == ["DAPI", "GFP"]
    assert registry.load_dataset("mine") is a  # cached
    assert len(registry.load_dataset(str(data_dir / "sub" / "nested.npz"))) == 3
    folder = tmp_path / "crops"
    folder.mkdir()
    for i in range(2):
        tifffile.imwrite(folder / f"{i}.tif", np.full((16, 16), i, np.uint8))
    assert len(registry.load_dataset(folder)) == 2
    with pytest.raises(FileNotFoundError, match="no dataset named 'nope'.*mine"):
        registry.load_dataset("nope")
    with pytest.raises(FileNotFoundError, match="ssrl setup"):
        registry.load_dataset("demo_nuclei")


def test_mnist5k_is_real_digits(data_dir):
    cells = registry.load_dataset("mnist-5k")
    assert len(cells) == 5000 and cells.shape == (28, 28, 1) and cells.images.dtype == np.uint8
    assert cells.meta["label"].value_counts().to_dict() == {d: 500 for d in range(10)}
    assert cells.images.max() == 255 and 0.05 < (cells.images > 0).mean() < 0.4


def test_shared_data_is_searched(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(shared_data))
    names = {d["name"]: d for d in registry.list_datasets()}
    assert names["mitocheck_phenotype_crops"]["cells"] == 3277
    assert names["bbbc021_week4_dmso_cycloheximide"]["channel_names"] == ["DAPI", "Actin", "Tubulin"]
