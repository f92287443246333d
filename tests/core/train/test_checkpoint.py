"""Checkpoints: safe loading only, plain errors, half-precision export, encoder rebuilding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ssrl_core.models.encoder_file import EncoderFacts, find_checkpoint, load_checkpoint, load_encoder
from ssrl_core.models.fit import check_channels
from ssrl_core.train import load_config, train
from ssrl_core.train.checkpoint import export_checkpoint, save_checkpoint


class Payload:
    """A custom class: its pickle must never be loaded."""

    def __init__(self) -> None:
        self.x = 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(1)
    np.savez(base / "cells.npz", images=rng.integers(0, 60000, (16, 24, 24, 3), dtype=np.uint16))
    cfg = load_config(None, [f"data.name={base / 'cells.npz'}", "recipes=[microscopy-set-a]", "method.name=byol",
                             "backbone=tiny_cnn", "crop_size=24", "batch_size=8", "max_steps=2", "epochs=1",
                             "cpu_threads=1"])
    train(cfg, base / "run")
    return base / "run" / "checkpoint.pt"


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "evil.pt"
    torch.save({"format": "ssrl-checkpoint", "model": {}, "payload": Payload()}, bad)
    with pytest.raises(ValueError, match="refused: it holds pickled Python objects"):
        load_checkpoint(bad)
    with pytest.raises(ValueError, match="refused"):
        load_encoder(bad)


def test_foreign_and_damaged_files_are_explained(tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not a checkpoint written by ssrl"):
        load_checkpoint(other)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(broken)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "absent.pt")


def test_checkpoint_contents_are_plain_and_complete(trained: Path) -> None:
    ck = load_checkpoint(trained)
    for key in ("model", "optimizer", "config", "method", "backbone", "in_channels", "crop_size", "recipes",
                "channel_ranges", "versions", "metrics", "epoch", "step", "rng"):
        assert key in ck, key
    assert ck["method"] == "byol" and ck["in_channels"] == 3 and ck["step"] == 2
    lo, hi = ck["channel_ranges"]["lo"], ck["channel_ranges"]["hi"]
    assert len(lo) == 3 and all(h > low for low, h in zip(lo, hi))
    assert isinstance(ck["versions"]["torch"], str) and "loss" in ck["metrics"]


def test_save_refuses_non_plain_values(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(tmp_path / "x.pt", {"model": {}, "odd": {1, 2}})
    assert not (tmp_path / "x.pt").exists()
    save_checkpoint(tmp_path / "y.pt", {"model": {}, "n": np.int64(3), "a": np.arange(3)})
    ck = load_checkpoint(tmp_path / "y.pt")
    assert ck["n"] == 3 and torch.equal(ck["a"], torch.arange(3))


def test_half_export_is_smaller_and_gives_the_same_features(trained: Path, tmp_path: Path) -> None:
    small = export_checkpoint(trained, tmp_path / "small.pt", half=True)
    assert small.stat().st_size < trained.stat().st_size / 2
    full, info = load_encoder(trained)
    half, hinfo = load_encoder(small)
    assert hinfo["half"] is True and hinfo["channel_ranges"] == info["channel_ranges"]
    x = torch.rand(4, 3, 24, 24)
    with torch.no_grad():
        a, b = full(x), half(x)
    assert b.dtype == torch.float32 and torch.allclose(a, b, atol=2e-2, rtol=2e-2)


def test_architecture_and_channel_mismatch_are_plain(trained: Path, tmp_path: Path) -> None:
    ck = load_checkpoint(trained)
    ck["backbone"] = "vgg11"
    save_checkpoint(tmp_path / "wrong.pt", ck)
    with pytest.raises(ValueError, match="does not match a vgg11 with 3 input channel"):
        load_encoder(tmp_path / "wrong.pt")
    ck = load_checkpoint(trained)
    ck["in_channels"] = 1
    save_checkpoint(tmp_path / "wrong_c.pt", ck)
    with pytest.raises(ValueError, match="channel count differs"):
        load_encoder(tmp_path / "wrong_c.pt")
    _, info = load_encoder(trained)
    check_channels(info, 3)
    with pytest.raises(ValueError, match="trained on 3-channel images"):
        check_channels(info, 1)


def test_encoder_facts_are_what_training_wrote(trained: Path, tmp_path: Path) -> None:
    """The one contract: a trained checkpoint's facts round-trip through to_dict; a run folder
    resolves to its checkpoint.pt; a file without a backbone is refused in words."""
    ck = load_checkpoint(trained)
    facts = EncoderFacts.of(ck)
    assert (facts.backbone, facts.in_channels, facts.crop_size) == (ck["backbone"], 3, ck["crop_size"])
    assert EncoderFacts.of(facts.to_dict()) == facts
    lo, hi = facts.ranges()
    assert lo.dtype == np.float32 and lo.shape == (3,) and (hi > lo).all()
    assert find_checkpoint(trained.parent) == trained
    with pytest.raises(FileNotFoundError, match="holds no checkpoint.pt"):
        find_checkpoint(tmp_path)
    del ck["backbone"]
    save_checkpoint(tmp_path / "nameless.pt", ck)
    with pytest.raises(ValueError, match="does not say which backbone"):
        load_encoder(tmp_path / "nameless.pt")
