"""Backbones for any number of input channels and small crops (28 to 196 px).

The paper (Bendidi et al., Biological Imaging 2024) trains VGG11 / VGG13 / ResNet18 / ResNet50 /
ConvNeXt-Tiny encoders from scratch on MNIST digits (28 px) and BBBC021 nucleus crops (196 px).
We use the torchvision definitions with random initialisation and these adaptations:

- every first convolution takes `in_channels` inputs (microscopy has 1 to 5+ channels);
- ResNet: for crops <= 64 px the 7x7 stride-2 stem and the max-pool are replaced by a 3x3
  stride-1 convolution and no max-pool (SimCLR's CIFAR variant, Chen et al. 2020);
  `fc` is removed, so the output is the 512 / 2048-d global-average-pooled feature;
- VGG: the batch-norm variants (`vgg11_bn`, `vgg13_bn`; training from scratch with an SSL loss
  is unstable without BN); the classifier is replaced by a global average pool (512-d); the
  last max-pool stages are dropped so that at least 1 px is left (28 px keeps 4 of the 5 pools);
- ConvNeXt-Tiny: for crops <= 64 px the patchify stem uses stride 2 (kernel 4, padding 1)
  instead of 4, so 28 px still leaves 1 px after the three downsampling layers; the classifier
  keeps its LayerNorm and drops the last Linear (768-d);
- `tiny_cnn`: four 3x3 conv layers (64-d), for tests and CPU demos.

Each backbone maps `(B, C, H, W)` float32 to `(B, feat_dim)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.vgg import cfgs as vgg_cfgs, make_layers

SMALL_IMAGE = 64  # at or below this size the small-image stems are used
MIN_IMAGE = 16

BACKBONES: dict[str, str] = {
    "tiny_cnn": "4 conv layers, 64-d features; seconds per epoch on CPU (tests, demos)",
    "vgg11": "VGG11 with batch norm, global average pool, 512-d (paper: MNIST)",
    "vgg13": "VGG13 with batch norm, global average pool, 512-d (paper: BBBC021 cells)",
    "resnet18": "ResNet18, 3x3 stem without max-pool at <= 64 px, 512-d",
    "resnet50": "ResNet50, 3x3 stem without max-pool at <= 64 px, 2048-d (slow on CPU)",
    "convnext_tiny": "ConvNeXt-Tiny, stride-2 stem at <= 64 px, 768-d (slow on CPU)",
}

# torchvision architecture name whose ImageNet weights fit each backbone
TORCHVISION_ARCH: dict[str, str] = {
    "vgg11": "vgg11_bn", "vgg13": "vgg13_bn", "resnet18": "resnet18",
    "resnet50": "resnet50", "convnext_tiny": "convnext_tiny",
}


class TinyCNN(nn.Module):
    """Four 3x3 conv + BN + ReLU layers (strides 1, 2, 2, 2) and a global average pool."""

    def __init__(self, in_channels: int, width: int = 16) -> None:
        super().__init__()
        chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=1 if i == 0 else 2, padding=1, bias=False),
                       nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = chans[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


def _resnet(factory: Callable[..., nn.Module], in_channels: int, image_size: int) -> nn.Module:
    net = factory(weights=None)
    if image_size <= SMALL_IMAGE:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
    net.fc = nn.Identity()
    return net


class VGGFeatures(nn.Module):
    """torchvision VGG `features` (same state-dict keys) + global average pool, no classifier."""

    def __init__(self, cfg: str, in_channels: int, image_size: int) -> None:
        super().__init__()
        self.features = make_layers(vgg_cfgs[cfg], batch_norm=True)
        first = self.features[0]
        self.features[0] = nn.Conv2d(in_channels, first.out_channels, 3, padding=1)
        pools = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        keep = min(len(pools), int(math.floor(math.log2(image_size))))
        for i in pools[keep:]:  # drop the last pooling stages that would leave < 1 px
            self.features[i] = nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():  # torchvision's VGG initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.avgpool(self.features(x)).flatten(1)


def _convnext_tiny(in_channels: int, image_size: int) -> nn.Module:
    net = tvm.convnext_tiny(weights=None)
    stem = net.features[0][0]
    if image_size <= SMALL_IMAGE:
        net.features[0][0] = nn.Conv2d(in_channels, stem.out_channels, kernel_size=4, stride=2, padding=1)
    else:
        net.features[0][0] = nn.Conv2d(in_channels, stem.out_channels, kernel_size=4, stride=4)
    nn.init.trunc_normal_(net.features[0][0].weight, std=0.02)  # torchvision's init
    nn.init.zeros_(net.features[0][0].bias)
    net.classifier[2] = nn.Identity()  # keep LayerNorm2d + Flatten
    return net


def build_backbone(name: str, in_channels: int, image_size: int,
                   pretrained: bool = False) -> tuple[nn.Module, int]:
    """Build backbone `name` for `in_channels`-channel `image_size` px crops.

    Returns `(module, feat_dim)`; the module maps `(B, in_channels, H, W)` to `(B, feat_dim)`.
    With `pretrained=True` ImageNet weights are loaded where shapes allow (first conv adapted
    to C channels); the report is in `module.weights_report` (see `models.pretrained`).
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}. Valid names: {', '.join(BACKBONES)}.")
    if not isinstance(in_channels, Integral) or isinstance(in_channels, bool) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}.")
    if not isinstance(image_size, Integral) or isinstance(image_size, bool) or image_size < MIN_IMAGE:
        raise ValueError(f"image_size must be an integer of at least {MIN_IMAGE} px, got {image_size!r}.")
    in_channels, image_size = int(in_channels), int(image_size)
    if name == "tiny_cnn":
        net: nn.Module = TinyCNN(in_channels)
        dim = net.out_dim
    elif name == "resnet18":
        net, dim = _resnet(tvm.resnet18, in_channels, image_size), 512
    elif name == "resnet50":
        net, dim = _resnet(tvm.resnet50, in_channels, image_size), 2048
    elif name == "vgg11":
        net, dim = VGGFeatures("A", in_channels, image_size), 512
    elif name == "vgg13":
        net, dim = VGGFeatures("B", in_channels, image_size), 512
    else:
        net, dim = _convnext_tiny(in_channels, image_size), 768
    net.weights_report = {"source": "random", "loaded": [], "skipped": []}
    if pretrained:
        if name not in TORCHVISION_ARCH:
            raise ValueError(f"No ImageNet weights exist for {name!r}; "
                             f"choose one of {', '.join(TORCHVISION_ARCH)} or pretrained=False.")
        from ssrl_core.models.pretrained import load_imagenet
        net.weights_report = load_imagenet(net, TORCHVISION_ARCH[name], in_channels)
    return net, dim
