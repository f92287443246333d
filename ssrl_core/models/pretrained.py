"""Optional start from ImageNet weights, adapted to C input channels.

ImageNet kernels see RGB. For a C-channel input the first convolution gets the mean of the RGB
kernels repeated C times and scaled by 3 / C, so that a grey image gives the same activation as
it would in RGB (the usual channel adapter, e.g. timm's `adapt_input_conv`). Layers whose shapes
changed (the 3x3 small-image ResNet stem, removed classifiers) are skipped and reported.
"""

from __future__ import annotations

import torch
from torch import nn

from ssrl_core.weights import imagenet_state_dict


def adapt_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """(O, 3, k, k) RGB kernels -> (O, C, k, k): mean over RGB, repeated C times, scaled 3 / C."""
    if weight.ndim != 4:
        raise ValueError(f"Expected a 4-d convolution weight, got shape {tuple(weight.shape)}.")
    mean = weight.mean(dim=1, keepdim=True)
    return mean.repeat(1, in_channels, 1, 1) * (weight.shape[1] / in_channels)


def adapt_state_dict(net: nn.Module, state: dict[str, torch.Tensor], in_channels: int) -> dict:
    """Load the entries of `state` that fit `net`; returns {'loaded', 'skipped'} key lists.

    A 4-d weight whose only mismatch is the input-channel axis (the first conv) is adapted with
    `adapt_first_conv`; any other shape mismatch or unknown key is skipped.
    """
    own = net.state_dict()
    fit: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    for key, value in state.items():
        if key not in own:
            skipped.append(f"{key} (not in this backbone)")
            continue
        target = own[key]
        if value.shape != target.shape and value.ndim == 4 and value.shape[1] == 3 \
                and value.shape[0] == target.shape[0] and value.shape[2:] == target.shape[2:]:
            value = adapt_first_conv(value, in_channels)
        if value.shape != target.shape:
            skipped.append(f"{key} (shape {tuple(value.shape)} vs {tuple(target.shape)})")
            continue
        fit[key] = value.to(dtype=target.dtype)
    net.load_state_dict(fit, strict=False)
    return {"loaded": sorted(fit), "skipped": skipped}


def load_imagenet(net: nn.Module, arch: str, in_channels: int) -> dict:
    """Load ImageNet weights for torchvision architecture `arch` into `net` where shapes allow.

    Raises `ssrl_core.weights.WeightsUnavailable` when the weights cannot be found offline.
    """
    state = imagenet_state_dict(arch)
    report = adapt_state_dict(net, state, in_channels)
    report["source"] = f"imagenet:{arch}"
    return report
