"""Backbones (any channel count, small crops) and projection heads.

`build_backbone(name, in_channels, image_size, pretrained=False) -> (module, feat_dim)`;
`BACKBONES` maps each name to a one-line description (for the app).
"""

from ssrl_core.models.backbones import BACKBONES, build_backbone
from ssrl_core.models.heads import mlp

__all__ = ["BACKBONES", "build_backbone", "mlp"]
