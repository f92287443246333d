"""The table of data sources (`ssrl_core.data.sources`, issue 26 item 5): every source lists, gives
its facts and loads by name, with its channel names from the table when its files store none; the
CLI lists the table and refuses a download option a source does not take."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssrl_core.cli import main
from ssrl_core.data import registry, sources

MITO_NAME = "PLLT0017_19--ex2005_07_06--sp2005_04_12--tt19--c5___P00365_01___T00064___X0746___Y0848____img.png"


def _tiny_unnamed(path, n_channels: int, n: int = 6, **columns) -> None:
    """A tiny npz in the old style: pixels and metadata, no `channels` array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(0).integers(0, 200, (n, 16, 16, n_channels), dtype=np.uint8)
    np.savez(path, images=images, **columns)


@pytest.fixture
def every_source_here(tmp_path, monkeypatch):
    """A data folder and a shared folder holding a tiny file at every location the table declares."""
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "shared"))
    registry.clear_cache()
    for src in sources.SOURCES:
        for root, rel in src.files:
            if root == "samples":
                continue  # shipped in the package: the real file
            columns = {"name": np.array([MITO_NAME] * 6)} if src is sources.MITOCHECK else {}
            if src is sources.BBBC021:
                columns = {"plate": np.array(["p1"] * 6), "compound": np.array(["DMSO", "taxol"] * 3)}
            _tiny_unnamed(tmp_path / root / rel, len(src.channels), **columns)
    yield tmp_path
    registry.clear_cache()


def _names(src: sources.Source) -> list[str]:
    """The dataset names a source's files are listed under (one per file, or its one name)."""
    if src.builtin is not None or src.one_name:
        return [src.name]
    return sorted({p.stem for p in src.locations()})


def test_every_source_lists_gives_info_and_loads(every_source_here):
    listed = {d["name"]: d for d in registry.list_datasets(include_broken=True)}
    for src in sources.SOURCES:
        for name in _names(src):
            info = listed[name]
            assert "error" not in info and info["channel_names"] == list(src.channels), (name, info)
            assert "note" not in info, name  # the table names the channels: no generic ch0..
            assert sources.of_dataset(name) is src, name
            if src.builtin is None:
                assert sources.of_file(info["path"]) is src, name
                assert src.info()["channel_names"] == list(src.channels)
            if src is sources.MNIST:
                continue  # the 5,000 digits load in tests/test_data_registry.py
            cells = registry.load_dataset(name)
            assert cells.channels == list(src.channels) and len(cells) > 0, name
            assert set(cells.meta["source"].astype(str)) <= {src.name, "mitocheck", "stardist_dsb2018", "bbbc007"}
    one = listed["cifar10"]
    assert one["path"].startswith(str(every_source_here / "data"))  # the data folder's file wins over shared
    assert [d["name"] for d in registry.list_datasets()].count("cifar10") == 1
    mito = registry.load_dataset("mitocheck_phenotype_crops")
    assert set(mito.meta["plate"]) == {"PLLT0017_19"} and set(mito.meta["well"]) == {"P00365"}  # from the names
    bbbc = registry.load_dataset("bbbc021_week4_dmso_cycloheximide")
    assert list(bbbc.meta["label"]) == ["DMSO", "taxol"] * 3 and set(bbbc.meta["source"]) == {"bbbc021"}


def test_a_file_elsewhere_is_not_taken_for_a_source(every_source_here):
    """The same file name outside the declared places is a plain npz: generic names and a note."""
    other = every_source_here / "data" / "sub" / "cifar10_subset.npz"
    _tiny_unnamed(other, 3)
    assert sources.of_file(other) is None
    info = registry.dataset_info(other)
    assert info["channel_names"] == ["ch0", "ch1", "ch2"] and "no channel names" in info["note"]
    assert registry.load_dataset(other).channels == ["ch0", "ch1", "ch2"]


def test_a_missing_source_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "none"))
    registry.clear_cache()
    for src in (sources.CIFAR10, sources.DEMO):
        with pytest.raises(FileNotFoundError, match="ssrl (data download cifar10|setup)"):
            registry.load_dataset(src.name)
    with pytest.raises(FileNotFoundError, match="no dataset named 'mitocheck'.*`ssrl data download mitocheck`"):
        registry.load_dataset("mitocheck")


def test_download_refuses_options_of_another_source(tmp_path):
    with pytest.raises(ValueError, match=r"--plates does not apply to mitocheck \(it takes: --base-url"):
        sources.download("mitocheck", tmp_path, plates=["Week1_22123"])
    with pytest.raises(ValueError, match="no data source named 'imagenet'"):
        sources.download("imagenet", tmp_path)
    with pytest.raises(ValueError, match="mitocheck_demo has no download"):
        sources.download("mitocheck_demo", tmp_path)
    assert main(["data", "download", "mitocheck", "--plates", "x", "--dest", str(tmp_path)]) == 2


def test_cli_lists_the_table_and_notes_unnamed_channels(every_source_here, capsys):
    assert main(["data", "sources", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["sources"]
    assert [r["name"] for r in rows] == [s.name for s in sources.SOURCES]
    assert all(r["description"] and r["channels"] for r in rows)
    assert {r["name"] for r in rows if r["download"]} == {"mitocheck", "bbbc021", "cifar10", "demo_nuclei"}
    _tiny_unnamed(every_source_here / "data" / "old.npz", 2)
    assert main(["data", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("old "))
    assert "ch0, ch1 (names not stored)" in row
    assert main(["data", "info", "old"]) == 0
    assert "note: this file stores no channel names" in capsys.readouterr().out
