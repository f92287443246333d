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

import pytest
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


# (dtype, offset, spread): exact arithmetic in float64; in float32, inputs far from zero with a small
# spread, where "mean of squares minus square of the mean" loses the variance (before each rank sent its
# own mean and sum of squared deviations, the two ranks' outputs were 30x further from the float64
# truth than torch's own batch norm in one process).
CASES = {"float64": (torch.float64, 1.0, 3.0), "float32_far_from_zero": (torch.float32, 200.0, 0.01)}


def _data(case: str = "float64") -> torch.Tensor:
    dtype, offset, spread = CASES[case]
    x = torch.rand(WORLD * B, 2, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return (x * spread + offset).to(dtype)


def _bn_worker(rank: int, port: int, case: str, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        net = to_global_batchnorm(_net()).to(CASES[case][0]).train()
        y = net(_data(case)[rank * B:(rank + 1) * B])
        (y ** 2).sum().backward()
        grads = [p.grad.clone() for p in net.parameters()]
        for g in grads:
            dist.all_reduce(g)
        stats = [b.clone() for n, b in net.named_buffers() if "running" in n]
        out.put((rank, y.detach().numpy(), [g.numpy() for g in grads], [t.numpy() for t in stats]))
    finally:
        dist.destroy_process_group()


def _one_process(case: str, dtype: torch.dtype) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Output, gradients and running statistics of torch's own batch norm on the whole batch."""
    net = _net().to(dtype).train()
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules()) >= 2
    y = net(_data(case).to(dtype))
    (y ** 2).sum().backward()
    return y.detach(), [p.grad for p in net.parameters()], [b for n, b in net.named_buffers() if "running" in n]


def _worst(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The largest difference relative to the largest value of `b` (all tensors together: a bias
    followed by batch norm has a gradient of zero in exact arithmetic, pure rounding in float32)."""
    x = torch.cat([t.double().flatten() for t in a])
    y = torch.cat([t.double().flatten() for t in b])
    return float((x - y).abs().max() / y.abs().max())


@pytest.mark.parametrize("case", list(CASES))
def test_global_batchnorm_on_two_ranks_is_one_process_with_the_whole_batch(case: str) -> None:
    """Two ranks holding half a batch each give the output, gradients and running statistics of one
    process with the whole batch: to 1e-10 in float64, and in float32 as close to the float64 truth
    as torch's own batch norm in one process is (within 3x)."""
    got = _run_ranks(_bn_worker, (case,))
    torch.set_num_threads(1)
    t = torch.from_numpy
    truth = _one_process(case, torch.float64)
    for rank in range(WORLD):
        mine = ([torch.cat([t(g[1]) for g in got])], [t(x) for x in got[rank][2]], [t(x) for x in got[rank][3]])
        assert len(mine[2]) == len(truth[2]) >= 4
        errors = [_worst(m, [f] if isinstance(f, torch.Tensor) else f) for m, f in zip(mine, truth)]
        if CASES[case][0] == torch.float64:
            assert max(errors) < 1e-10, errors
        else:
            native = _one_process(case, torch.float32)
            floor = [_worst([n] if isinstance(n, torch.Tensor) else n, [f] if isinstance(f, torch.Tensor) else f)
                     for n, f in zip(native, truth)]
            assert all(e <= 3 * f + 1e-6 for e, f in zip(errors, floor)), (errors, floor)


def _simclr(world: int) -> nn.Module:
    """The training code's own SimCLR model (tiny CNN, MLP head with batch norm), in float64."""
    from ssrl_core.train import distributed as dist_
    from ssrl_core.train import load_config
    from ssrl_core.train.model import build_model
    from ssrl_core.train.placement import prepare_for_processes

    torch.manual_seed(0)
    cfg = load_config(None, ["method.name=simclr", "method.params.hidden_dim=32", "method.params.out_dim=16",
                             "backbone=tiny_cnn", "crop_size=16"])
    model, _ = build_model(cfg, 2)
    if world > 1:
        assert prepare_for_processes(model, cfg, world)
        model.set_gather(dist_.gather)
    return model.double().train()


def _views() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    return tuple(torch.rand(WORLD * B, 2, 16, 16, generator=g, dtype=torch.float64) * 0.2 + 3 for _ in range(2))


def _simclr_worker(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        model = _simclr(WORLD)
        for m in model.methods:
            m.rank = rank
        net = nn.parallel.DistributedDataParallel(model, broadcast_buffers=False)
        v1, v2 = (v[rank * B:(rank + 1) * B] for v in _views())
        net(v1, v2)["loss"].backward()  # DDP averages the ranks' gradients
        out.put((rank, {n: p.grad.numpy() for n, p in model.named_parameters()}))
    finally:
        dist.destroy_process_group()


def test_simclr_under_ddp_with_global_batchnorm_is_one_process_with_the_global_batch() -> None:
    """The whole step's arithmetic, in float64 so that rounding cannot hide a wrong formula: DDP's
    averaged gradients of two ranks (each NT-Xent on its rows against the gathered negatives, batch
    norm over both ranks) equal one process's on the global batch to 1e-10. In float32 the two
    differ by rounding only, as much as one process run with 1 or 2 threads does (tests/test_store_ddp.py)."""
    got = _run_ranks(_simclr_worker, ())
    torch.set_num_threads(1)
    model = _simclr(1)
    model(*_views())["loss"].backward()
    for _, grads in got:
        for name, p in model.named_parameters():
            torch.testing.assert_close(torch.from_numpy(grads[name]), p.grad, rtol=1e-10,
                                       atol=1e-10 * float(p.grad.abs().max()), msg=name)


def test_global_batchnorm_is_plain_batchnorm_in_one_process_and_keeps_the_state_dict() -> None:
    plain = _net().train()
    converted = to_global_batchnorm(_net()).train()
    assert any(isinstance(m, GlobalBatchNorm) for m in converted.modules())
    assert plain.state_dict().keys() == converted.state_dict().keys()
    x = _data("float32_far_from_zero")
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
    from tiny_runs import tiny_npz

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
