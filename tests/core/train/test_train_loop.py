"""The training loop on tiny real files: run directory, multi-recipe loss, stop/resume, NaN stop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrl_core.models.encoder_file import load_checkpoint, load_encoder
from ssrl_core.train import LossNotFinite, load_config, train
from ssrl_core.train.data import EpochSampler, ViewPairs, load_cells, resolve_recipes

from tiny_runs import TINY_LOOP as TINY
from tiny_runs import tiny_npz


@pytest.fixture()
def cells_npz(tmp_path: Path) -> Path:
    return tiny_npz(tmp_path / "tiny.npz")


def cfg_for(npz: Path, *extra: str):
    return load_config(None, [f"data.name={npz}", "recipes=[microscopy-set-b]", "method.name=simclr", *TINY, *extra])


def test_the_config_written_by_the_launcher_is_kept_and_a_different_one_replaced(cells_npz: Path,
                                                                                tmp_path: Path) -> None:
    cfg = cfg_for(cells_npz, "max_steps=1")
    run = tmp_path / "kept"
    run.mkdir()
    (run / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    before = (run / "config.yaml").stat().st_mtime_ns
    train(cfg, run)
    assert (run / "config.yaml").stat().st_mtime_ns == before
    (run / "config.yaml").write_text("name: old\n", encoding="utf-8")
    train(cfg, run)
    assert (run / "config.yaml").read_text(encoding="utf-8") == cfg.to_yaml()


def test_run_directory_files_and_encoder(cells_npz: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = train(cfg_for(cells_npz, "max_steps=3", "checkpoint_every=1"), run)
    assert out["state"] == "finished" and out["step"] == 3
    for name in ("config.yaml", "metrics.jsonl", "status.json", "checkpoint.pt", "train.log"):
        assert (run / name).is_file(), name
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "finished" and status["progress"] == 1.0 and status["pid"] > 0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3]
    assert all(r["pairs_per_s"] > 0 and np.isfinite(r["loss"]) and r["lr"] > 0 for r in lines)
    assert load_checkpoint(run / "checkpoint_epoch1.pt")["step"] == 3  # 24 cells / batch 8 = 1 epoch
    encoder, info = load_encoder(run / "checkpoint.pt")
    assert info["in_channels"] == 2 and info["crop_size"] == 28 and info["method"] == "simclr"
    assert len(info["channel_ranges"]["lo"]) == 2 and info["recipes"][0]["name"] == "microscopy-set-b"
    assert not encoder.training
    with torch.no_grad():
        assert encoder(torch.rand(3, 2, 28, 28)).shape == (3, info["feat_dim"])


def test_filter_exclude_and_max_cells(cells_npz: Path) -> None:
    cfg = cfg_for(cells_npz, "data.filter.compound=[DMSO, taxol]", "data.exclude.plate=p2")
    cells = load_cells(cfg.data)
    assert set(cells.meta["compound"]) <= {"DMSO", "taxol"} and set(cells.meta["plate"]) == {"p1"}
    assert len(load_cells(cfg_for(cells_npz, "data.max_cells=5").data, seed=1)) == 5
    with pytest.raises(ValueError, match="values present are"):
        load_cells(cfg_for(cells_npz, "data.filter.compound=nocodazole").data)
    with pytest.raises(ValueError, match="no metadata column 'moa'"):
        load_cells(cfg_for(cells_npz, "data.filter.moa=x").data)


def test_views_are_seeded_per_sample_and_epoch(cells_npz: Path) -> None:
    cfg = cfg_for(cells_npz)
    images = np.random.default_rng(0).random((4, 32, 32, 2), dtype=np.float32)
    ds = ViewPairs(images, resolve_recipes(cfg.recipes), 28, seed=3)
    a = ds[1]
    assert len(a) == 2 and a[0].shape == (2, 28, 28) and a[0].dtype == torch.float32
    assert torch.equal(a[0], ds[1][0]) and not torch.equal(a[0], a[1])
    ds.set_epoch(1)
    assert not torch.equal(a[0], ds[1][0])
    s = EpochSampler(10, seed=0, batch_size=4)
    s.set_epoch(0, start_batch=1)
    assert len(list(s)) == 4 and list(s) == s._indices()[4:]


def test_multi_recipe_loss_is_the_weighted_sum(cells_npz: Path, tmp_path: Path) -> None:
    cfg = cfg_for(cells_npz, "recipes=[microscopy-set-a, microscopy-set-b]", "recipes.0.weight=0.25",
                  "recipes.1.weight=0.75", "max_steps=2")
    train(cfg, tmp_path / "run")
    rec = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    a, b = rec["microscopy-set-a.loss"], rec["microscopy-set-b.loss"]
    assert rec["loss"] == pytest.approx(0.25 * a + 0.75 * b, rel=1e-5)


def test_stop_file_then_resume_gives_the_same_model(cells_npz: Path, tmp_path: Path) -> None:
    """Stopped after 2 steps and resumed to 5 == trained 5 steps straight (views, order, RNG, queue)."""
    extra = ("method.name=moco_v2", "method.params.queue_size=32", "max_steps=5")
    straight = train(cfg_for(cells_npz, *extra), tmp_path / "a")
    run = tmp_path / "b"

    def stop_at_2(rec: dict) -> None:
        if rec["step"] == 2:
            (run / "stop").write_text("")

    out = train(cfg_for(cells_npz, *extra), run, progress=stop_at_2)
    assert out["state"] == "stopped" and out["step"] == 2
    assert json.loads((run / "status.json").read_text())["state"] == "stopped"
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2
    resumed = train(cfg_for(cells_npz, *extra), run, resume=True)
    assert resumed["state"] == "finished" and resumed["step"] == 5
    sa = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    sb = load_checkpoint(run / "checkpoint.pt")["model"]
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-5), k
    assert straight["metrics"]["loss"] == pytest.approx(resumed["metrics"]["loss"], rel=1e-4)


def test_nan_loss_stops_at_once_with_a_clear_message(cells_npz: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = cfg_for(cells_npz, "optimizer=sgd", "lr=1e30", "method.name=vicreg", "max_steps=20", "schedule=constant")
    with pytest.raises(LossNotFinite) as info:
        train(cfg, run)
    msg = str(info.value)
    assert "loss term" in msg and "step" in msg and "lower it" in msg
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and "learning rate" in status["error"]
    assert status.get("step", 0) < 20


def test_channel_mismatch_and_resume_mismatch_are_plain(cells_npz: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3-channel RGB"):
        train(cfg_for(cells_npz, "recipes=[{recipe: {name: hue, steps: [{name: hue_saturation}]}}]",
                      "max_steps=1"), tmp_path / "x")
    train(cfg_for(cells_npz, "max_steps=1"), tmp_path / "r")
    with pytest.raises(ValueError, match="does not match this config"):
        train(cfg_for(cells_npz, "max_steps=2", "crop_size=24"), tmp_path / "r", resume=True)


def test_dataloader_workers_give_the_same_run(cells_npz: Path, tmp_path: Path) -> None:
    """Views are seeded per (seed, epoch, cell, recipe), so worker processes change nothing."""
    train(cfg_for(cells_npz, "max_steps=2", "num_workers=0"), tmp_path / "w0")
    train(cfg_for(cells_npz, "max_steps=2", "num_workers=2"), tmp_path / "w2")
    a = load_checkpoint(tmp_path / "w0" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "w2" / "checkpoint.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
