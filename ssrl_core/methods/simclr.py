"""SimCLR (Chen, Kornblith, Norouzi, Hinton 2020, "A simple framework for contrastive learning").

Each view must find its partner among all 2N - 1 other views of the batch, with the NT-Xent
(normalised temperature-scaled cross-entropy) loss on L2-normalised projections. The other
views of the batch (gathered from every rank in distributed training) are the negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssrl_core.methods.base import SSLMethod, check_views, full_precision
from ssrl_core.models.heads import mlp
from ssrl_core.params import Param, from_signature


@full_precision
def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float,
                 z1_all: torch.Tensor | None = None, z2_all: torch.Tensor | None = None,
                 offset: int = 0) -> torch.Tensor:
    """NT-Xent for local rows z1, z2 (B, D), L2-normalised, against all candidates.

    `z1_all`, `z2_all` (N, D) are the views of every rank (default: the local ones); the local
    rows sit at rows `offset .. offset + B` of them. Each of the 2B local views is scored against
    the 2N candidates except itself; its positive is the other view of the same image.
    """
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"nt_xent_loss needs z1, z2 of equal shape (B, D); got {tuple(z1.shape)}, {tuple(z2.shape)}.")
    if z1_all is None or z2_all is None:
        z1_all, z2_all = z1, z2
    b, n = z1.shape[0], z1_all.shape[0]
    if not 0 <= offset <= n - b:
        raise ValueError(f"offset {offset} does not place {b} local rows inside {n} gathered rows.")
    out = torch.cat([z1, z2])
    cand = torch.cat([z1_all, z2_all])
    logits = out @ cand.T / temperature
    idx = torch.arange(b, device=z1.device) + offset
    self_cols = torch.cat([idx, idx + n])
    pos_cols = torch.cat([idx + n, idx])
    rows = torch.arange(2 * b, device=z1.device)
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask[rows, self_cols] = True
    logits = logits.masked_fill(mask, float("-inf"))
    return F.cross_entropy(logits, pos_cols)


class SimCLR(SSLMethod):
    """SimCLR: backbone + MLP projector (Linear-BN-ReLU-Linear) + NT-Xent."""

    name = "simclr"
    label = "SimCLR"
    description = ("contrast within the batch: each cell must find its other view among all the views of the "
                   "same batch (Chen et al. 2020, \"A simple framework for contrastive learning\")")
    global_batch_norm = True  # "global BN": mean and variance aggregated over all devices (Chen et al. 2020)

    def __init__(self, backbone: nn.Module, feat_dim: int, temperature: float = 0.5,
                 hidden_dim: int = 2048, out_dim: int = 128) -> None:
        super().__init__(backbone, feat_dim)
        self.temperature = temperature
        self.projector = mlp(feat_dim, hidden_dim, out_dim, num_layers=2, batch_norm=True)

    PARAMS = from_signature(
        __init__,
        temperature=Param("float", low=0.01, high=10.0, label="Temperature",
                          help=("How sharply the right match must stand out from the other cells of the batch "
                                "(lower: stricter; the NT-Xent softmax temperature)")),
        hidden_dim=Param("int", low=8, high=16384, label="Head width",
                         help=("Width of the small network on top of the encoder, used for training only "
                               "(projection head)")),
        out_dim=Param("int", low=2, high=4096, label="Head output size",
                      help="Length of the vectors compared (projection dimension)"),
    )

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
        check_views(v1, v2, min_batch=2)
        z1 = F.normalize(self.projector(self.backbone(v1)), dim=1)
        z2 = F.normalize(self.projector(self.backbone(v2)), dim=1)
        z1_all, z2_all = self.gather(z1), self.gather(z2)
        offset = self.rank * z1.shape[0] if z1_all.shape[0] != z1.shape[0] else 0
        return {"loss": nt_xent_loss(z1, z2, self.temperature, z1_all, z2_all, offset)}
