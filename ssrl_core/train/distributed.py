"""Several processes (GPUs) with DistributedDataParallel, started by `torchrun`.

`torchrun --nproc_per_node=N -m ssrl_core.train RUN_DIR` sets RANK / WORLD_SIZE / LOCAL_RANK;
`setup()` then joins the process group (NCCL on CUDA, gloo on CPU). Gradients are averaged by
DDP; only rank 0 writes files. Methods receive `gather` through `set_gather`: MoCo enqueues the
keys of every rank (He et al. 2020 shuffle-free variant: global queue), SimCLR takes negatives
from every rank (Chen et al. 2020), and the batch statistics of VICReg / Barlow Twins / BYOL
follow their own papers (each method decides what it gathers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_kind: str) -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world=world, local_rank=local)


def cleanup(info: DistInfo, finished: bool = True) -> None:
    """Leave the process group. After a normal end every rank first waits for the others, so no rank
    closes its gloo/NCCL connections while a peer still reads from them (a rank could otherwise abort
    at exit, "terminate called without an active exception", after a finished run)."""
    if info.enabled and dist.is_initialized():
        if finished:
            try:
                dist.barrier()
            except (RuntimeError, ValueError):  # a peer is gone already: nothing to wait for
                pass
        dist.destroy_process_group()


def gather(t: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor from every rank along dim 0; gradients flow back to the local part."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(t.contiguous()), dim=0)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks, differentiable (Barlow Twins' cross-correlation matrix)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(t.contiguous(), op=dist.ReduceOp.SUM)


def any_rank(flags: list[bool], info: DistInfo, device: torch.device) -> list[bool]:
    """Logical OR of a few flags across ranks (stop requested, loss not finite) so all ranks agree."""
    if not info.enabled:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(x > 0) for x in t.tolist()]


def max_over_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """The largest of one number across ranks (e.g. the share of a time budget used), so every
    rank uses the same learning rate and stops at the same step."""
    if not info.enabled:
        return float(value)
    t = torch.tensor([float(value)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
