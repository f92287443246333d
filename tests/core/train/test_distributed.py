"""Two CPU processes under torchrun (gloo): the real entry point trains with DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssrl_core import paths
from ssrl_core.models.encoder_file import load_checkpoint
from ssrl_core.train import load_config
from ssrl_core.train import rundir as rd


@pytest.mark.slow
def test_torchrun_two_processes_step_together(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:24, :24]
    images = np.stack([((yy - 12) ** 2 + (xx - 12) ** 2 < (3 + i % 8) ** 2) * 200 + rng.integers(0, 40, (24, 24))
                       for i in range(32)]).astype(np.uint8)
    np.savez(tmp_path / "cells.npz", images=images)
    run = tmp_path / "run"
    run.mkdir()
    cfg = load_config(None, [f"data.name={tmp_path / 'cells.npz'}", "recipes=[microscopy-set-b]", "method.name=simclr",
                             "backbone=tiny_cnn", "crop_size=24", "batch_size=8", "epochs=4", "max_steps=8",
                             "log_every=1", "lr=0.003", "schedule=constant", "name=ddp"])
    (run / "config.yaml").write_text(cfg.to_yaml())
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(paths.PROJECT_ROOT))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ssrl_core.train", str(run)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=paths.PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = _train_results(proc.stdout)
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert all(r["world_size"] == 2 and r["state"] == "finished" and r["step"] == 8 for r in results)
    assert results[0]["param_checksum"] == pytest.approx(results[1]["param_checksum"], rel=1e-6)  # synced
    status = rd.read_json(run / "status.json")
    assert status["state"] == "finished" and status["world_size"] == 2
    assert sorted(p.name for p in run.glob("checkpoint*.pt")) == ["checkpoint.pt"]  # rank 0 only
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 8
    losses = [r["loss"] for r in rd.read_metrics_records(run)]
    assert len(losses) == 8 and np.mean(losses[-3:]) < np.mean(losses[:3])


def _train_results(stdout: str) -> list[dict]:
    """Every `{"ssrl_train_result": ...}` object the ranks printed, wherever it stands."""
    decoder, out, start = json.JSONDecoder(), [], 0
    while (start := stdout.find('{"ssrl_train_result"', start)) >= 0:
        obj, end = decoder.raw_decode(stdout, start)
        out.append(obj["ssrl_train_result"])
        start = end
    return out

