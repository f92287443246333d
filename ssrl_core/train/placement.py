"""Where the trained module runs: device, memory format, precision settings and processes.

`place_model` (before the optimiser is built and a checkpoint loaded): batch norm over the global
batch under DDP when the method's paper uses it (`uses_global_batchnorm`, `sync_batchnorm`),
the device in channels-last (NHWC: faster convolutions with cuDNN and oneDNN), TF32 tensor
cores for `precision: fp32` on CUDA (about 8x the fp32 matmul rate on an A100/H100 for a 10-bit
mantissa, which self-supervised training does not notice; bf16 autocast is the default anyway),
cuDNN autotuning, and the cross-rank collectives of the methods. `wrap_model` (after the state
is loaded): DistributedDataParallel (rank 0's weights broadcast), then `torch.compile` when
`compile: true` (the first steps are slower while it compiles; then fewer kernels per step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ssrl_core.methods.registry import METHODS, default_params
from ssrl_core.models.global_bn import to_global_batchnorm
from ssrl_core.train import distributed as dist_
from ssrl_core.train.config import RunConfig

if TYPE_CHECKING:
    from ssrl_core.train.model import MultiRecipe


def uses_global_batchnorm(cfg: RunConfig, world: int) -> bool:
    """Batch norm over the global batch: only with several processes; `sync_batchnorm: auto` follows
    the method's paper (`SSLMethod.global_batch_norm`: SimCLR, BYOL, VICReg, Barlow Twins)."""
    if world <= 1:
        return False
    if cfg.sync_batchnorm == "auto":
        return bool(METHODS[cfg.method.name].global_batch_norm)
    return bool(cfg.sync_batchnorm)


def prepare_for_processes(model: MultiRecipe, cfg: RunConfig, world: int) -> bool:
    """Before DDP wraps the model: batch norm over the global batch when `uses_global_batchnorm`
    (every BatchNorm of the backbone, heads and momentum encoders). Returns whether it did."""
    if not uses_global_batchnorm(cfg, world):
        return False
    replaced: dict[int, nn.Module] = {}
    to_global_batchnorm(model, replaced)
    if getattr(model, "frozen", None):  # frozen stages list batch norms themselves: keep them in eval mode
        model.frozen = [replaced.get(id(m), m) for m in model.frozen]
    return True


def place_model(model: nn.Module, cfg: RunConfig, device: torch.device,
                info: dist_.DistInfo) -> tuple[bool, torch.memory_format]:
    """Prepare `model` in place (see the module docstring); returns (global batch norm, memory format)."""
    global_bn = prepare_for_processes(model, cfg, info.world)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True  # fp32 runs (precision: fp32) on TF32 tensor cores
        torch.backends.cudnn.allow_tf32 = True
    model.to(device, memory_format=fmt)
    if info.enabled:
        model.set_gather(dist_.gather)
        model.set_all_reduce(dist_.all_reduce_sum)
    return global_bn, fmt


def wrap_model(model: nn.Module, cfg: RunConfig, device: torch.device, info: dist_.DistInfo) -> nn.Module:
    """The module the loop calls: DDP over the processes, compiled when `compile: true`."""
    net: nn.Module = model
    if info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
    if cfg.compile:
        net = torch.compile(net)
    return net


def checksum(module: nn.Module, what: str = "parameters") -> float:
    """Sum of |weights| (or of |buffers|: batch-norm statistics) of a module: equal on every rank
    when gradients are synced (and, for buffers, with global batch norm)."""
    with torch.no_grad():
        tensors = [t for t in getattr(module, what)() if t.is_floating_point()]
        return float(sum(t.detach().double().abs().sum().item() for t in tensors))


def peak_memory_mib(device: torch.device) -> float | None:
    """The most GPU memory the process's tensors held (MiB), None off CUDA."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)


def scale_notes(cfg: RunConfig, world: int) -> list[str]:
    """Warnings about settings that stop making sense with many GPUs (logged at the start)."""
    if cfg.method.name != "moco_v2":
        return []

    params = {**default_params("moco_v2"), **cfg.method.params}
    keys = cfg.batch_size * world * (2 if params.get("symmetric") else 1)
    if keys * 2 <= params["queue_size"]:
        return []
    return [f"MoCo enqueues {keys:,} keys a step ({cfg.batch_size} cells x {world} process(es)) into a queue of "
            f"{params['queue_size']:,}: the whole queue is replaced every {max(1, params['queue_size'] // keys)} "
            f"step(s), so the negatives are only the newest keys; raise method.params.queue_size (e.g. to "
            f"{keys * 16:,})"]
