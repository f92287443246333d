"""Typed parameter specifications for augmentation steps, and their validation.

A recipe is plain data (Bendidi et al. 2024, section 3: the transformation composition is the
experimental variable), so every parameter a user can set is described here with a type, a
valid range and a default. The app draws one control per `ParamSpec`; `check_value` turns a
wrong value into a plain-words problem instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

ParamKind = str  # "float" | "int" | "bool" | "choice" | "range"
KINDS = ("float", "int", "bool", "choice", "range")


class RecipeError(ValueError):
    """An invalid recipe: the message lists every problem found, one per line."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        head = "The augmentation recipe has a problem:" if len(self.problems) == 1 else (
            f"The augmentation recipe has {len(self.problems)} problems:")
        super().__init__(head + "\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class ParamSpec:
    """One user-settable parameter.

    `kind` is "float", "int", "bool", "choice" or "range" (a `[min, max]` pair, both inside
    `low`..`high`). `default` is always a valid value; for "range" it is a list of two numbers.
    """

    kind: ParamKind
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")


@dataclass(frozen=True)
class TransformSpec:
    """A catalog entry: what the transform does, in plain words, and its parameters.

    `build(params, height, width, channels)` returns the albumentations transforms for one
    step and the image size after it; `say(params)` is a short phrase used by `describe`.
    """

    name: str
    title: str
    description: str
    params: dict[str, ParamSpec]
    build: Callable[..., tuple[list, tuple[int, int]]] = field(repr=False, compare=False)
    say: Callable[[dict[str, Any]], str] = field(repr=False, compare=False)
    default_p: float = 1.0
    needs_rgb: bool = False
    min_channels: int = 1

    def defaults(self) -> dict[str, Any]:
        """A fresh dict of default parameter values."""
        return {k: (list(s.default) if s.kind == "range" else s.default) for k, s in self.params.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def check_value(name: str, spec: ParamSpec, value: Any) -> str | None:
    """A plain-words problem with `value` for parameter `name`, or None when it is valid."""
    between = f"between {_fmt(spec.low)} and {_fmt(spec.high)}"
    if spec.kind == "bool":
        return None if isinstance(value, bool) else f"'{name}' must be true or false, got {value!r}"
    if spec.kind == "choice":
        if value in spec.choices:
            return None
        return f"'{name}' must be one of {', '.join(spec.choices)}; got {value!r}"
    if spec.kind == "range":
        if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))):
            return f"'{name}' must be a pair of numbers [min, max] {between}, got {value!r}"
        a, b = float(value[0]), float(value[1])
        if a > b:
            return f"'{name}': the first number (min) must not be larger than the second (max), got {list(value)}"
        if (spec.low is not None and a < spec.low) or (spec.high is not None and b > spec.high):
            return f"'{name}' must stay {between}, got {list(value)}"
        return None
    if spec.kind == "int":
        if not (_is_number(value) and float(value).is_integer()):
            return f"'{name}' must be a whole number {between}, got {value!r}"
    elif not _is_number(value) or value != value:  # float; NaN is not equal to itself
        return f"'{name}' must be a number {between}, got {value!r}"
    if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
        return f"'{name}' must be {between}, got {value!r}"
    return None


def canonical(spec: ParamSpec, value: Any) -> Any:
    """The stored form of a valid value: floats as float, ints as int, ranges as 2-item lists.

    Invalid values are returned unchanged so that validation can still report them.
    """
    if check_value("x", spec, value) is not None:
        return list(value) if isinstance(value, tuple) else value
    if spec.kind == "float":
        return float(value)
    if spec.kind == "int":
        return int(value)
    if spec.kind == "range":
        return [float(value[0]), float(value[1])]
    return value
