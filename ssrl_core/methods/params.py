"""Declared method parameters: defaults and valid ranges, checked with plain-words errors.

Each method module declares `PARAMS: dict[str, MethodParam]`; the app reads them to draw
widgets, and `resolve_params` checks what a user or a config file gave.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class MethodParamError(ValueError):
    """Invalid method parameters; the message lists every problem."""


@dataclass(frozen=True)
class MethodParam:
    """One hyper-parameter: `kind` is "float" | "int" | "bool"; `low`/`high` are inclusive."""

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""

    def check(self, name: str, value: Any) -> tuple[Any, str | None]:
        """Return (converted value, problem or None)."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value, None
            return value, f"{name} must be true or false, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, f"{name} must be a number, got {value!r}"
        if not math.isfinite(value):
            return value, f"{name} must be a finite number, got {value!r}"
        if self.kind == "int":
            if float(value) != int(value):
                return value, f"{name} must be a whole number, got {value!r}"
            value = int(value)
        else:
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return value, f"{name} must be between {self.low} and {self.high}, got {value!r}"
        return value, None


def defaults(specs: dict[str, MethodParam]) -> dict[str, Any]:
    """The default value of every declared parameter."""
    return {name: spec.default for name, spec in specs.items()}


def resolve_params(method: str, specs: dict[str, MethodParam], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by `given`; raises MethodParamError listing every problem."""
    out = defaults(specs)
    problems = []
    for name, value in given.items():
        if name not in specs:
            problems.append(f"unknown parameter {name!r} (valid: {', '.join(specs) or 'none'})")
            continue
        value, problem = specs[name].check(name, value)
        if problem:
            problems.append(problem)
        out[name] = value
    if problems:
        raise MethodParamError(f"Invalid parameters for {method}: " + "; ".join(problems) + ".")
    return out
