"""Batch norm over the global batch of all processes (SyncBatchNorm), on any device.

Under DDP each GPU sees its own share of the batch; plain batch norm then normalises with that
share's statistics, so N GPUs are not one GPU with the global batch. SimCLR (Chen et al. 2020,
"global BN": statistics aggregated over all devices), BYOL (Grill et al. 2020, cross-replica batch
norm), VICReg (Bardes et al. 2022) and Barlow Twins (Zbontar et al. 2021; both official codes call
`nn.SyncBatchNorm.convert_sync_batchnorm`) normalise over the global batch; MoCo v2 (Chen et al.
2020) shuffles the batch across GPUs instead and keeps per-GPU statistics.

`GlobalBatchNorm` is a drop-in `BatchNorm1d/2d` (same parameters, buffers and state-dict keys, so
checkpoints load into plain batch norm): in training with more than one process it sums, per
channel, the count, sum and sum of squares (shifted by the running mean, for precision) over all
processes in ONE differentiable all_gather of each process's count, mean and sum of squared deviations
from its own mean (Chan et al. 1979's pairwise update, as `SyncBatchNorm` combines them: the one-pass
"mean of squares minus square of mean" loses the variance in float32 when activations sit far from
zero), and normalises with the global mean and variance; the running statistics become the global
ones, equal on every rank (rank 0's checkpoint holds them).
torch's own `SyncBatchNorm` runs on CUDA only; this one runs on the CPU too (gloo), so the very
code that runs on GPUs is tested with two CPU processes.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

# The differentiable collectives of torch.distributed.nn are marked deprecated in favour of a private
# module; they are the public, differentiable ones (all_gather's backward sums each rank's gradient).
warnings.filterwarnings("ignore", message="torch.distributed.nn.functional.all_(reduce|gather) is deprecated")


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _gather_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """(world, *t.shape): `t` of every rank, differentiable (backward sums each rank's gradient)."""
    if torch.is_grad_enabled() and t.requires_grad:
        from torch.distributed.nn.functional import all_gather

        return torch.stack(all_gather(t.contiguous()))
    parts = [torch.empty_like(t) for _ in range(_world())]
    dist.all_gather(parts, t.contiguous())
    return torch.stack(parts)


def global_moments(x: torch.Tensor, dims: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Count, mean and biased variance per channel of the batch of every process (float32).

    Each process sends its count n_r, mean m_r and M2_r = sum (x - m_r)^2; the global M2 is
    sum_r [M2_r + n_r (m_r - m)^2] (Chan, Golub & LeVeque 1979), exact and stable in float32.
    """
    c = x.shape[1]
    n_r = x.new_full((1,), float(x.numel() // max(c, 1)))
    m_r = x.mean(dims) if x.numel() else x.new_zeros(c)
    shape = [1, c] + [1] * (x.dim() - 2)
    d = x - m_r.view(shape)
    m2_r = (d * d).sum(dims)
    every = _gather_over_ranks(torch.cat([m_r, m2_r, n_r]))  # (world, 2c + 1)
    counts = every[:, 2 * c:]  # (world, 1)
    n = counts.sum()
    mean = (every[:, :c] * counts).sum(0) / n
    m2 = (every[:, c:2 * c] + counts * (every[:, :c] - mean) ** 2).sum(0)
    return n, mean, m2 / n


class GlobalBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the batch of every process."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected a batch of at least 2 dimensions (N, C, ...), got {x.dim()}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _world() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        c = x.shape[1]
        dims = [0] + list(range(2, x.dim()))
        shape = [1, c] + [1] * (x.dim() - 2)
        xf = x if x.dtype == torch.float64 else x.float()  # half precision computed in float32
        n, mean, var = global_moments(xf, dims)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)  # cumulative
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), m)
                unbiased = var.detach() * n / (n - 1).clamp_min(1.0)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.to(xf.dtype).view(shape) + self.bias.to(xf.dtype).view(shape)
        return y.to(x.dtype)


def to_global_batchnorm(module: nn.Module, replaced: dict[int, nn.Module] | None = None) -> nn.Module:
    """Replace every BatchNorm1d/2d/3d inside `module` by a `GlobalBatchNorm` sharing its
    parameters and buffers (in place; returns `module`, or the new layer if it is one).
    `replaced`, when given, receives `id(old layer) -> new layer` (to update lists of modules)."""
    if replaced is None:
        replaced = {}
    if isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats, device=None)
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        for p_name, p in module.named_parameters(recurse=False):  # requires_grad (frozen stages) kept
            getattr(new, p_name).requires_grad_(p.requires_grad)
        replaced[id(module)] = new
        return new
    for name, child in module.named_children():
        new_child = to_global_batchnorm(child, replaced)
        if new_child is not child:
            setattr(module, name, new_child)
    return module
