"""Validation of a run config: every problem, in plain words, in one list (`ConfigError`).

Every field is checked against its one declaration in `train.fields` (an `ssrl_core.params.Param`:
whole numbers, numbers, choices, switches, texts, each with its range), in the run config's
wording; `WORDING` gives the sentence of the fields whose message says more, with the numbers read
from the same declaration. Names (method, backbone, presets, method parameters) are checked
against the registries of `ssrl_core.methods` and `ssrl_core.augment`; a few rules join two
fields (`init` with `pretrained`, the recipes' weights).
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssrl_core.train.config import RecipeConfig, RunConfig

from ssrl_core.augment import PRESETS
from ssrl_core.methods import method_params
from ssrl_core.methods.params import resolve_params
from ssrl_core.params import Param
from ssrl_core.train.fields import FIELDS, PARAM

# Checked by name against a registry (their own sentences below), not by the generic rule.
NAMED = ("method.name", "backbone", "recipes.preset", "recipes.recipe")
# Sentences that say more than the generic one; {low}, {high}, {value}, {i} are filled in.
WORDING = {
    "name": "'name' must be a short text naming the run",
    "data.name": "'data.name' must name a dataset (see `ssrl data list`) or give a file path",
    "data.filter": "'data.filter' must map a metadata column to a value or a list of values",
    "data.exclude": "'data.exclude' must map a metadata column to a value or a list of values",
    "data.max_cells": "'data.max_cells' must be a whole number from {low} to {high:,} (or left out); got {value!r}",
    "method.params": "'method.params' must be a mapping of parameter names to values",
    "recipes.weight": "recipes[{i}].weight must be a number >= {low:g} and at most {high:g}; got {value!r}",
    "max_steps": "'max_steps' must be a whole number from {low} to {high:,} (or left out); got {value!r}",
    "lr": "'lr' (learning rate) must be a number above 0 and finite, e.g. 0.001; got {value!r}",
    "max_minutes": "'max_minutes' must be a number of minutes above 0 (at most a week), or left out; got {value!r}",
    "freeze": "'freeze' must be a whole number of the encoder's first stages to keep fixed, {low} to {high}; "
              "got {value!r}",
    "init": "'init' must name a shipped encoder, a run folder or a checkpoint file (or be left out)",
    "num_workers": "'num_workers' must be 'auto' (chosen from the CPU cores per GPU) or a whole number of data "
                   "loader processes from {low} to {high}; got {value!r}",
    "sync_batchnorm": "'sync_batchnorm' must be 'auto' (on under several GPUs for the methods whose papers use "
                      "it), true or false; got {value!r}",
}


class ConfigError(ValueError):
    """A run configuration with one or more problems (all listed in the message)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("The run configuration has problems:\n  - " + "\n  - ".join(self.problems))


def validate(cfg: RunConfig) -> list[str]:
    """Every problem of a config, in plain words (an empty list means it is fine)."""
    p = check_section(cfg, "") + check_section(cfg.data, "data.")
    if not cfg.recipes:
        p.append("'recipes' needs at least one recipe (a preset name or an inline recipe)")
    for i, r in enumerate(cfg.recipes):
        if (r.preset is None) == (r.recipe is None):
            p.append(f"recipes[{i}] must give exactly one of 'preset' (a name) or 'recipe' (an inline recipe)")
        p += check_section(r, "recipes.", i) + _check_recipe(i, r)
    if cfg.recipes and all(_is_num(r.weight) and r.weight == 0 for r in cfg.recipes):
        p.append("at least one recipe weight must be above 0")
    p += _check_name("method.name", cfg.method.name, FIELDS["method.name"].choices)
    p += check_section(cfg.method, "method.")
    if isinstance(cfg.method.params, dict):
        p += _check_method_params(cfg.method.name, cfg.method.params)
    p += _check_name("backbone", cfg.backbone, FIELDS["backbone"].choices, ", e.g. resnet18")
    if cfg.init is not None and cfg.pretrained is True:
        p.append("'init' and 'pretrained: true' both choose the starting weights; keep one of them")
    return p


def check_section(section: Any, prefix: str, index: int | None = None) -> list[str]:
    """The problems of the declared plain fields of one section (`RunConfig`, `DataConfig`, a
    `RecipeConfig` at `index`, `MethodConfig`), each against its `Param` in `train.fields`."""
    out = []
    for f in fields(section):
        spec: Param | None = f.metadata.get(PARAM)
        path = prefix + f.name
        if spec is None or path in NAMED:
            continue
        value = getattr(section, f.name)
        problem = spec.problem(path, value, "config")
        if problem:
            out.append(WORDING[path].format(low=spec.low, high=spec.high, value=value, i=index)
                       if path in WORDING else problem)
    return out


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_name(label: str, value: Any, names: Any, example: str = "") -> list[str]:
    """A name that must be one of `names` (a registry)."""
    if not isinstance(value, str) or not value:
        return [f"'{label}' must be a name{example}"]
    if value not in names:
        return [f"'{label}' is {value!r}; choose one of {', '.join(sorted(names))}"]
    return []


def _check_method_params(name: Any, params: dict[str, Any]) -> list[str]:
    if name not in FIELDS["method.name"].choices:
        return []
    try:
        resolve_params(name, method_params(name), params)
    except ValueError as exc:
        return [f"method.params: {exc}"]
    return []


def _check_recipe(i: int, r: RecipeConfig) -> list[str]:
    """The problems of recipes[i]; a valid one leaves its `Recipe` parsed in `r.parsed`."""
    if r.preset is not None:
        if r.preset not in PRESETS:
            return [f"recipes[{i}].preset is {r.preset!r}; choose one of {', '.join(sorted(PRESETS))}"]
        r.parsed  # a copy of the preset, kept by the config (parsed once)
    elif isinstance(r.recipe, dict):
        try:
            r.parsed  # read and checked once; the config keeps the Recipe for training
        except ValueError as exc:
            return [f"recipes[{i}].recipe is not a valid recipe: {exc}"]
    elif r.recipe is not None:
        return [f"recipes[{i}].recipe must be a mapping (an inline recipe)"]
    return []
