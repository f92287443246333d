"""Fine-tuning: start a run from trained weights (`init:`) and keep its first stages fixed (`freeze:`).

`init` names a shipped encoder (`pretrained/index.json`, e.g. `cells_base`), a run folder (its
`checkpoint.pt`) or a checkpoint file. The parent's encoder weights are loaded into the new
run's backbone before the method builds its momentum / target copies, so those start equal to
it. The architecture must match (backbone, per-channel mode, and the channel count unless the
encoder is per-channel); the new checkpoint records its parent (`parent`: what was asked,
file, sha256, backbone, dataset). `freeze: N` keeps the first N stages of the encoder
(see `encoder_stages`) fixed: no gradient, batch-norm statistics frozen; a CPU fine-tune then
computes only the later stages' gradients.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssrl_core.io import sha256_file
from ssrl_core.models.encoder_file import encoder_state, find_checkpoint, load_checkpoint, read_facts
from ssrl_core.models.fit import channel_misfit
from ssrl_core.models.shipped import shipped_checkpoints, shipped_path


def resolve_init(init: str) -> Path:
    """The checkpoint file behind `init` (a shipped name, a run folder or a file); plain errors."""
    path = shipped_path(init)
    if path is not None:
        return path
    candidate = Path(os.path.expanduser(init))
    if candidate.exists():
        return find_checkpoint(candidate, what="init: ")
    names = ", ".join(c["name"] for c in shipped_checkpoints()) or "none found"
    raise FileNotFoundError(f"init: {init!r} is neither a shipped encoder ({names}), a run folder nor a checkpoint file")


def parent_info(init: str) -> dict[str, Any]:
    """What the run starts from: {init, file, sha256, backbone, per_channel, in_channels, crop_size, dataset}."""
    path = resolve_init(init)
    ckpt, facts = read_facts(path, what="init: ")
    return {"init": str(init), "file": str(path), "sha256": sha256_file(path), "backbone": facts.backbone,
            "per_channel": facts.per_channel, "in_channels": facts.in_channels,
            "crop_size": facts.crop_size, "dataset": ckpt.get("dataset")}


def check_parent(parent: dict[str, Any], backbone: str, per_channel: bool, in_channels: int) -> None:
    """Refuse, in plain words, a parent whose encoder cannot be loaded into this run's backbone."""
    problems = []
    if parent["backbone"] != backbone:
        problems.append(f"it is a {parent['backbone']} and this run asks for backbone {backbone}")
    if parent["per_channel"] != bool(per_channel):
        want = "true" if parent["per_channel"] else "false"
        problems.append(f"it {'is' if parent['per_channel'] else 'is not'} a per-channel encoder (set per_channel: {want})")
    channels = channel_misfit(parent, in_channels)  # the rule and words of the app and `ssrl embed`
    if channels:
        problems.append(f"it was {channels}")
    if problems:
        raise ValueError(f"Cannot start from {parent['init']!r}: " + "; ".join(problems) + ".")


def load_parent(backbone: nn.Module, parent: dict[str, Any]) -> None:
    """Copy the parent's encoder weights into `backbone` (float32, strict)."""
    state = encoder_state(load_checkpoint(parent["file"]))
    own = backbone.state_dict()
    state = {k: v.to(own[k].dtype) if k in own and torch.is_floating_point(v) else v for k, v in state.items()}
    try:
        backbone.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"Cannot start from {parent['init']!r}: its weights do not fit this backbone "
                         f"({str(exc).splitlines()[0][:300]})") from exc


def encoder_stages(backbone: nn.Module) -> list[list[nn.Module]]:
    """The encoder's stages from input to output (ResNet: stem, layer1-4; CNNs: blocks ending in a pool)."""
    net = getattr(backbone, "inner", backbone)
    if hasattr(net, "layer1"):
        return [[net.conv1, net.bn1], [net.layer1], [net.layer2], [net.layer3], [net.layer4]]
    features = getattr(net, "features", None)
    if features is None:
        return [[net]]
    stages: list[list[nn.Module]] = [[]]
    for m in features:
        stages[-1].append(m)
        if isinstance(m, (nn.MaxPool2d, nn.Sequential)) or (isinstance(m, nn.ReLU) and _strided(stages[-1])):
            stages.append([])
    return [s for s in stages if s]


def _strided(stage: list[nn.Module]) -> bool:
    convs = [m for m in stage if isinstance(m, nn.Conv2d)]
    return bool(convs) and convs[-1].stride != (1, 1)


def freeze_stages(backbone: nn.Module, n: int) -> list[nn.Module]:
    """Stop gradients in the first `n` stages; returns their modules (call `keep_frozen_eval` after `.train()`)."""
    stages = encoder_stages(backbone)
    if n > len(stages):
        raise ValueError(f"freeze: {n} is more than the {len(stages)} stages this encoder has")
    frozen = [m for stage in stages[:n] for m in stage]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    return frozen


def keep_frozen_eval(frozen: list[nn.Module]) -> None:
    """Frozen stages keep their batch-norm statistics (eval mode) while the rest trains."""
    for m in frozen:
        m.eval()
