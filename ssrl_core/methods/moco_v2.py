"""MoCo v2 (Chen, Fan, Girshick, He 2020, "Improved baselines with momentum contrastive learning").

A query encoder is trained to pick its own key (the other view, encoded by a slowly moving
momentum copy) out of a queue of keys from earlier batches, with the InfoNCE loss. v2 adds an
MLP projection head, a temperature of 0.2 and stronger augmentation to MoCo (He et al. 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssrl_core.methods.base import SSLMethod, check_views, full_precision
from ssrl_core.methods.momentum import check_progress, ema_update_, frozen_copy
from ssrl_core.models.heads import mlp
from ssrl_core.params import Param, from_signature


@full_precision
def infonce_loss(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE with the positive key in column 0: q, k (B, D) and queue (K, D), all L2-normalised.

    loss = mean_i -log( exp(q_i.k_i / T) / (exp(q_i.k_i / T) + sum_j exp(q_i.queue_j / T)) ).
    """
    if q.shape != k.shape or q.ndim != 2 or queue.ndim != 2 or queue.shape[1] != q.shape[1]:
        raise ValueError(f"infonce_loss needs q, k (B, D) and queue (K, D); got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(queue.shape)}.")
    pos = (q * k).sum(dim=1, keepdim=True)
    neg = q @ queue.T
    logits = torch.cat([pos, neg], dim=1) / temperature
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels)


class MoCoV2(SSLMethod):
    """MoCo v2: query encoder + momentum key encoder + a queue of negative keys (buffers)."""

    name = "moco_v2"
    label = "MoCo v2"
    description = ("contrast with a memory of past cells: each cell must find its other view among the views "
                   "of earlier batches, encoded by a slowly moving copy of the network (Chen et al. 2020, "
                   "\"Improved baselines with momentum contrastive learning\")")
    global_batch_norm = False  # MoCo shuffles BN across GPUs instead; per-GPU statistics here (shuffle-free)

    def __init__(self, backbone: nn.Module, feat_dim: int, temperature: float = 0.2, queue_size: int = 4096,
                 momentum: float = 0.99, hidden_dim: int = 2048, out_dim: int = 128,
                 symmetric: bool = True) -> None:
        super().__init__(backbone, feat_dim)
        self.temperature = temperature
        self.momentum = momentum
        self.symmetric = symmetric
        self.projector = mlp(feat_dim, hidden_dim, out_dim, num_layers=2, batch_norm=False)
        self.key_backbone = frozen_copy(backbone)
        self.key_projector = frozen_copy(self.projector)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, out_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    PARAMS = from_signature(
        __init__,
        temperature=Param("float", low=0.01, high=10.0, label="Temperature",
                          help=("How sharply the right match must stand out from the others (lower: stricter; the "
                                "InfoNCE softmax temperature)")),
        queue_size=Param("int", low=1, high=1_000_000, label="Memory of past cells",
                         help=("How many views of earlier batches each cell is contrasted with (the queue of "
                               "negative keys)")),
        momentum=Param("float", low=0.0, high=1.0, label="Slow copy's momentum",
                       help=("How slowly the copy that encodes the memory follows the network (key encoder EMA; "
                             "0.999 in the paper, 0.99 for short runs)")),
        hidden_dim=Param("int", low=8, high=16384, label="Head width",
                         help=("Width of the small network on top of the encoder, used for training only "
                               "(projection head)")),
        out_dim=Param("int", low=2, high=4096, label="Head output size",
                      help="Length of the vectors compared (projection dimension)"),
        symmetric=Param("bool", label="Both views ask",
                        help="Each view of a cell looks for the other, not just one way (twice the work per step)"),
    )

    def _online(self) -> list[torch.Tensor]:
        return list(self.backbone.parameters()) + list(self.projector.parameters())

    def _target(self) -> list[torch.Tensor]:
        return list(self.key_backbone.parameters()) + list(self.key_projector.parameters())

    def query(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projector(self.backbone(x)), dim=1)

    @torch.no_grad()
    def key(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.key_projector(self.key_backbone(x)), dim=1)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys into the circular queue at the pointer, wrapping around its end."""
        size = self.queue.shape[0]
        keys = keys.detach().to(self.queue.dtype)
        if keys.shape[0] >= size:  # more keys than room: keep the newest
            self.queue.copy_(keys[-size:])
            self.queue_ptr.zero_()
            return
        idx = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue.index_copy_(0, idx, keys)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)

    def loss(self, v1: torch.Tensor, v2: torch.Tensor) -> dict[str, torch.Tensor]:
        check_views(v1, v2, min_batch=1)
        queue = self.queue.clone()  # the queue changes below; autograd keeps this copy
        q1 = self.query(v1)
        k2 = self.key(v2)
        if self.symmetric:
            q2 = self.query(v2)
            k1 = self.key(v1)
            loss = 0.5 * (infonce_loss(q1, k2, queue, self.temperature)
                          + infonce_loss(q2, k1, queue, self.temperature))
            keys = torch.cat([k1, k2])
        else:
            loss = infonce_loss(q1, k2, queue, self.temperature)
            keys = k2
        self.enqueue(self.gather(keys))
        return {"loss": loss}

    def after_step(self, progress: float) -> None:
        """Momentum update of the key encoder (fixed m, MoCo's choice)."""
        check_progress(progress)
        ema_update_(self._target(), self._online(), self.momentum)
