"""Item 1 of "The GPU path": the loader is built once, workers are chosen from the cores per GPU,
checkpoints are written by steps or minutes (not every epoch); and `augment_on: device` trains
with the batched executor (item 2) on the CPU device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from ssrl_core.models.encoder_file import load_checkpoint
from ssrl_core.train import load_config, train
from ssrl_core.train.data import EpochSampler
from ssrl_core.train.loader import MAX_WORKERS, RunBatches, choose_workers, usable_cores

from tiny_runs import tiny_npz


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    return tiny_npz(tmp_path_factory.mktemp("cells") / "cells.npz", n=24)


def _cfg(npz: Path, *extra: str):
    return load_config(None, [f"data.name={npz}", "recipes=[microscopy-set-b]", "method.name=simclr",
                              "method.params.hidden_dim=32", "method.params.out_dim=16", "backbone=tiny_cnn",
                              "crop_size=24", "batch_size=8", "cpu_threads=1", *extra])


def test_one_loader_iteration_for_a_whole_multi_epoch_run(npz: Path, tmp_path: Path, monkeypatch) -> None:
    iterations = []
    real = DataLoader.__iter__
    monkeypatch.setattr(DataLoader, "__iter__", lambda self: iterations.append(self) or real(self))
    out = train(_cfg(npz, "epochs=4", "log_every=5", "num_workers=1", "checkpoint_minutes=0"), tmp_path / "run")
    assert out["state"] == "finished" and out["step"] == 12 and out["loader_workers"] == 1
    assert len(iterations) == 1  # 4 epochs of 3 steps: one iterator, its worker never restarted
    assert [p.name for p in (tmp_path / "run").glob("checkpoint*.pt")] == ["checkpoint.pt"]


def test_run_batches_continue_an_interrupted_epoch_and_carry_the_epoch() -> None:
    sampler = EpochSampler(10, seed=0, batch_size=4)
    batches = list(RunBatches(sampler, n_epochs=3, start_epoch=1, start_batch=1))
    assert len(batches) == len(RunBatches(sampler, 3, 1, 1)) == 3  # 2 batches an epoch, one already done
    assert [b[0][0] for b in batches] == [1, 2, 2]
    sampler.set_epoch(1)
    assert [i for _, i in batches[0]] == list(sampler)[4:8]


def test_workers_follow_the_cores_per_gpu(monkeypatch) -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert choose_workers(3, cuda) == 3 and choose_workers("auto", cpu) == 0
    cores = usable_cores()
    assert choose_workers("auto", cuda, local_world=1) == max(0, min(MAX_WORKERS, cores - 1))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert choose_workers("auto", cuda) == max(0, min(MAX_WORKERS, cores // 2 - 1))


def test_checkpoints_by_steps(npz: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    seen: list[int | None] = []

    def look(rec: dict) -> None:
        path = run / "checkpoint.pt"
        seen.append(load_checkpoint(path)["step"] if path.is_file() else None)

    train(_cfg(npz, "epochs=3", "log_every=1", "checkpoint_steps=4", "checkpoint_minutes=0"), run, progress=look)
    # progress is called before the step's agreement point: the file of step 4 is seen from step 5 on
    assert seen == [None] * 4 + [4] * 4 + [8]


def test_views_made_on_the_device_train_and_repeat(npz: Path, tmp_path: Path) -> None:
    cfg = _cfg(npz, "epochs=1", "log_every=1", "augment_on=device", "recipes=[microscopy-set-a, microscopy-set-b]")
    a = train(cfg, tmp_path / "a")
    assert train(cfg, tmp_path / "b")["step"] == 3
    assert a["state"] == "finished" and a["step"] == 3
    sa, sb = (load_checkpoint(tmp_path / r / "checkpoint.pt")["model"] for r in ("a", "b"))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # seeded per (run seed, step, recipe)
    train(_cfg(npz, "epochs=1", "log_every=1", "recipes=[microscopy-set-a, microscopy-set-b]"), tmp_path / "c")
    sc = load_checkpoint(tmp_path / "c" / "checkpoint.pt")["model"]
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)  # another executor: other views
