"""Parameter sweep orchestration: real (tiny) training runs, resumable results, statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from ssrl_core.sweeps.runner import load_sweep, read_results, run_sweep, set_parameter, sweep_from_dict

BASE = {"name": "tiny", "data": {"name": "mnist-5k", "max_cells": 120}, "recipes": ["mnist-set1"],
        "method": "simclr", "backbone": "tiny_cnn", "crop_size": 28, "epochs": 1, "batch_size": 32,
        "max_steps": 2, "device": "cpu", "log_every": 1}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


def test_checkpoint_embedding_uses_stored_ranges_and_crop(tmp_path) -> None:
    """Embedding with a trained checkpoint equals a plain forward pass with its stored ranges."""
    import torch

    from ssrl_core.data.cellset import CellSet, to_unit_float
    from ssrl_core.evaluate.embedding import embed_with_info
    from ssrl_core.models.encoder_file import load_encoder
    from ssrl_core.train import load_config, train

    run_dir = tmp_path / "run"
    train(load_config(None, [], base=dict(BASE, max_steps=1)), run_dir)
    encoder, info = load_encoder(run_dir / "checkpoint.pt")
    lo = np.asarray(info["channel_ranges"]["lo"], np.float32)
    hi = np.asarray(info["channel_ranges"]["hi"], np.float32)
    rng = np.random.default_rng(0)
    cells = CellSet((rng.random((7, 28, 28, 1)) * 300).astype(np.uint16), ["grey"])  # other dtype, own range
    feats, meta = embed_with_info(cells, str(run_dir), precision="fp32")  # a run folder works too
    with torch.inference_mode():
        ref = encoder(torch.from_numpy(to_unit_float(cells.images, lo, hi)).permute(0, 3, 1, 2)).numpy()
    assert np.allclose(feats, ref, atol=1e-5)
    assert meta["kind"] == "checkpoint" and meta["crop_size"] == 28 and meta["lo"] == lo.tolist()
    big = CellSet(np.repeat(np.repeat(cells.images, 2, axis=1), 2, axis=2), ["grey"])  # 56 px -> resized to 28
    assert embed_with_info(big, str(run_dir / "checkpoint.pt"))[0].shape == feats.shape
    assert embed_with_info(cells, str(run_dir / "checkpoint.pt"), precision="fp32")[1]["cached"]
    with pytest.raises(ValueError, match="channel"):
        embed_with_info(CellSet(np.zeros((2, 28, 28, 2), np.uint8), ["a", "b"]), str(run_dir))


def test_set_parameter_paths() -> None:
    raw = set_parameter(BASE, "recipes.0.steps.1.params.degrees", 90.0)
    assert raw["recipes"][0]["recipe"]["steps"][1]["params"]["degrees"] == 90.0
    assert BASE["recipes"] == ["mnist-set1"]  # the base is not changed
    raw = set_parameter(BASE, {"recipe": 0, "step": "rotate", "param": "degrees"}, 45.0)
    assert raw["recipes"][0]["recipe"]["steps"][1]["params"]["degrees"] == 45.0
    assert set_parameter(BASE, "lr", 0.1)["lr"] == 0.1
    with pytest.raises(ValueError, match="no step"):
        set_parameter(BASE, {"recipe": 0, "step": "blur", "param": "sigma"}, 1.0)
    with pytest.raises(ValueError, match="values"):
        sweep_from_dict({"base": BASE, "parameter": "lr", "values": [1]})


def test_sweep_trains_probes_and_resumes(tmp_path) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE))
    sweep_file.write_text(yaml.safe_dump({"base": "base.yaml", "parameter": "recipes.0.steps.1.params.degrees",
                                          "values": [0.0, 90.0], "seeds": [0], "probe_column": "label",
                                          "test_fraction": 0.5}))
    cfg = load_sweep(sweep_file)
    out = tmp_path / "sweep"
    rep = run_sweep(cfg, out)
    res = read_results(out)
    assert len(res) == 2 * 10  # 2 values x 1 seed x 10 digit classes
    assert set(res["value"]) == {0.0, 90.0} and res["accuracy"].between(0, 1).all()
    assert (out / "v00_s0" / "checkpoint.pt").is_file() and (out / "v01_s0" / "checkpoint.pt").is_file()
    for name in ("curves.csv", "pairs.csv", "slopes.csv", "summary.json"):
        assert (out / name).is_file()
    assert len(rep["pairs"]) == 45 and np.isfinite(rep["opposite_ratio"])
    stamp = (out / "v00_s0" / "checkpoint.pt").stat().st_mtime_ns
    rep2 = run_sweep(cfg, out)  # everything done: nothing is retrained or re-appended
    assert (out / "v00_s0" / "checkpoint.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(read_results(out), res)
    assert rep2["opposite_ratio"] == rep["opposite_ratio"]
