"""One parameter type for everything a user can set: augmentation steps, SSL methods, run configs.

A `Param` says what kind of value a setting takes, its valid range or choices, its default and,
in plain words, what it does. The app draws one control per `Param`; `Param.check` turns a wrong
value into a plain-words problem instead of a traceback (Bendidi et al. 2024, section 3: the
recipe, the method and its hyper-parameters are the experimental variables, so each one must be
checkable before a run starts).

The rules (what is valid, how a value is stored) are written once, here. The wording of a
problem depends on where the value came from, so that the messages people already see stay
as they were: `voice="recipe"` (a step of an augmentation recipe), `"method"` (a method's
hyper-parameter, listed after "Invalid parameters for ...") and `"config"` (a field of a run
config). A voice only chooses the sentences; the only rule it changes is `config`'s whole
numbers, which must be written as whole numbers (a run config is used as written, not converted).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

KINDS = ("float", "int", "bool", "choice", "range", "text", "mapping")
VOICES = ("recipe", "method", "config")


@dataclass(frozen=True)
class Param:
    """One user-settable parameter.

    `kind` is "float", "int", "bool", "choice" (one of `choices`), "range" (a `[min, max]` pair,
    both inside `low`..`high`), "text" (a non-empty text) or "mapping" (a dict); `low`/`high` are
    inclusive (None: no bound). `default` is a valid value (for "range" a list of two numbers).
    `label` is a short widget caption. `optional`: None (a field left out) is valid too; `words`:
    texts valid besides a value of `kind` (a run's `num_workers: auto`).
    """

    kind: str
    default: Any = None
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""
    optional: bool = False
    words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    def fresh_default(self) -> Any:
        """The default, as a new list for a range (so that editing it never changes the declaration)."""
        return list(self.default) if self.kind == "range" else self.default

    def check(self, name: str, value: Any, voice: str = "recipe") -> tuple[Any, str | None]:
        """(the stored form of `value`, the problem in plain words or None when it is valid).

        The stored form: floats as float, whole numbers as int, ranges as 2-item lists of floats;
        an invalid value is returned unchanged (a tuple as a list) so that it can still be reported.
        """
        reason, stored = _judge(self, value, exact_ints=voice == "config")
        if reason is None:
            return stored, None
        return (list(value) if isinstance(value, tuple) else value), _say(self, name, value, stored, reason, voice)

    def problem(self, name: str, value: Any, voice: str = "recipe") -> str | None:
        """The plain-words problem with `value`, or None when it is valid."""
        return self.check(name, value, voice)[1]

    def stored(self, value: Any) -> Any:
        """The stored form of a valid value; an invalid one unchanged (see `check`)."""
        return self.check("value", value)[0]


def defaults(params: dict[str, Param]) -> dict[str, Any]:
    """A fresh dict of the default value of every parameter."""
    return {name: p.fresh_default() for name, p in params.items()}


def from_signature(fn: Callable[..., Any], **params: Param) -> dict[str, Param]:
    """The declared parameters of `fn`, each default read from `fn`'s own signature.

    A method writes each default once, in its `__init__`; the declaration adds kind, range and
    help. Every keyword of `fn` that has a default must be declared and every declared name must
    be such a keyword, and each default must be valid: a mismatch fails at import, not in a run.
    """
    sig = {k: p.default for k, p in inspect.signature(fn).parameters.items()
           if p.default is not inspect.Parameter.empty}
    if set(sig) != set(params):
        raise TypeError(f"{fn.__qualname__}: declared parameters {sorted(params)} do not match the "
                        f"keywords with defaults {sorted(sig)}")
    out = {name: replace(p, default=sig[name]) for name, p in params.items()}
    for name, p in out.items():
        problem = p.problem(name, p.default, "method")
        if problem:
            raise TypeError(f"{fn.__qualname__}: the default is not valid: {problem}")
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _inside(p: Param, x: float) -> bool:
    return (p.low is None or x >= p.low) and (p.high is None or x <= p.high)


def _judge(p: Param, value: Any, exact_ints: bool) -> tuple[str | None, Any]:
    """(why `value` is invalid for `p`, or None; its stored form). The rules, written once."""
    if (value is None and p.optional) or (isinstance(value, str) and value in p.words):
        return None, value
    if p.kind == "text":
        return (None if isinstance(value, str) and value.strip() else "text"), value
    if p.kind == "mapping":
        return (None if isinstance(value, dict) else "mapping"), value
    if p.kind == "bool":
        return (None if isinstance(value, bool) else "bool"), value
    if p.kind == "choice":
        return (None if value in p.choices else "choice"), value
    if p.kind == "range":
        if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value))):
            return "pair", value
        a, b = float(value[0]), float(value[1])
        if a > b:
            return "order", value
        return (None if _inside(p, a) and _inside(p, b) else "outside"), [a, b]
    if not _is_number(value):
        return "not_number", value
    if isinstance(value, float) and not math.isfinite(value):  # an int is finite, however large
        return ("nan" if value != value else "infinite"), value
    if p.kind == "int":
        if not (isinstance(value, int) or (value.is_integer() and not exact_ints)):
            return "not_whole", value
        value = int(value)
    else:
        try:
            value = float(value)
        except OverflowError:  # an int too large for a float is compared as it is
            pass
    return (None if _inside(p, value) else "bounds"), value


def _g(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def _say(p: Param, name: str, value: Any, stored: Any, reason: str, voice: str) -> str:
    """The sentence for `reason` in `voice` (the wording each part of the product has always used)."""
    if reason == "choice":
        return f"'{name}' must be one of {', '.join(p.choices)}; got {value!r}"
    if reason in ("text", "mapping"):
        return f"'{name}' must be {'a text' if reason == 'text' else 'a mapping of names to values'}; got {value!r}"
    if voice == "method":
        return _say_method(p, name, value, stored, reason)
    if voice == "config":
        return _say_config(p, name, value, reason)
    between = f"between {_g(p.low)} and {_g(p.high)}"
    if reason == "bool":
        return f"'{name}' must be true or false, got {value!r}"
    if reason == "pair":
        return f"'{name}' must be a pair of numbers [min, max] {between}, got {value!r}"
    if reason == "order":
        return f"'{name}': the first number (min) must not be larger than the second (max), got {list(value)}"
    if reason == "outside":
        return f"'{name}' must stay {between}, got {list(value)}"
    if p.kind == "int" and reason != "bounds":
        return f"'{name}' must be a whole number {between}, got {value!r}"
    if reason in ("not_number", "nan"):
        return f"'{name}' must be a number {between}, got {value!r}"
    return f"'{name}' must be {between}, got {value!r}"  # out of bounds, or infinite


def _say_method(p: Param, name: str, value: Any, stored: Any, reason: str) -> str:
    if reason == "bool":
        return f"{name} must be true or false, got {value!r}"
    if reason == "not_number":
        return f"{name} must be a number, got {value!r}"
    if reason in ("nan", "infinite"):
        return f"{name} must be a finite number, got {value!r}"
    if reason == "not_whole":
        return f"{name} must be a whole number, got {value!r}"
    if reason == "bounds":
        return f"{name} must be between {p.low} and {p.high}, got {stored!r}"
    return _say(p, name, value, stored, reason, "recipe")  # ranges: no method has one


def _say_config(p: Param, name: str, value: Any, reason: str) -> str:
    if reason == "bool":
        return f"'{name}' must be true or false; got {value!r}"
    if p.kind == "int":
        return f"'{name}' must be a whole number from {_g(p.low)} to {p.high:,}; got {value!r}"
    if p.kind == "float":
        return f"'{name}' must be a number from {_g(p.low)} to {_g(p.high)}; got {value!r}"
    return _say(p, name, value, value, reason, "recipe")
