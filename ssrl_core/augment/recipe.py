"""Recipes: an ordered list of steps (transform name, parameters, probability) as plain data.

After Bendidi et al. 2024 (sections 3.2-3.4), the composition of transformations decides which
features a self-supervised representation keeps, so a recipe is data a user can read, edit,
save as YAML and share. Loading checks everything at once and raises a single `RecipeError`
that lists every problem in plain words. Only the safe loader is used, with size and alias-expansion limits (`ssrl_core.io.parse_yaml`).

A saved recipe carries its schema `version` (`SCHEMA_VERSION`), as checkpoints store recipes: a
file without one is an older recipe and reads as version 1; a newer version than this code knows
is refused in words instead of being half-understood.
"""

from __future__ import annotations

import copy as _copy
import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml

from ssrl_core.io import parse_yaml

from .catalog import CATALOG
from .spec import RecipeError

OUT_SIZE_RANGE = (4, 2048)
SCHEMA_VERSION = 1  # bump when a recipe's keys change meaning; read older versions in from_dict
RECIPE_KEYS = ("version", "name", "description", "out_size", "steps")


DRAWS = ("view", "pair")  # a step's random draw: new for every view, or one per pair of views


@dataclass
class Step:
    """One transform of a recipe. Missing parameters of a known transform get their defaults.

    `draw` says when the step's randomness (whether it applies, and its random parameters) is
    drawn: `view` (default) anew for each view, `pair` once per pair, so both views of a cell
    get the same draw (e.g. the same inversion, so the pair never has opposite polarities).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    p: float = 1.0
    enabled: bool = True
    draw: str = "view"

    def __post_init__(self) -> None:
        spec = CATALOG.get(self.name)
        if spec is None or not isinstance(self.params, dict):
            return
        full = spec.defaults()
        full.update(self.params)
        self.params = {k: spec.params[k].stored(v) if k in spec.params else v for k, v in full.items()}
        if isinstance(self.p, int) and not isinstance(self.p, bool):
            self.p = float(self.p)

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "p": self.p, "enabled": self.enabled, "params": _copy.deepcopy(self.params)}
        if self.draw != "view":
            d["draw"] = self.draw
        return d


@dataclass
class Recipe:
    """A named, ordered list of steps; `out_size` is the side of the square output views
    (None: the input size). `description` says what the recipe is for (optional)."""

    name: str
    steps: list[Step] = field(default_factory=list)
    out_size: int | None = None
    description: str = ""
    _checked: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def copy(self) -> "Recipe":
        return _copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": SCHEMA_VERSION, "name": self.name, "out_size": self.out_size}
        if self.description:
            d["description"] = self.description
        d["steps"] = [s.to_dict() for s in self.steps]
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=False)

    @classmethod
    def from_dict(cls, d: Any) -> "Recipe":
        problems = recipe_problems(d)
        if problems:
            raise RecipeError(problems)
        steps = [Step(s["name"], dict(s.get("params") or {}), s.get("p", CATALOG[s["name"]].default_p),
                      s.get("enabled", True), s.get("draw", "view")) for s in d.get("steps") or []]
        recipe = cls(str(d["name"]), steps, d.get("out_size"), str(d.get("description") or ""))
        recipe._checked = recipe.to_dict()  # checked above: `validate` need not check it again
        return recipe

    @classmethod
    def from_yaml(cls, text: str) -> "Recipe":
        try:
            d = parse_yaml(text, "the recipe")  # safe loader with size and alias-expansion limits
        except ValueError as err:
            raise RecipeError(str(err)) from None
        return cls.from_dict(d)

    def validate(self) -> None:
        """Raise `RecipeError` listing every problem of this recipe (built in code or in the app).

        A recipe checked before (by `from_dict` or an earlier `validate`) and not changed since is
        not checked again (a run config's recipes are checked once, not again by each view maker).
        """
        d = self.to_dict()
        if d == self._checked:
            return
        problems = recipe_problems(d)
        if problems:
            raise RecipeError(problems)
        self._checked = d


def default_step(name: str) -> Step:
    """A step of transform `name` with default parameters and its usual probability."""
    if name not in CATALOG:
        raise RecipeError(_unknown(name))
    spec = CATALOG[name]
    return Step(name, spec.defaults(), spec.default_p, True)


def _unknown(name: Any) -> str:
    close = difflib.get_close_matches(str(name), list(CATALOG), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown transform '{name}'{hint}; available: {', '.join(CATALOG)}"


def step_problems(step: Step | dict[str, Any]) -> list[str]:
    """Plain-words problems of one step (empty list when valid); for the recipe editor."""
    d = step.to_dict() if isinstance(step, Step) else step
    if not isinstance(d, dict):
        return [f"a step must be a mapping with 'name', 'params', 'p', 'enabled' and 'draw', got {d!r}"]
    problems = [f"unexpected key '{k}' (allowed: name, params, p, enabled, draw)"
                for k in d if k not in ("name", "params", "p", "enabled", "draw")]
    if d.get("draw", "view") not in DRAWS:
        problems.append(f"'draw' must be 'view' (a new draw for each view) or 'pair' (one draw for both views "
                        f"of a pair), got {d.get('draw')!r}")
    name = d.get("name")
    if name not in CATALOG:
        return [("a step has no transform 'name'" if name is None else _unknown(name))] + problems
    spec = CATALOG[name]
    p = d.get("p", spec.default_p)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        problems.append(f"probability 'p' must be a number between 0 and 1, got {p!r}")
    if not isinstance(d.get("enabled", True), bool):
        problems.append(f"'enabled' must be true or false, got {d.get('enabled')!r}")
    params = d.get("params") or {}
    if not isinstance(params, dict):
        return problems + [f"'params' must be a mapping of parameter names to values, got {params!r}"]
    for k, v in params.items():
        if k not in spec.params:
            allowed = ", ".join(spec.params) or "none"
            problems.append(f"unknown parameter '{k}' (parameters of {name}: {allowed})")
            continue
        msg = spec.params[k].problem(k, v)
        if msg:
            problems.append(msg)
    return problems


def recipe_problems(d: Any) -> list[str]:
    """Every problem of a recipe given as a dict (as read from YAML); empty list when valid."""
    if not isinstance(d, dict):
        return [f"a recipe must be a mapping with 'name' and 'steps', got {type(d).__name__}"]
    problems = [f"unexpected key '{k}' (allowed: {', '.join(RECIPE_KEYS)})" for k in d if k not in RECIPE_KEYS]
    version = d.get("version", 1)  # recipes saved before versions existed are version 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"'version' must be a whole number from 1 (the recipe format), got {version!r}")
    elif version > SCHEMA_VERSION:
        problems.append(f"this recipe was saved by a newer version of ssrl (recipe format {version}; this one "
                        f"reads up to {SCHEMA_VERSION}): update ssrl to read it")
    if not isinstance(d.get("name"), str) or not d.get("name"):
        problems.append("the recipe needs a 'name' (text)")
    if d.get("description") is not None and not isinstance(d.get("description"), str):
        problems.append("'description' must be text")
    size = d.get("out_size")
    lo, hi = OUT_SIZE_RANGE
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not lo <= size <= hi):
        problems.append(f"'out_size' must be empty (keep the input size) or a whole number of pixels "
                        f"between {lo} and {hi}, got {size!r}")
    steps = d.get("steps", [])
    if steps is None:
        steps = []
    if not isinstance(steps, list):
        return problems + ["'steps' must be a list of steps"]
    for i, s in enumerate(steps, 1):
        label = f"step {i}" + (f" ({s.get('name')})" if isinstance(s, dict) and s.get("name") in CATALOG else "")
        problems += [f"{label}: {m}" for m in step_problems(s)]
    return problems


def channel_problems(recipe: Recipe, channels: int) -> list[str]:
    """Problems of using `recipe` on images with `channels` channels (e.g. hue jitter needs RGB)."""
    out = []
    for i, s in enumerate(recipe.steps, 1):
        spec = CATALOG.get(s.name)
        if spec is None or not s.enabled:
            continue
        if spec.needs_rgb and channels != 3:
            out.append(f"step {i} ({spec.title}) needs a 3-channel RGB image, but these images have {channels} "
                       f"channel(s); use 'brightness_contrast' instead, or turn the step off")
        if channels < spec.min_channels:
            out.append(f"step {i} ({spec.title}) needs at least {spec.min_channels} channels, but these images "
                       f"have {channels}; turn the step off")
    return out


def describe(recipe: Recipe) -> str:
    """One plain sentence per step, e.g. '2. Rotate by a random angle of up to ±360° (always).'"""
    lines = []
    for i, s in enumerate(recipe.steps, 1):
        spec = CATALOG.get(s.name)
        what = spec.say(s.params) if spec else f"unknown transform '{s.name}'"
        when = "always" if s.p >= 1 else ("never" if s.p <= 0 else f"{s.p:.0%} of the time")
        if s.draw == "pair":
            when += ", the same for both views of a pair"
        lines.append(f"{i}. {what[0].upper()}{what[1:]} ({'turned off' if not s.enabled else when}).")
    size = f"{recipe.out_size}x{recipe.out_size} pixels" if recipe.out_size else "the input size"
    lines.append(f"Views are finally resized to {size}.")
    return "\n".join(lines)
