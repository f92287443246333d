"""Every shipped config trains for 2 steps (tiny backbone, tiny real files), and one on real BBBC021."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssrl_core.models.encoder_file import load_checkpoint
from ssrl_core.train import load_config, train

from app_support import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
FAST = ["cpu_threads=1", "backbone=tiny_cnn", "crop_size=28", "batch_size=8", "max_steps=2", "log_every=1", "warmup_epochs=0",
        "method.params.hidden_dim=64", "method.params.out_dim=32"]


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    base = tmp_path_factory.mktemp("cfgdata")
    rng = np.random.default_rng(4)
    one = base / "one.npz"
    np.savez(one, images=rng.integers(0, 255, (16, 32, 32), dtype=np.uint8), label=np.arange(16) % 4)
    three = base / "three.npz"
    np.savez(three, images=rng.integers(0, 9000, (24, 32, 32, 3), dtype=np.uint16),
             compound=np.array(["cyclohexamide", "DMSO", "taxol"] * 8), plate=np.array(["Week4_27801"] * 24))
    return {1: one, 3: three}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_trains_two_steps(path: Path, tiny_sets: dict[int, Path], tmp_path: Path) -> None:
    raw = load_config(path)
    channels = 3 if "bbbc021" in raw.data.name else 1
    cfg = load_config(path, [f"data.name={tiny_sets[channels]}", *FAST])
    out = train(cfg, tmp_path / "run")
    assert out["state"] == "finished" and out["step"] == 2
    assert np.isfinite(out["metrics"]["loss"])
    if len(cfg.recipes) > 1:
        assert sum(k.endswith(".loss") for k in out["metrics"]) == len(cfg.recipes)
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ck["method"] == raw.method.name and ck["in_channels"] == channels


@pytest.mark.slow
def test_real_bbbc021_cycloheximide_config(shared_data: Path, tmp_path: Path) -> None:
    cfg = load_config(ROOT / "configs" / "bbbc021_cycloheximide_a_plus_b.yaml",
                      [f"data.name={shared_data / 'bbbc021' / 'bbbc021_week4_dmso_cycloheximide.npz'}", *FAST,
                       "data.max_cells=64"])
    out = train(cfg, tmp_path / "run")
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert out["state"] == "finished" and ck["cells"] == 64 and ck["in_channels"] == 3
    assert ck["channels"] == ["DAPI", "Actin", "Tubulin"] and max(ck["channel_ranges"]["hi"]) > 255  # uint16 scale
