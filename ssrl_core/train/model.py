"""The trained module, the optimiser and the learning-rate schedule.

`MultiRecipe` holds one SSL method per recipe, all sharing one backbone (the encoder we keep);
each method has its own heads and state (e.g. its own MoCo queue and momentum encoder), so the
recipes give independent losses of the same approach, summed with the configured weights
(Bendidi et al. 2024, section 3.4). With one recipe it is simply that method.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ssrl_core.methods import build_method
from ssrl_core.models import build_backbone
from ssrl_core.train.config import RunConfig
from ssrl_core.train.start_from import check_parent, freeze_stages, load_parent


class MultiRecipe(nn.Module):
    """Weighted sum of one method's loss over several recipes: sum_r w_r * L_r(v1_r, v2_r)."""

    def __init__(self, methods: Sequence[nn.Module], weights: Sequence[float], labels: Sequence[str]):
        super().__init__()
        self.methods = nn.ModuleList(methods)
        self.weights = [float(w) for w in weights]
        self.labels = _unique(labels)

    @property
    def backbone(self) -> nn.Module:
        return self.methods[0].backbone

    def forward(self, *views: torch.Tensor) -> dict[str, torch.Tensor]:
        """`views` = (v1_0, v2_0, v1_1, v2_1, ...); returns `loss` (total) and named terms."""
        out: dict[str, torch.Tensor] = {}
        total = None
        for r, method in enumerate(self.methods):
            terms = method.loss(views[2 * r], views[2 * r + 1])
            part = terms["loss"] * self.weights[r]
            total = part if total is None else total + part
            if len(self.methods) == 1:
                out.update({k: v for k, v in terms.items() if k != "loss"})
            else:
                out.update({f"{self.labels[r]}.{k}": v for k, v in terms.items()})
        out["loss"] = total
        return out

    def after_step(self, progress: float) -> None:
        for m in self.methods:
            m.after_step(progress)

    def set_gather(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        for m in self.methods:
            m.set_gather(fn)

    def set_all_reduce(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        for m in self.methods:
            if hasattr(m, "set_all_reduce"):
                m.set_all_reduce(fn)


def _unique(labels: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, lab in enumerate(labels):
        lab = str(lab) or f"recipe{i}"
        if lab in seen:
            lab = f"{lab}#{i}"
        seen[lab] = i
        out.append(lab)
    return out


def build_model(cfg: RunConfig, in_channels: int,
                parent: dict[str, Any] | None = None) -> tuple[MultiRecipe, int]:
    """Backbone (from `parent`'s weights when fine-tuning, see `start_from`) + one method per
    recipe (shared backbone); returns (model, feat_dim). `model.frozen` lists frozen modules."""
    backbone, feat_dim = build_backbone(cfg.backbone, in_channels, cfg.crop_size, pretrained=cfg.pretrained,
                                        per_channel=cfg.per_channel)
    if parent is not None:
        check_parent(parent, cfg.backbone, cfg.per_channel, in_channels)
        load_parent(backbone, parent)
    frozen = freeze_stages(backbone, cfg.freeze) if cfg.freeze else []
    methods = []
    for _ in cfg.recipes:
        try:
            methods.append(build_method(cfg.method.name, backbone, feat_dim, **cfg.method.params))
        except TypeError as exc:
            raise ValueError(f"method.params do not fit {cfg.method.name}: {exc}") from exc
    for m in methods[1:]:
        if m.backbone is not backbone:
            raise RuntimeError("build_method copied the backbone; recipes must share one encoder")
    model = MultiRecipe(methods, [r.weight for r in cfg.recipes], [r.label for r in cfg.recipes])
    model.frozen = frozen
    return model, feat_dim


def build_optimizer(cfg: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD; no weight decay on biases and normalisation weights (1-d tensors)."""
    decay, plain, seen = [], [], set()
    for p in model.parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (plain if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr)
    return torch.optim.AdamW(groups, lr=cfg.lr)


MAX_WARMUP_SHARE = 0.25  # a warm-up never takes more than a quarter of the run


def lr_at(cfg: RunConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Linear warm-up over `warmup_epochs` (capped at a quarter of the run, so that a run cut
    short by `max_steps` still reaches its peak and decays), then cosine decay to 0 (or constant)."""
    warm = min(int(round(cfg.warmup_epochs * steps_per_epoch)), int(total_steps * MAX_WARMUP_SHARE))
    if warm and step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    span = max(1, total_steps - warm)
    t = min(1.0, max(0.0, (step - warm) / span))
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * t))


def lr_at_share(cfg: RunConfig, share: float) -> float:
    """The same schedule over a share of a time budget (`max_minutes`): warm-up over
    `warmup_epochs / epochs` of the budget (at most a quarter), then cosine decay to 0."""
    warm = min(cfg.warmup_epochs / max(cfg.epochs, 1), MAX_WARMUP_SHARE)
    share = min(1.0, max(0.0, share))
    if warm and share < warm:
        return cfg.lr * max(share / warm, 0.01)
    if cfg.schedule == "constant":
        return cfg.lr
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * (share - warm) / max(1e-9, 1.0 - warm)))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def rng_state() -> dict[str, Any]:
    """Torch RNG states (plain tensors) for an exact resume."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any] | None) -> None:
    if not state:
        return
    torch.set_rng_state(state["torch"].cpu())
    if torch.cuda.is_available() and state.get("cuda"):
        try:
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
        except (RuntimeError, IndexError):  # a different GPU count: keep the fresh state
            pass
