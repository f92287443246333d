"""VICReg (Bardes, Ponce, LeCun 2022, "Variance-invariance-covariance regularization").

The two views' embeddings are pulled together (invariance, mean squared error), while each
embedding dimension keeps a standard deviation of at least 1 over the batch (variance hinge) and
different dimensions are decorrelated (covariance penalty); no negatives, no momentum encoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssrl_core.methods.base import SSLMethod, check_views, full_precision
from ssrl_core.models.heads import mlp
from ssrl_core.params import Param, from_signature


def invariance_term(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the two embeddings (mean over batch and dimensions)."""
    return F.mse_loss(z1, z2)


def variance_term(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """mean_d relu(1 - sqrt(Var_batch(z_d) + eps)), unbiased variance."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1 - std).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal entries of the (unbiased) covariance matrix, divided by D."""
    n, d = z.shape
    zc = z - z.mean(dim=0)
    cov = (zc.T @ zc) / (n - 1)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / d


@full_precision
def vicreg_loss(z1: torch.Tensor, z2: torch.Tensor, sim_weight: float = 25.0, var_weight: float = 25.0,
                cov_weight: float = 1.0, z1_all: torch.Tensor | None = None,
                z2_all: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """VICReg loss and its three unweighted terms, as in the official code.

    invariance on the local z1, z2 (B, D); variance = mean of both views' hinges; covariance =
    sum of both views' penalties; the last two on `z1_all`, `z2_all` (gathered across ranks,
    default the local ones). loss = sim_weight * inv + var_weight * var + cov_weight * cov.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"vicreg_loss needs z1, z2 of equal shape (B, D); got {tuple(z1.shape)}, {tuple(z2.shape)}.")
    if z1_all is None or z2_all is None:
        z1_all, z2_all = z1, z2
    if z1_all.shape[0] < 2:
        raise ValueError("VICReg needs at least 2 samples to measure variance and covariance.")
    inv = invariance_term(z1, z2)
    var = 0.5 * (variance_term(z1_all) + variance_term(z2_all))
    cov = covariance_term(z1_all) + covariance_term(z2_all)
    loss = sim_weight * inv + var_weight * var + cov_weight * cov
    return {"loss": loss, "invariance": inv, "variance": var, "covariance": cov}


class VICReg(SSLMethod):
    """VICReg: backbone + 3-layer expander; variance/covariance on embeddings gathered across ranks."""

    name = "vicreg"
    label = "VICReg"
    description = ("agree, keep features varied and decorrelated: the two views agree while each feature keeps "
                   "varying across cells and no two features say the same (Bardes et al. 2022)")
    global_batch_norm = True  # the official code converts to SyncBatchNorm (Bardes et al. 2022)

    def __init__(self, backbone: nn.Module, feat_dim: int, sim_weight: float = 25.0, var_weight: float = 25.0,
                 cov_weight: float = 1.0, hidden_dim: int = 2048, out_dim: int = 2048) -> None:
        super().__init__(backbone, feat_dim)
        self.weights = (sim_weight, var_weight, cov_weight)
        self.projector = mlp(feat_dim, hidden_dim, out_dim, num_layers=3, batch_norm=True)

    PARAMS = from_signature(
        __init__,
        sim_weight=Param("float", low=0.0, high=1000.0, label="Agreement weight",
                         help="How much the two views of a cell must agree (lambda, the invariance term)"),
        var_weight=Param("float", low=0.0, high=1000.0, label="Spread weight",
                         help="How much each feature must keep varying across cells (mu, the variance term)"),
        cov_weight=Param("float", low=0.0, high=1000.0, label="Decorrelation weight",
                         help="How much features must not repeat each other (nu, the covariance term)"),
        hidden_dim=Param("int", low=8, high=16384, label="Head width",
                         help=("Width of the small network on top of the encoder, used for training only (8192 in "
                               "the paper)")),
        out_dim=Param("int", low=2, high=16384, label="Head output size",
                      help="Length of the vectors compared (8192 in the paper)"),
    )

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
        check_views(v1, v2, min_batch=2)
        z1 = self.projector(self.backbone(v1))
        z2 = self.projector(self.backbone(v2))
        return vicreg_loss(z1, z2, *self.weights, z1_all=self.gather(z1), z2_all=self.gather(z2))
