"""The on-disk cell store (`ssrl_core.data.store`): lazy reads equal the in-memory path bit for bit,
an interrupted write resumes to the same store, and the registry lists stores beside npz files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssrl_core.data.cellset import CellSet, channel_ranges
from ssrl_core.data.npz import load_npz, save_npz
from ssrl_core.data.store import (
    StoreError,
    StoreWriter,
    is_store,
    open_store,
    read_manifest,
    read_meta,
    save_store,
    store_header,
)


def _cells(n: int = 3000, side: int = 24, seed: int = 0) -> CellSet:
    """Small uint16 two-channel crops with the usual metadata column kinds (text, int, float)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 4096, size=(n, side, side, 2), dtype=np.uint16)
    meta = pd.DataFrame({"compound": rng.choice(["DMSO", "taxol", "nocodazole"], n),
                         "plate": rng.choice(["P1", "P2"], n), "site": rng.integers(1, 10, n),
                         "concentration": rng.choice([0.0, 0.1, 1.0], n)})
    return CellSet(images, ["DNA", "Actin"], meta, name="synthetic")


@pytest.fixture
def stored(tmp_path):
    cells = _cells()
    path = save_store(cells, tmp_path / "synthetic.cells", chunk_cells=256)  # 12 chunks, the last short
    return cells, path


def test_lazy_reads_equal_in_memory_bit_for_bit(stored):
    cells, path = stored
    lazy = open_store(path, lazy=True)
    assert lazy.lazy and not cells.lazy and len(lazy) == len(cells) and lazy.shape == cells.shape
    assert lazy.images.dtype == cells.images.dtype and lazy.channels == cells.channels
    pd.testing.assert_frame_equal(lazy.meta, cells.meta)
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(cells))[:700]  # unsorted, across chunk borders
    mask = cells.meta["compound"].eq("taxol").to_numpy()
    for key in (slice(None), slice(250, 530), slice(5, 2900, 7), idx, np.sort(idx), mask, [3, 3, 0]):
        np.testing.assert_array_equal(lazy.images[key], cells.images[key])
    np.testing.assert_array_equal(lazy.images[-1], cells.images[-1])
    np.testing.assert_array_equal(lazy.images[10:20, 2:5, :, 1], cells.images[10:20, 2:5, :, 1])
    np.testing.assert_array_equal(np.asarray(lazy.images), cells.images)
    sub, ref = lazy.where(compound="taxol", plate="P2"), cells.where(compound="taxol", plate="P2")
    assert sub.lazy and len(sub) == len(ref) > 0
    np.testing.assert_array_equal(sub.images[:], ref.images)
    np.testing.assert_array_equal(sub.subset(np.arange(len(sub))[::-3]).images[:], ref.images[::-3])
    pd.testing.assert_frame_equal(sub.meta, ref.meta)
    for a, b in zip(channel_ranges(lazy.images), channel_ranges(cells.images)):
        np.testing.assert_array_equal(a, b)
    got = np.concatenate(list(lazy.batches(333)))
    np.testing.assert_array_equal(got, cells.images)
    with pytest.raises(IndexError):
        lazy.images[len(cells)]


def test_training_views_and_embedding_equal_in_memory(stored, monkeypatch, tmp_path, one_torch_thread):
    from ssrl_core.augment import get_preset
    from ssrl_core.evaluate.embedding import embed_with_info
    from ssrl_core.train.data import UnitFloatImages, ViewPairs, prepare_images

    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    cells, path = stored
    lazy = open_store(path, lazy=True)
    small_ref, small_lazy = cells.subset(np.arange(0, 3000, 5)), lazy.subset(np.arange(0, 3000, 5))
    scaled_ref, lo, hi = prepare_images(small_ref)
    scaled_lazy, lo2, hi2 = prepare_images(small_lazy)
    assert isinstance(scaled_lazy, UnitFloatImages) and isinstance(scaled_ref, np.ndarray)
    np.testing.assert_array_equal(lo, lo2)
    np.testing.assert_array_equal(scaled_lazy[7], scaled_ref[7])
    recipes = [get_preset("microscopy-set-a")]
    a, b = ViewPairs(scaled_ref, recipes, 16, seed=3), ViewPairs(scaled_lazy, recipes, 16, seed=3)
    for i in (0, 17, 599):
        for va, vb in zip(a[i], b[i]):
            assert np.array_equal(va.numpy(), vb.numpy())
    fa, ia = embed_with_info(small_ref, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=64)
    fb, ib = embed_with_info(small_lazy, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=64)
    np.testing.assert_array_equal(fa, fb)
    assert not ib["cached"] and ia["key"] != ib["key"]  # a store is named by its chunk hashes, not read
    again, info = embed_with_info(small_lazy, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=64)
    assert info["cached"] and np.array_equal(again, fb)


