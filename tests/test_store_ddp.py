"""Training from a cell store across processes: 2 gloo processes under torchrun, each reading its
own share of the store's cells (`EpochSampler`: rank r takes every 2nd cell of the epoch's
permutation, read with `pread` from the store, never the whole set), stopped and resumed.

- The 2-process run from the store, interrupted after 2 steps and resumed to 4, gives the very
  weights of the 2-process run from the same cells in memory, 4 steps straight.
- Against one process with the global batch (2 x 8 cells; xfail, see the second test): each global step holds the same 16
  cells, the same views (seeded by cell), and DDP averages the ranks' gradients, so the weights
  agree within float tolerance when batch norm sees the global batch (`sync_batchnorm`, issue 28)
  and the arithmetic is fp32 (bf16 autocast alone moves the weights by ~3e-4 here; with batch norm
  removed and fp32 the gap measured 1.5e-8).
  Without it each rank's batch norm normalises its own 8 cells, a different function of the
  data, and the runs differ: then the test checks that they do (by more than 1e-4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ssrl_core import paths
from ssrl_core.data.npz import load_npz
from ssrl_core.data.store import save_store
from ssrl_core.models.encoder_file import load_checkpoint
from ssrl_core.train import load_config, train
from ssrl_core.train.config import RunConfig
from tests.test_train_loop import tiny_npz

COMMON = ["recipes=[microscopy-set-b]", "method.name=simclr", "backbone=tiny_cnn", "crop_size=28", "epochs=3",
          "max_steps=4", "log_every=1", "optimizer=sgd", "lr=0.05", "schedule=constant", "cpu_threads=1",
          "precision=fp32"]


def _torchrun(run: Path, *overrides: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(paths.PROJECT_ROOT))
    sets = [a for o in overrides for a in ("--set", o)]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ssrl_core.train", str(run), *sets], capture_output=True, text=True, env=env,
                          timeout=300, cwd=paths.PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def _run_dir(path: Path, data: Path, batch: int) -> Path:
    path.mkdir()
    cfg = load_config(None, [f"data.name={data}", f"batch_size={batch}", *COMMON])
    (path / "config.yaml").write_text(cfg.to_yaml())
    return path


@pytest.mark.slow
def test_two_processes_from_a_store_resume_and_match_memory(tmp_path: Path, monkeypatch) -> None:
    npz = tiny_npz(tmp_path / "cells.npz", n=48)
    store = save_store(load_npz(npz), tmp_path / "cells.cells", chunk_cells=10)  # 5 chunks
    monkeypatch.setenv("SSRL_IN_MEMORY_BYTES", "0")  # the ranks open the store lazily, as a big one
    disk = _run_dir(tmp_path / "disk", store, 8)
    _torchrun(disk, "max_steps=2")  # the first launch ends at step 2 ...
    assert load_checkpoint(disk / "checkpoint.pt")["step"] == 2
    _torchrun(disk, "max_steps=4")  # ... the second resumes it to step 4
    mem = _run_dir(tmp_path / "mem", npz, 8)
    _torchrun(mem)
    a = load_checkpoint(disk / "checkpoint.pt")
    b = load_checkpoint(mem / "checkpoint.pt")
    assert a["step"] == b["step"] == 4 and a["cells"] == 48
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])  # bit for bit
    status = json.loads((disk / "status.json").read_text())
    assert status["world_size"] == 2 and status["state"] == "finished"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="open (issue 28 item 4): with global batch norm on, 2 gloo processes and one "
                   "process with the global batch still differ by 0.015 after 4 SGD steps, although the batch-norm "
                   "layer alone matches (tests/test_train_ddp.py) and the runs agree to 1.5e-8 without batch norm")
def test_two_processes_from_a_store_match_one_process_with_the_global_batch(tmp_path: Path, monkeypatch) -> None:
    npz = tiny_npz(tmp_path / "cells.npz", n=48)
    store = save_store(load_npz(npz), tmp_path / "cells.cells", chunk_cells=10)
    monkeypatch.setenv("SSRL_IN_MEMORY_BYTES", "0")
    disk = _run_dir(tmp_path / "disk", store, 8)
    _torchrun(disk)
    a = load_checkpoint(disk / "checkpoint.pt")
    one = train(load_config(None, [f"data.name={store}", "batch_size=16", *COMMON]), tmp_path / "one")
    assert one["step"] == 4
    c = load_checkpoint(tmp_path / "one" / "checkpoint.pt")
    weights = [k for k in a["model"] if a["model"][k].is_floating_point() and "running" not in k]
    gap = max(float((a["model"][k].float() - c["model"][k].float()).abs().max()) for k in weights)
    if "sync_batchnorm" in RunConfig.__dataclass_fields__:  # global batch norm: as one process
        assert gap < 1e-4, gap
    else:  # batch norm per rank: another function of the same cells, and it shows (SGD, lr 0.05, 4 steps)
        assert gap > 1e-4, gap
