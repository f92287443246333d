"""Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny 2021, "Self-supervised learning via redundancy reduction").

The cross-correlation matrix between the batch-normalised embeddings of the two views is pushed
towards the identity: diagonal entries to 1 (invariance) and off-diagonal entries to 0
(redundancy reduction, weighted by lambda = 5e-3).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ssrl_core.methods.base import SSLMethod, check_views, full_precision
from ssrl_core.models.heads import mlp
from ssrl_core.params import Param, from_signature


@full_precision
def cross_correlation(z1n: torch.Tensor, z2n: torch.Tensor,
                      all_reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """C = z1n^T z2n / N for batch-normalised z1n, z2n (B, D); sums over ranks with `all_reduce`."""
    if z1n.shape != z2n.shape or z1n.ndim != 2:
        raise ValueError(f"cross_correlation needs two (B, D) tensors of equal shape; "
                         f"got {tuple(z1n.shape)}, {tuple(z2n.shape)}.")
    c = z1n.T @ z2n
    n = c.new_full((), float(z1n.shape[0]))  # a device fill, no host-to-device copy
    if all_reduce is not None:
        c, n = all_reduce(c), all_reduce(n)
    return c / n


@full_precision
def barlow_twins_loss(c: torch.Tensor, lambd: float = 5e-3) -> dict[str, torch.Tensor]:
    """on_diag = sum_i (1 - C_ii)^2, off_diag = sum_{i != j} C_ij^2, loss = on_diag + lambd * off_diag."""
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"barlow_twins_loss needs a square cross-correlation matrix, got {tuple(c.shape)}.")
    diag = c.diagonal()
    on_diag = (diag - 1).pow(2).sum()
    off_diag = c.pow(2).sum() - diag.pow(2).sum()
    return {"loss": on_diag + lambd * off_diag, "on_diag": on_diag, "off_diag": off_diag}


class BarlowTwins(SSLMethod):
    """Barlow Twins: backbone + 3-layer projector + BatchNorm (no affine) + cross-correlation loss."""

    name = "barlow_twins"
    label = "Barlow Twins"
    description = ("make feature correlations an identity: each feature agrees between the two views and is "
                   "unrelated to the other features (Zbontar et al. 2021)")
    global_batch_norm = True  # the official code converts to SyncBatchNorm (Zbontar et al. 2021)

    def __init__(self, backbone: nn.Module, feat_dim: int, lambd: float = 5e-3,
                 hidden_dim: int = 2048, out_dim: int = 2048) -> None:
        super().__init__(backbone, feat_dim)
        self.lambd = lambd
        self.projector = mlp(feat_dim, hidden_dim, out_dim, num_layers=3, batch_norm=True, last_bias=False)
        self.bn = nn.BatchNorm1d(out_dim, affine=False)

    PARAMS = from_signature(
        __init__,
        lambd=Param("float", low=0.0, high=1.0, label="Decorrelation weight",
                    help="How much features must not repeat each other (the off-diagonal, redundancy term)"),
        hidden_dim=Param("int", low=8, high=16384, label="Head width",
                         help=("Width of the small network on top of the encoder, used for training only (8192 in "
                               "the paper)")),
        out_dim=Param("int", low=2, high=16384, label="Head output size",
                      help="Length of the vectors compared (8192 in the paper)"),
    )

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
        check_views(v1, v2, min_batch=2)
        z1 = self.bn(self.projector(self.backbone(v1)))
        z2 = self.bn(self.projector(self.backbone(v2)))
        return barlow_twins_loss(cross_correlation(z1, z2, self.all_reduce), self.lambd)
