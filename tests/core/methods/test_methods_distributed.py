"""Two real CPU processes (gloo): the gather hooks reproduce single-process results.

SimCLR in eval mode (BN running stats, so each sample's projection is independent of the batch):
the two ranks' losses average to the full-batch loss, and their summed gradients equal the
full-batch gradient times the world size (DDP then averages). MoCo enqueues both ranks' keys.
"""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ssrl_core.methods import build_method
from ssrl_core.models import build_backbone

WORLD, B = 2, 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gather(t: torch.Tensor) -> torch.Tensor:
    from torch.distributed.nn.functional import all_gather
    return torch.cat(all_gather(t.contiguous()), dim=0)


def _models(seed: int = 0):
    torch.manual_seed(seed)
    backbone, dim = build_backbone("tiny_cnn", 1, 16)
    simclr = build_method("simclr", backbone, dim, hidden_dim=16, out_dim=8).eval()
    torch.manual_seed(seed)
    backbone, dim = build_backbone("tiny_cnn", 1, 16)
    moco = build_method("moco_v2", backbone, dim, hidden_dim=16, out_dim=8, queue_size=64)
    return simclr, moco


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(WORLD * B, 1, 16, 16, generator=g), torch.rand(WORLD * B, 1, 16, 16, generator=g)


def _worker(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        simclr, moco = _models()
        v1, v2 = _data()
        local = slice(rank * B, (rank + 1) * B)
        simclr.set_gather(_gather)  # rank read from torch.distributed
        loss = simclr.loss(v1[local], v2[local])["loss"]
        loss.backward()
        grad = simclr.backbone.features[0].weight.grad.clone()
        dist.all_reduce(grad)
        moco.set_gather(_gather)
        moco.loss(v1[local], v2[local])
        out.put((rank, {"loss": loss.item(), "grad": grad.numpy(), "rank": simclr.rank,
                        "ptr": int(moco.queue_ptr), "queue": moco.queue[: 2 * WORLD * B].numpy()}))
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_process() -> None:
    ctx = mp.get_context("fork")  # fork: the workers need not import torch again (seconds each)
    queue = ctx.SimpleQueue()
    mp.start_processes(_worker, args=(_free_port(), queue), nprocs=WORLD, join=True, start_method="fork")
    out = dict(queue.get() for _ in range(WORLD))
    torch.set_num_threads(1)
    simclr, moco = _models()
    v1, v2 = _data()
    full = simclr.loss(v1, v2)["loss"]
    full.backward()
    full_grad = simclr.backbone.features[0].weight.grad
    assert [out[r]["rank"] for r in range(WORLD)] == [0, 1]
    torch.testing.assert_close(torch.tensor((out[0]["loss"] + out[1]["loss"]) / 2), full.detach(),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.from_numpy(out[0]["grad"]), WORLD * full_grad, rtol=1e-4, atol=1e-6)
    # MoCo: each rank enqueued the keys of both ranks, identically
    assert out[0]["ptr"] == out[1]["ptr"] == 2 * WORLD * B
    torch.testing.assert_close(torch.from_numpy(out[0]["queue"]), torch.from_numpy(out[1]["queue"]))
