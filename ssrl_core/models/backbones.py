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
- `tiny_cnn`: four 3x3 conv layers (64-d), for tests;
- CPU-practical variants (measured in docs/methods.md): `resnet18_s2` keeps ResNet18's layers
  but its small-image stem is a 3x3 convolution of stride 2 (4x fewer FLOPs than the stride-1
  stem at the same size, ImageNet weights still fit every layer but the first); `resnet18_half`
  is the same at half the width (32-64-128-256 channels, about 4x fewer FLOPs again);
  `small_cnn` is a VGG-style 8-layer CNN with batch norm (32-64-128-256 channels, 256-d), a
  stronger small encoder than `tiny_cnn` at a few hundred MFLOPs per 64 px image.

Each backbone maps `(B, C, H, W)` float32 to `(B, feat_dim)`.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch
from torch import nn

from ssrl_core.models.pretrained import load_imagenet

SMALL_IMAGE = 64  # at or below this size the small-image stems are used
MIN_IMAGE = 16

BACKBONES: dict[str, str] = {
    "tiny_cnn": "4 conv layers, 64-d features; seconds per epoch on CPU (tests, demos)",
    "vgg11": "VGG11 with batch norm, global average pool, 512-d (paper: MNIST)",
    "vgg13": "VGG13 with batch norm, global average pool, 512-d (paper: BBBC021 cells)",
    "small_cnn": "8 conv layers with batch norm, 256-d; a fast, strong encoder for CPU training",
    "resnet18_half": "ResNet18 at half width, stride-2 3x3 stem at <= 64 px, 256-d (fast on CPU)",
    "resnet18_s2": "ResNet18, stride-2 3x3 stem at <= 64 px (4x cheaper than resnet18), 512-d",
    "resnet18": "ResNet18, 3x3 stride-1 stem without max-pool at <= 64 px, 512-d (slow on CPU)",
    "resnet50": "ResNet50, 3x3 stem without max-pool at <= 64 px, 2048-d (slow on CPU)",
    "convnext_tiny": "ConvNeXt-Tiny, stride-2 stem at <= 64 px, 768-d (slow on CPU)",
}

# torchvision architecture name whose ImageNet weights fit each backbone
TORCHVISION_ARCH: dict[str, str] = {
    "vgg11": "vgg11_bn", "vgg13": "vgg13_bn", "resnet18": "resnet18", "resnet18_s2": "resnet18",
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


class SmallCNN(nn.Module):
    """VGG-style: pairs of 3x3 conv + BN + ReLU at widths w, 2w, 4w, 8w, a 2x2 max-pool after the
    first three pairs, then a global average pool (8w-d). About 0.3 GFLOPs at 64 px for w=32."""

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        chans = in_channels
        for stage, out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            for _ in range(2):
                layers += [nn.Conv2d(chans, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                chans = out
            if stage < 3:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out_dim = chans
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)


class PerChannel(nn.Module):
    """A grey-scale (1-channel) encoder applied to each channel, features concatenated.

    In the spirit of the channel-adaptive models the paper cites (e.g. treating each
    fluorescence channel as its own image, as in ChannelViT / DINO-based per-channel
    encoders): one set of weights embeds images of any channel count C, giving C x D features
    in channel order. The state dict is the inner encoder's, under `inner.`.
    """

    def __init__(self, inner: nn.Module, inner_dim: int, in_channels: int) -> None:
        super().__init__()
        self.inner, self.inner_dim, self.in_channels = inner, int(inner_dim), int(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        feats = self.inner(x.reshape(b * c, 1, h, w))
        return feats.reshape(b, c * self.inner_dim)


def _resnet(arch: str, in_channels: int, image_size: int, stem_stride: int = 1,
            width: int = 64) -> nn.Module:
    # imported when needed: torchvision loads torch._dynamo (seconds of CPU)
    from torchvision import models

    net = getattr(models, arch)(weights=None) if width == 64 else _narrow_resnet(width)
    if image_size <= SMALL_IMAGE:
        net.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=stem_stride, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
    net.fc = nn.Identity()
    return net


def _narrow_resnet(width: int) -> nn.Module:
    """ResNet18 (BasicBlock, [2, 2, 2, 2]) with stage widths width x (1, 2, 4, 8)."""
    from torchvision.models.resnet import BasicBlock, ResNet

    class _Narrow(ResNet):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self._norm_layer, self.inplanes, self.dilation = nn.BatchNorm2d, width, 1
            self.groups, self.base_width = 1, 64
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1, self.relu = nn.BatchNorm2d(width), nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(BasicBlock, width, 2)
            self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
            self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
            self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Identity()
            for m in self.modules():  # torchvision's ResNet initialisation
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    return _Narrow()


class VGGFeatures(nn.Module):
    """torchvision VGG `features` (same state-dict keys) + global average pool, no classifier."""

    def __init__(self, cfg: str, in_channels: int, image_size: int) -> None:
        super().__init__()
        # imported when needed: torchvision loads torch._dynamo (seconds of CPU)
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs[cfg], batch_norm=True)
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
    from torchvision.models import convnext_tiny

    net = convnext_tiny(weights=None)
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
                   pretrained: bool = False, per_channel: bool = False) -> tuple[nn.Module, int]:
    """Build backbone `name` for `in_channels`-channel `image_size` px crops.

    Returns `(module, feat_dim)`; the module maps `(B, in_channels, H, W)` to `(B, feat_dim)`.
    With `pretrained=True` ImageNet weights are loaded where shapes allow (first conv adapted
    to C channels); the report is in `module.weights_report` (see `models.pretrained`).
    With `per_channel=True` a 1-channel encoder is applied to every channel (`PerChannel`) and
    `feat_dim` is `in_channels` times its width.
    """
    if per_channel:
        if not isinstance(in_channels, Integral) or isinstance(in_channels, bool) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}.")
        inner, dim = build_backbone(name, 1, image_size, pretrained=pretrained)
        net = PerChannel(inner, dim, int(in_channels))
        net.weights_report = inner.weights_report
        return net, dim * int(in_channels)
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
    elif name == "small_cnn":
        net = SmallCNN(in_channels)
        dim = net.out_dim
    elif name == "resnet18_s2":
        net, dim = _resnet("resnet18", in_channels, image_size, stem_stride=2), 512
    elif name == "resnet18_half":
        net, dim = _resnet("resnet18", in_channels, image_size, stem_stride=2, width=32), 256
    elif name == "resnet18":
        net, dim = _resnet("resnet18", in_channels, image_size), 512
    elif name == "resnet50":
        net, dim = _resnet("resnet50", in_channels, image_size), 2048
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
        net.weights_report = load_imagenet(net, TORCHVISION_ARCH[name], in_channels)
    return net, dim
