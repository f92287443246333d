"""Self-supervised methods: MoCo v2, BYOL, SimCLR, VICReg, Barlow Twins.

Each module holds a pure loss function of tensors, the method (heads + loss) and its `PARAMS`
(`ssrl_core.params.Param`s whose defaults are read from the method's `__init__`).
`build_method(name, backbone, feat_dim, **params) -> SSLMethod`; `METHODS` is the registry.
"""

from ssrl_core.methods.base import SSLMethod
from ssrl_core.methods.params import MethodParamError
from ssrl_core.methods.registry import (DESCRIPTIONS, METHOD_PARAMS, METHODS, build_method, default_params,
                                        method_params)

__all__ = ["DESCRIPTIONS", "METHOD_PARAMS", "METHODS", "MethodParamError", "SSLMethod",
           "build_method", "default_params", "method_params"]
