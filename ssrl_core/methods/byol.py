"""BYOL (Grill et al. 2020, "Bootstrap your own latent").

An online network (encoder, projector, predictor) learns to predict the projection of the other
view made by a target network, an exponential moving average of the online one; no negatives.
The EMA rate follows BYOL's cosine schedule from `momentum` (0.99 here for short runs; 0.996 in
the paper) up to 1 at the end of training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssrl_core.methods.base import SSLMethod, check_views, full_precision
from ssrl_core.methods.momentum import check_progress, cosine_momentum, ema_update_, frozen_copy
from ssrl_core.models.heads import mlp
from ssrl_core.params import Param, from_signature


@full_precision
def byol_loss(p1: torch.Tensor, p2: torch.Tensor, t1: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
    """Symmetrised BYOL loss: mean(2 - 2 cos(p1, t2)) + mean(2 - 2 cos(p2, t1)).

    p1, p2: online predictions of views 1, 2; t1, t2: target projections (no gradient).
    """
    if not (p1.shape == p2.shape == t1.shape == t2.shape) or p1.ndim != 2:
        raise ValueError("byol_loss needs four (B, D) tensors of equal shape; got "
                         f"{[tuple(t.shape) for t in (p1, p2, t1, t2)]}.")
    a = 2 - 2 * F.cosine_similarity(p1, t2.detach(), dim=1)
    b = 2 - 2 * F.cosine_similarity(p2, t1.detach(), dim=1)
    return a.mean() + b.mean()


class BYOL(SSLMethod):
    """BYOL: online backbone + projector + predictor; EMA target backbone + projector."""

    name = "byol"
    label = "BYOL"
    description = ("predict the other view, no negatives: the network predicts what a slowly moving copy of "
                   "itself sees in the other view (Grill et al. 2020, \"Bootstrap your own latent\")")
    global_batch_norm = True  # cross-replica batch norm over the whole batch (Grill et al. 2020)

    def __init__(self, backbone: nn.Module, feat_dim: int, momentum: float = 0.99,
                 hidden_dim: int = 2048, out_dim: int = 256) -> None:
        super().__init__(backbone, feat_dim)
        self.momentum = momentum
        self.projector = mlp(feat_dim, hidden_dim, out_dim, num_layers=2, batch_norm=True)
        self.predictor = mlp(out_dim, hidden_dim, out_dim, num_layers=2, batch_norm=True)
        self.target_backbone = frozen_copy(backbone)
        self.target_projector = frozen_copy(self.projector)
        self.register_buffer("current_momentum", torch.tensor(float(momentum)))

    PARAMS = from_signature(
        __init__,
        momentum=Param("float", low=0.0, high=1.0, label="Slow copy's momentum",
                       help=("How slowly the copy whose output is predicted follows the network (target EMA, "
                             "raised to 1 over the run)")),
        hidden_dim=Param("int", low=8, high=16384, label="Head width",
                         help=("Width of the small networks on top of the encoder, used for training only (4096 in "
                               "the paper)")),
        out_dim=Param("int", low=2, high=4096, label="Head output size",
                      help="Length of the vectors predicted (projection dimension)"),
    )

    def _online(self) -> list[torch.Tensor]:
        return list(self.backbone.parameters()) + list(self.projector.parameters())

    def _target(self) -> list[torch.Tensor]:
        return list(self.target_backbone.parameters()) + list(self.target_projector.parameters())

    @torch.no_grad()
    def target(self, x: torch.Tensor) -> torch.Tensor:
        return self.target_projector(self.target_backbone(x))

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
        check_views(v1, v2, min_batch=2)
        p1 = self.predictor(self.projector(self.backbone(v1)))
        p2 = self.predictor(self.projector(self.backbone(v2)))
        return {"loss": byol_loss(p1, p2, self.target(v1), self.target(v2))}

    def after_step(self, progress: float) -> None:
        """EMA update of the target with tau = 1 - (1 - base)(cos(pi progress) + 1) / 2."""
        tau = cosine_momentum(self.momentum, check_progress(progress))
        self.current_momentum.fill_(tau)
        ema_update_(self._target(), self._online(), tau)
