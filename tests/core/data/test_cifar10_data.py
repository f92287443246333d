"""CIFAR-10 source: the release's pickle batches parsed offline, the registry name `cifar10`."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from ssrl_core.data import cifar10, registry

SHARED_FILE = "cifar10/cifar10_subset.npz"  # where the source table declares the shared subset


def _batch(path: Path, labels: list[int], seed: int) -> np.ndarray:
    """A batch in the release's layout: bytes keys, (N, 3072) uint8 rows of r, g, b planes."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    names = [f"img_{seed}_{i}.png".encode() for i in range(len(labels))]
    with open(path, "wb") as fh:
        pickle.dump({b"batch_label": b"fake", b"labels": labels, b"data": data, b"filenames": names}, fh)
    return data


def _fake_release(root: Path) -> dict[str, np.ndarray]:
    folder = root / cifar10.BATCH_FOLDER
    folder.mkdir(parents=True)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [c.encode() for c in cifar10.CLASSES], b"num_vis": 3072}, fh)
    return {"train1": _batch(folder / "data_batch_1", [0, 1, 2, 3, 9], 1),
            "train2": _batch(folder / "data_batch_2", [4, 5, 6], 2),
            "test": _batch(folder / "test_batch", [7, 8, 3, 3], 3)}


def test_release_batches_parse_to_rgb_images_with_label_and_split(tmp_path):
    raw = _fake_release(tmp_path)
    cells = cifar10.read_batch_folder(tmp_path)
    assert len(cells) == 12 and cells.shape == (32, 32, 3) and cells.channels == ["r", "g", "b"]
    assert cells.meta["split"].tolist() == ["train"] * 8 + ["test"] * 4
    assert cells.meta["label"].tolist()[:5] == ["airplane", "automobile", "bird", "cat", "truck"]
    assert cells.meta["label"].tolist()[-4:] == ["horse", "ship", "cat", "cat"]
    # pixel (row 0, col 1) of the first image: red plane byte 1, green plane 1024 + 1, blue 2048 + 1
    first = raw["train1"][0]
    assert cells.images[0, 0, 1].tolist() == [first[1], first[1025], first[2049]]
    assert cells.images[11, 31, 31].tolist() == [raw["test"][3][1023], raw["test"][3][2047], raw["test"][3][3071]]
    assert cells.meta["name"].iloc[8] == "test/horse/img_3_0.png"


def test_refuses_a_batch_that_would_run_code(tmp_path):
    folder = tmp_path / cifar10.BATCH_FOLDER
    folder.mkdir()
    _batch(folder / "data_batch_1", [0, 1], 1)

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": [0]}, fh)
    with pytest.raises(ValueError, match="refused"):
        cifar10.read_batch_folder(folder)


def test_not_a_batch_folder_is_said_plainly(tmp_path):
    with pytest.raises(FileNotFoundError, match="test_batch"):
        cifar10.read_batch_folder(tmp_path)


def test_built_npz_is_listed_and_loaded_as_cifar10(tmp_path, monkeypatch):
    _fake_release(tmp_path / "dl")
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no_shared"))
    registry.clear_cache()
    out = cifar10.build_npz(tmp_path / "dl")
    assert out == tmp_path / "data" / "cifar10.npz"
    with np.load(out) as raw:
        assert [str(c) for c in raw["channels"]] == ["r", "g", "b"]  # written into the file
    listed = {d["name"]: d for d in registry.list_datasets()}
    assert listed["cifar10"]["cells"] == 12 and listed["cifar10"]["channel_names"] == ["r", "g", "b"]
    assert {"label", "split"} <= set(listed["cifar10"]["columns"])
    cells = registry.load_dataset("cifar10")
    assert cells.name == "cifar10" and cells.channels == ["r", "g", "b"]
    assert sorted(cells.meta["split"].unique()) == ["test", "train"]
    registry.clear_cache()


def test_shared_subset_is_listed_once_as_cifar10(shared_data, monkeypatch, tmp_path):
    if not (shared_data / SHARED_FILE).is_file():
        pytest.skip("the shared CIFAR-10 subset is absent")
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "empty"))
    names = [d["name"] for d in registry.list_datasets()]
    assert names.count("cifar10") == 1 and "cifar10_subset" not in names
    info = next(d for d in registry.list_datasets() if d["name"] == "cifar10")
    assert info["cells"] == 30000 and info["channel_names"] == ["r", "g", "b"] and info["kind"] == "shared"
    assert registry.resolve("cifar10") == shared_data / SHARED_FILE
