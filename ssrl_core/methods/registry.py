"""Name -> method registry (solo-learn style): `METHODS`, `build_method`, `default_params`."""

from __future__ import annotations

from numbers import Integral
from typing import Any

from torch import nn

from ssrl_core.methods import barlow_twins, byol, moco_v2, simclr, vicreg
from ssrl_core.methods.base import SSLMethod
from ssrl_core.methods.params import resolve_params
from ssrl_core.params import Param, defaults

METHODS: dict[str, type[SSLMethod]] = {
    "moco_v2": moco_v2.MoCoV2,
    "byol": byol.BYOL,
    "simclr": simclr.SimCLR,
    "vicreg": vicreg.VICReg,
    "barlow_twins": barlow_twins.BarlowTwins,
}

METHOD_PARAMS: dict[str, dict[str, Param]] = {
    "moco_v2": moco_v2.PARAMS,
    "byol": byol.PARAMS,
    "simclr": simclr.PARAMS,
    "vicreg": vicreg.PARAMS,
    "barlow_twins": barlow_twins.PARAMS,
}

DESCRIPTIONS: dict[str, str] = {
    "moco_v2": "MoCo v2: contrast with a queue of keys from a momentum encoder (Chen et al. 2020)",
    "byol": "BYOL: predict an EMA target network's projection, no negatives (Grill et al. 2020)",
    "simclr": "SimCLR: NT-Xent contrast within the batch (Chen et al. 2020)",
    "vicreg": "VICReg: invariance + variance + covariance terms (Bardes et al. 2022)",
    "barlow_twins": "Barlow Twins: cross-correlation to identity (Zbontar et al. 2021)",
}


def _check_name(name: str) -> None:
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}. Valid names: {', '.join(METHODS)}.")


def method_params(name: str) -> dict[str, Param]:
    """The declared parameters of method `name` (kind, default, range, help)."""
    _check_name(name)
    return dict(METHOD_PARAMS[name])


def default_params(name: str) -> dict[str, Any]:
    """The default parameter values of method `name`."""
    _check_name(name)
    return defaults(METHOD_PARAMS[name])


def build_method(name: str, backbone: nn.Module, feat_dim: int, **params: Any) -> SSLMethod:
    """Method `name` on `backbone` (output `feat_dim`), with `params` checked against its ranges."""
    _check_name(name)
    if not isinstance(feat_dim, Integral) or isinstance(feat_dim, bool) or feat_dim < 1:
        raise ValueError(f"feat_dim must be a positive integer, got {feat_dim!r}.")
    return METHODS[name](backbone, int(feat_dim), **resolve_params(name, METHOD_PARAMS[name], params))
