"""What every SSL method shares: a backbone, cross-rank hooks and an embedding call.

The contract (docs/ARCHITECTURE.md): `.backbone`, `.loss(v1, v2) -> dict[str, Tensor]` (key
`loss` is the total), `.after_step(progress)`, `.set_gather(fn)`, `.embed(x)`. Kept small on
purpose: the losses themselves are pure functions in each method's module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ssrl_core.params import Param

Collective = Callable[[torch.Tensor], torch.Tensor]


def full_precision(loss_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a loss with autocast off and half / bfloat16 tensor arguments cast to float32.

    The trainer uses bf16 autocast on CUDA; similarities, covariances and cross-correlations
    lose too much precision in bf16, and they are cheap next to the backbone.
    """

    def up(x: Any) -> Any:
        if isinstance(x, torch.Tensor) and x.dtype in (torch.float16, torch.bfloat16):
            return x.float()
        return x

    @functools.wraps(loss_fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        first = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
        device = first.device.type if first is not None else "cpu"
        with torch.autocast(device_type=device, enabled=False):
            return loss_fn(*(up(a) for a in args), **{k: up(v) for k, v in kwargs.items()})

    return wrapper


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


class SSLMethod(nn.Module):
    """Base of the five methods; subclasses implement `loss` (and `after_step` if needed).

    Each method class declares itself for the registry (`methods.registry.CLASSES`): `name` (the
    config's `method.name`), `label` (its short name on a page), `description` (what it does in
    plain words, with the paper) and `PARAMS`, its hyper-parameters read from its own `__init__`
    (`ssrl_core.params.from_signature`).
    """

    name = ""
    label = ""
    description = ""
    PARAMS: dict[str, Param] = {}
    # Whether the paper normalises over the global batch of all devices (SyncBatchNorm under DDP,
    # `sync_batchnorm: auto`; see `ssrl_core.models.global_bn`).
    global_batch_norm = False

    def __init__(self, backbone: nn.Module, feat_dim: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.feat_dim = int(feat_dim)
        self.gather: Collective = _identity
        self.all_reduce: Collective = _identity
        self.rank = 0

    def set_gather(self, fn: Collective | None, rank: int | None = None) -> None:
        """Install fn(tensor) -> tensor concatenating (dim 0) across ranks, in rank order.

        `rank` is this process's position in that concatenation (needed by SimCLR to find
        its positives); when omitted it is read from torch.distributed if initialised, else 0.
        The function must be differentiable where the method needs gradients (SimCLR, VICReg).
        """
        self.gather = fn or _identity
        if rank is None:
            dist = torch.distributed
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        self.rank = int(rank)

    def set_all_reduce(self, fn: Collective | None) -> None:
        """Install fn(tensor) -> tensor summing across ranks (Barlow Twins' cross-correlation)."""
        self.all_reduce = fn or _identity

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features (before any projection head): (B, C, H, W) -> (B, feat_dim)."""
        return self.backbone(x)

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def after_step(self, progress: float) -> None:
        """Called by the trainer after each optimiser step; progress in [0, 1]."""

    def extra_repr(self) -> str:
        return f"feat_dim={self.feat_dim}"


def check_views(v1: torch.Tensor, v2: torch.Tensor, min_batch: int = 2) -> None:
    """Both views must be (B, C, H, W) batches of the same shape with B >= min_batch."""
    if v1.ndim != 4 or v1.shape != v2.shape:
        raise ValueError(f"The two views must be (B, C, H, W) of equal shape, got "
                         f"{tuple(v1.shape)} and {tuple(v2.shape)}.")
    if v1.shape[0] < min_batch:
        raise ValueError(f"A batch needs at least {min_batch} images for this loss, got {v1.shape[0]}.")
