"""Two real CPU processes (gloo) for items 3 and 4 of "The GPU path".

- `GlobalBatchNorm` (SyncBatchNorm on any device): two ranks holding half a batch each give the
  outputs, gradients and running statistics of one process holding the whole batch.
- The training loop under DDP: the loop's own collectives are one all_reduce per log step (stop,
  non-finite loss and time budget agreed together), none in between; with `sync_batchnorm: auto`
  SimCLR normalises over the global batch, so both ranks end with the same batch-norm statistics,
  which per-rank batch norm does not give.
"""

from __future__ import annotations

import os
import socket
import sys
from collections import Counter
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from ssrl_core.models import build_backbone, mlp
from ssrl_core.models.global_bn import GlobalBatchNorm, to_global_batchnorm

WORLD, B = 2, 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(worker, args: tuple) -> list:
    """Fork WORLD ranks of `worker(rank, port, *args, queue)`; their results, by rank. The queue is
    read before joining (a result larger than a pipe's buffer would otherwise block its writer)."""
    queue = mp.get_context("fork").SimpleQueue()
    ctx = mp.start_processes(worker, args=(_free_port(), *args, queue), nprocs=WORLD, join=False,
                             start_method="fork")
    got = [queue.get() for _ in range(WORLD)]
    while not ctx.join():
        pass
    return sorted(got, key=lambda r: r[0])


def _net() -> nn.Module:
    torch.manual_seed(0)
    backbone, dim = build_backbone("tiny_cnn", 2, 16)
    return nn.Sequential(backbone, mlp(dim, 16, 8, num_layers=2, batch_norm=True))


def _data() -> torch.Tensor:
    return torch.rand(WORLD * B, 2, 16, 16, generator=torch.Generator().manual_seed(1)) * 3 + 1


def _bn_worker(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        net = to_global_batchnorm(_net()).train()
        y = net(_data()[rank * B:(rank + 1) * B])
        (y ** 2).sum().backward()
        grads = [p.grad.clone() for p in net.parameters()]
        for g in grads:
            dist.all_reduce(g)
        stats = [b.clone() for n, b in net.named_buffers() if "running" in n]
        out.put((rank, y.detach().numpy(), [g.numpy() for g in grads], [t.numpy() for t in stats]))
    finally:
        dist.destroy_process_group()


def test_global_batchnorm_on_two_ranks_is_one_process_with_the_whole_batch() -> None:
    got = _run_ranks(_bn_worker, ())
    torch.set_num_threads(1)
    net = _net().train()
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()) >= 2
    y = net(_data())
    (y ** 2).sum().backward()
    t = torch.from_numpy
    torch.testing.assert_close(torch.cat([t(g[1]) for g in got]), y.detach(), rtol=1e-4, atol=1e-5)
    for rank in range(WORLD):
        for mine, full in zip(got[rank][2], [p.grad for p in net.parameters()]):
            torch.testing.assert_close(t(mine), full, rtol=1e-3, atol=1e-4)
        full_stats = [b for n, b in net.named_buffers() if "running" in n]
        assert len(got[rank][3]) == len(full_stats) >= 4
        for mine, full in zip(got[rank][3], full_stats):
            torch.testing.assert_close(t(mine), full, rtol=1e-4, atol=1e-5)


def test_global_batchnorm_is_plain_batchnorm_in_one_process_and_keeps_the_state_dict() -> None:
    plain = _net().train()
    converted = to_global_batchnorm(_net()).train()
    assert any(isinstance(m, GlobalBatchNorm) for m in converted.modules())
    assert plain.state_dict().keys() == converted.state_dict().keys()
    x = _data()
    torch.testing.assert_close(converted(x), plain(x))


def _train_worker(rank: int, port: int, run: str, npz: str, sync: str, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(WORLD))
    from ssrl_core.train import load_config, train

    calls: Counter[int] = Counter()
    step = [0]
    hook = register_optimizer_step_post_hook(lambda *a: step.__setitem__(0, step[0] + 1))
    real = dist.all_reduce

    def counted(*a, **kw):
        if "/ssrl_core/train/" in sys._getframe(1).f_code.co_filename:  # the loop's own, not the methods'
            calls[step[0]] += 1
        return real(*a, **kw)

    dist.all_reduce = counted
    try:
        cfg = load_config(None, [f"data.name={npz}", "recipes=[microscopy-set-b]", "method.name=simclr",
                                 "method.params.hidden_dim=32", "method.params.out_dim=16", "backbone=tiny_cnn",
                                 "crop_size=24", "batch_size=6", "epochs=5", "max_steps=9", "log_every=3",
                                 "cpu_threads=1", "num_workers=0", "max_minutes=30", f"sync_batchnorm={sync}"])
        result = train(cfg, run)
        out.put((rank, result, dict(calls)))
    finally:
        dist.all_reduce = real
        hook.remove()


def _two_rank_run(tmp_path: Path, sync: str) -> list:
    from tests.test_train_loop import tiny_npz

    npz = tiny_npz(tmp_path / "cells.npz", n=24)
    return _run_ranks(_train_worker, (str(tmp_path / f"run_{sync}"), str(npz), sync))


def test_ddp_loop_agrees_once_per_log_step_and_normalises_over_the_global_batch(tmp_path: Path) -> None:
    got = _two_rank_run(tmp_path, "auto")
    for rank, result, calls in got:
        assert result["state"] == "finished" and result["step"] == 9 and result["global_batchnorm"]
        assert calls == {3: 1, 6: 1, 9: 1}, f"rank {rank}: the loop's all_reduces per step: {calls}"
    (_, a, _), (_, b, _) = got
    assert a["param_checksum"] == b["param_checksum"]
    assert a["buffer_checksum"] == b["buffer_checksum"]  # the same global statistics on both ranks
    per_rank = _two_rank_run(tmp_path, "false")
    assert not per_rank[0][1]["global_batchnorm"]
    assert per_rank[0][1]["buffer_checksum"] != per_rank[1][1]["buffer_checksum"]


def test_frozen_batch_norms_stay_frozen_after_conversion() -> None:
    """`freeze` lists a ResNet's stem batch norm itself: the converted layer takes its place."""
    from ssrl_core.train import load_config
    from ssrl_core.train.model import build_model
    from ssrl_core.train.placement import prepare_for_processes
    from ssrl_core.train.start_from import keep_frozen_eval

    cfg = load_config(None, ["backbone=resnet18", "method.name=simclr", "freeze=1", "crop_size=32"])
    model, _ = build_model(cfg, 3)
    assert prepare_for_processes(model, cfg, world=2)
    bn1 = model.backbone.inner.bn1 if hasattr(model.backbone, "inner") else model.backbone.bn1
    assert isinstance(bn1, GlobalBatchNorm) and any(m is bn1 for m in model.frozen)
    model.train()
    keep_frozen_eval(model.frozen)
    assert not bn1.training
