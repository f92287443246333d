"""Backbones (any channel count, small crops) and projection heads.

`build_backbone(name, in_channels, image_size, pretrained=False) -> (module, feat_dim)`;
`BACKBONES` maps each name to a one-line description (for the app).

Imported lazily (PEP 562), so `ssrl_core.models.shipped` (the index of shipped encoders, read by
the app's first page) does not import torch: the app paints before torch is loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"BACKBONES": "backbones", "build_backbone": "backbones", "mlp": "heads"}

__all__ = ["BACKBONES", "build_backbone", "mlp"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"ssrl_core.models.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ssrl_core.models' has no attribute {name!r}")