def test_interrupted_writer_resumes_without_losing_or_duplicating(tmp_path):
    cells = _cells(1000, 16)
    units = np.array_split(np.arange(len(cells)), 23)  # units of ~43 cells: cut by chunk ends of 100
    ref = StoreWriter(tmp_path / "ref.cells", cells.channels, params={"x": 1}, chunk_cells=100)
    for u, rows in enumerate(units):
        ref.add(cells.images[rows], cells.meta.iloc[rows], unit=f"u{u}")
    ref.close()
    w = StoreWriter(tmp_path / "cut.cells", cells.channels, params={"x": 1}, chunk_cells=100)
    for u, rows in enumerate(units[:12]):  # "killed" after 12 units, 5 chunks on disk, the buffer lost
        w.add(cells.images[rows], cells.meta.iloc[rows], unit=f"u{u}")
    man = read_manifest(tmp_path / "cut.cells")
    assert not man["complete"] and man["cells"] == 500 and man["partial"]["cells"] > 0
    with pytest.raises(StoreError, match="did not finish"):
        store_header(tmp_path / "cut.cells")
    with pytest.raises(StoreError, match="other settings"):
        StoreWriter(tmp_path / "cut.cells", cells.channels, params={"x": 2})
    again = StoreWriter(tmp_path / "cut.cells", cells.channels, params={"x": 1})
    assert again.resumed
    skipped = 0
    for u, rows in enumerate(units):
        skipped += again.skip(f"u{u}")
        again.add(cells.images[rows], cells.meta.iloc[rows], unit=f"u{u}")
    assert skipped == len(man["units_done"]) > 0
    again.close()
    a, b = open_store(tmp_path / "ref.cells", lazy=True), open_store(tmp_path / "cut.cells", lazy=True)
    np.testing.assert_array_equal(a.images[:], cells.images)
    np.testing.assert_array_equal(b.images[:], cells.images)
    pd.testing.assert_frame_equal(b.meta, cells.meta)
    with pytest.raises(StoreError, match="finished"):
        StoreWriter(tmp_path / "cut.cells", cells.channels, params={"x": 1})


def test_registry_lists_and_loads_stores_beside_npz(tmp_path, monkeypatch):
    from ssrl_core.data import registry

    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    registry.clear_cache()
    cells = _cells(600, 20)
    save_store(cells, tmp_path / "data" / "screen.cells")
    save_npz(cells, tmp_path / "data" / "small.npz")
    w = StoreWriter(tmp_path / "data" / "halfway.cells", cells.channels, chunk_cells=64)
    w.add(cells.images[:200], cells.meta.iloc[:200])
    listed = {d["name"]: d for d in registry.list_datasets(include_broken=True)}
    assert listed["screen"]["cells"] == 600 and listed["screen"]["format"] == "store"
    assert listed["screen"]["channel_names"] == ["DNA", "Actin"] and listed["screen"]["dtype"] == "uint16"
    assert "resume" in listed["halfway"]["error"]
    assert "halfway" not in {d["name"] for d in registry.list_datasets()}
    got = registry.load_dataset("screen")
    assert not got.lazy  # a small store is read into memory: every part of the product works on it
    np.testing.assert_array_equal(got.images, load_npz(tmp_path / "data" / "small.npz").images)
    monkeypatch.setattr("ssrl_core.data.store.IN_MEMORY_BYTES", 1000)
    registry.clear_cache()
    assert registry.load_dataset("screen").lazy
    assert list(read_meta(tmp_path / "data" / "screen.cells", ["plate"]).columns) == ["plate"]
    assert is_store(tmp_path / "data" / "screen.cells") and not is_store(tmp_path / "data")
    registry.clear_cache()


def test_views_share_one_descriptor_per_chunk_and_pickle(stored):
    import gc
    import os
    import pickle

    cells, path = stored
    before = len(os.listdir("/proc/self/fd"))
    lazy = open_store(path, lazy=True)
    views = [lazy.subset(np.arange(i, len(cells), 7)) for i in range(40)]
    for v in views:
        v.images[:]
    assert len(os.listdir("/proc/self/fd")) - before == 12  # 12 chunks, however many views
    copy = pickle.loads(pickle.dumps(views[5].images))  # as a spawned DataLoader worker gets it
    np.testing.assert_array_equal(copy[:], cells.images[5::7])
    del lazy, views, v, copy
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before
