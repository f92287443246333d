"""Method hyper-parameters: each method's declaration, and the check of what a user gave.

Each method class declares `PARAMS: dict[str, Param]` (`ssrl_core.params.Param`) in its body,
right after `__init__`, with `from_signature(__init__, name=Param(kind, low=, high=, help=))`: the
default of every parameter is written once, in the method's own `__init__`, and the declaration
adds its kind, valid range and plain-words help. The Train page reads them (`method_params`) to
draw widgets; `resolve_params` checks what a user or a config file gave.
"""

from __future__ import annotations

from typing import Any

from ssrl_core.params import Param, defaults


class MethodParamError(ValueError):
    """Invalid method parameters; the message lists every problem."""


def resolve_params(method: str, specs: dict[str, Param], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by `given`; raises MethodParamError listing every problem."""
    out = defaults(specs)
    problems = []
    for name, value in given.items():
        if name not in specs:
            problems.append(f"unknown parameter {name!r} (valid: {', '.join(specs) or 'none'})")
            continue
        value, problem = specs[name].check(name, value, "method")
        if problem:
            problems.append(problem)
        out[name] = value
    if problems:
        raise MethodParamError(f"Invalid parameters for {method}: " + "; ".join(problems) + ".")
    return out
