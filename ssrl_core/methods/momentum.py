"""Momentum (exponential moving average) encoders for MoCo v2 and BYOL.

MoCo (He et al. 2020): theta_k <- m theta_k + (1 - m) theta_q with a fixed m.
BYOL (Grill et al. 2020): tau = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2, rising to 1.
The update is one torch._foreach_lerp_ over the parameter lists (no Python loop, one pass).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy with requires_grad=False everywhere (the target / key encoder)."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update_(target: list[torch.Tensor], online: list[torch.Tensor], momentum: float) -> None:
    """In place: target = momentum * target + (1 - momentum) * online."""
    if not target:
        return
    torch._foreach_lerp_(target, online, 1.0 - momentum)  # one fused pass: t += (1 - m)(o - t)


def cosine_momentum(base: float, progress: float) -> float:
    """BYOL's schedule: `base` at progress 0, 1.0 at progress 1."""
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def check_progress(progress: float) -> float:
    """Training progress must be a number in [0, 1]."""
    progress = float(progress)
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be between 0 and 1 (fraction of training done), got {progress}.")
    return progress
