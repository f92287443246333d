"""The methods, declared once: a list of classes, each carrying its name, words and parameters.

`CLASSES` is the registry (solo-learn style, one entry per method). Each class carries `name`,
`label`, `description` (plain words and the paper) and `PARAMS` (`ssrl_core.params.Param`s whose
defaults are read from the class's own `__init__`); `METHODS` (name -> class), `method_params`,
`default_params` and `build_method` read them from there.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from torch import nn

from ssrl_core.methods.barlow_twins import BarlowTwins
from ssrl_core.methods.base import SSLMethod
from ssrl_core.methods.byol import BYOL
from ssrl_core.methods.moco_v2 import MoCoV2
from ssrl_core.methods.params import resolve_params
from ssrl_core.methods.simclr import SimCLR
from ssrl_core.methods.vicreg import VICReg
from ssrl_core.params import Param, defaults

CLASSES: tuple[type[SSLMethod], ...] = (MoCoV2, BYOL, SimCLR, VICReg, BarlowTwins)
METHODS: dict[str, type[SSLMethod]] = {cls.name: cls for cls in CLASSES}


def _check_name(name: str) -> None:
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}. Valid names: {', '.join(METHODS)}.")


def method_params(name: str) -> dict[str, Param]:
    """The declared parameters of method `name` (kind, default, range, help)."""
    _check_name(name)
    return dict(METHODS[name].PARAMS)


def default_params(name: str) -> dict[str, Any]:
    """The default parameter values of method `name`."""
    _check_name(name)
    return defaults(METHODS[name].PARAMS)


def build_method(name: str, backbone: nn.Module, feat_dim: int, **params: Any) -> SSLMethod:
    """Method `name` on `backbone` (output `feat_dim`), with `params` checked against its ranges."""
    _check_name(name)
    if not isinstance(feat_dim, Integral) or isinstance(feat_dim, bool) or feat_dim < 1:
        raise ValueError(f"feat_dim must be a positive integer, got {feat_dim!r}.")
    return METHODS[name](backbone, int(feat_dim), **resolve_params(name, METHODS[name].PARAMS, params))
