"""Self-supervised methods: MoCo v2, BYOL, SimCLR, VICReg, Barlow Twins.

Each module holds a pure loss function of tensors and the method class (heads + loss), which
carries its `name`, `label`, plain-words `description` and `PARAMS` (`ssrl_core.params.Param`s
whose defaults are read from the method's `__init__`). `CLASSES` is the registry;
`build_method(name, backbone, feat_dim, **params) -> SSLMethod`; `METHODS` maps name -> class.
"""

from ssrl_core.methods.base import SSLMethod
from ssrl_core.methods.params import MethodParamError
from ssrl_core.methods.registry import CLASSES, METHODS, build_method, default_params, method_params

__all__ = ["CLASSES", "METHODS", "MethodParamError", "SSLMethod", "build_method", "default_params",
           "method_params"]
