"""Validation of a run config: every problem, in plain words, in one list (`ConfigError`).

Names (method, backbone, presets, method parameters) are checked against the registries of
`ssrl_core.methods`, `ssrl_core.models` and `ssrl_core.augment`; the plain fields (whole numbers,
numbers, choices, switches) are `ssrl_core.params.Param`s, checked in the run config's wording.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssrl_core.train.config import RecipeConfig, RunConfig

from ssrl_core.augment import PRESETS
from ssrl_core.devices import DEVICES, PRECISIONS
from ssrl_core.methods import METHOD_PARAMS, METHODS
from ssrl_core.methods.params import resolve_params
from ssrl_core.models import BACKBONES
from ssrl_core.params import Param

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")
AUGMENT_ON = ("cpu", "device")  # where views are made: DataLoader workers, or batched on the training device
# The plain fields of a run config (their defaults live in `RunConfig`). Sane ranges (inclusive):
# a value outside would only fail later, deep inside training.
WHOLE_FIELDS = {k: Param("int", low=lo, high=hi) for k, (lo, hi) in {
    "crop_size": (16, 1024), "epochs": (1, 100_000), "batch_size": (2, 65_536), "log_every": (1, 10**6),
    "cpu_threads": (0, 4096), "checkpoint_every": (0, 100_000), "checkpoint_steps": (0, 10**9),
    "seed": (0, 2**32 - 1)}.items()}
NUMBER_FIELDS = {k: Param("float", low=lo, high=hi) for k, (lo, hi) in {
    "weight_decay": (0.0, 10.0), "momentum": (0.0, 1.0), "warmup_epochs": (0.0, 100_000.0),
    "checkpoint_minutes": (0.0, 10080.0)}.items()}
CHOICE_FIELDS = {k: Param("choice", choices=tuple(c)) for k, c in {
    "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "device": DEVICES, "precision": PRECISIONS,
    "augment_on": AUGMENT_ON}.items()}
SWITCH_FIELDS = {k: Param("bool") for k in ("pretrained", "per_channel", "drop_last", "channels_last", "compile")}
MAX_WEIGHT = 1000.0
MAX_STEPS = 10**9


class ConfigError(ValueError):
    """A run configuration with one or more problems (all listed in the message)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("The run configuration has problems:\n  - " + "\n  - ".join(self.problems))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_finite(v: Any) -> bool:
    return _is_num(v) and math.isfinite(v)


def validate(cfg: RunConfig) -> list[str]:
    """Every problem of a config, in plain words (an empty list means it is fine)."""
    p: list[str] = []
    if not isinstance(cfg.name, str) or not cfg.name.strip():
        p.append("'name' must be a short text naming the run")
    if not isinstance(cfg.data.name, str) or not cfg.data.name:
        p.append("'data.name' must name a dataset (see `ssrl data list`) or give a file path")
    for key in ("filter", "exclude"):
        if not isinstance(getattr(cfg.data, key), dict):
            p.append(f"'data.{key}' must map a metadata column to a value or a list of values")
    if cfg.data.max_cells is not None and (not _is_int(cfg.data.max_cells) or not 2 <= cfg.data.max_cells <= MAX_STEPS):
        p.append(f"'data.max_cells' must be a whole number from 2 to {MAX_STEPS:,} (or left out); "
                 f"got {cfg.data.max_cells!r}")
    if not cfg.recipes:
        p.append("'recipes' needs at least one recipe (a preset name or an inline recipe)")
    for i, r in enumerate(cfg.recipes):
        if (r.preset is None) == (r.recipe is None):
            p.append(f"recipes[{i}] must give exactly one of 'preset' (a name) or 'recipe' (an inline recipe)")
        if not _is_finite(r.weight) or not 0 <= r.weight <= MAX_WEIGHT:
            p.append(f"recipes[{i}].weight must be a number >= 0 and at most {MAX_WEIGHT:g}; got {r.weight!r}")
        p += _check_recipe(i, r)
    if cfg.recipes and all(_is_num(r.weight) and r.weight == 0 for r in cfg.recipes):
        p.append("at least one recipe weight must be above 0")
    p += _check_name("method.name", cfg.method.name, METHODS)
    if not isinstance(cfg.method.params, dict):
        p.append("'method.params' must be a mapping of parameter names to values")
    else:
        p += _check_method_params(cfg.method.name, cfg.method.params)
    p += _check_name("backbone", cfg.backbone, BACKBONES, ", e.g. resnet18")
    p += _check_fields(cfg, WHOLE_FIELDS)
    if cfg.max_steps is not None and (not _is_int(cfg.max_steps) or not 1 <= cfg.max_steps <= MAX_STEPS):
        p.append(f"'max_steps' must be a whole number from 1 to {MAX_STEPS:,} (or left out); got {cfg.max_steps!r}")
    if not _is_finite(cfg.lr) or cfg.lr <= 0:  # a finite but huge one ends in a plain "loss became NaN"
        p.append(f"'lr' (learning rate) must be a number above 0 and finite, e.g. 0.001; got {cfg.lr!r}")
    p += _check_fields(cfg, NUMBER_FIELDS) + _check_fields(cfg, CHOICE_FIELDS)
    if cfg.max_minutes is not None and (not _is_num(cfg.max_minutes) or not 0 < cfg.max_minutes <= 10080):
        p.append(f"'max_minutes' must be a number of minutes above 0 (at most a week), or left out; "
                 f"got {cfg.max_minutes!r}")
    if not _is_int(cfg.freeze) or not 0 <= cfg.freeze <= 8:
        p.append(f"'freeze' must be a whole number of the encoder's first stages to keep fixed, 0 to 8; "
                 f"got {cfg.freeze!r}")
    if cfg.init is not None and (not isinstance(cfg.init, str) or not cfg.init.strip()):
        p.append("'init' must name a shipped encoder, a run folder or a checkpoint file (or be left out)")
    if cfg.init is not None and cfg.pretrained is True:
        p.append("'init' and 'pretrained: true' both choose the starting weights; keep one of them")
    if cfg.num_workers != "auto" and (not _is_int(cfg.num_workers) or not 0 <= cfg.num_workers <= 256):
        p.append(f"'num_workers' must be 'auto' (chosen from the CPU cores per GPU) or a whole number of data "
                 f"loader processes from 0 to 256; got {cfg.num_workers!r}")
    if cfg.sync_batchnorm not in ("auto", True, False):
        p.append(f"'sync_batchnorm' must be 'auto' (on under several GPUs for the methods whose papers use it), "
                 f"true or false; got {cfg.sync_batchnorm!r}")
    return p + _check_fields(cfg, SWITCH_FIELDS)


def _check_fields(cfg: RunConfig, params: dict[str, Param]) -> list[str]:
    """The problems of the plain fields `params` of `cfg`, in the run config's wording."""
    return [m for m in (spec.problem(key, getattr(cfg, key), "config") for key, spec in params.items()) if m]


def _check_name(label: str, value: Any, names: Any, example: str = "") -> list[str]:
    """A name that must be one of `names` (a registry)."""
    if not isinstance(value, str) or not value:
        return [f"'{label}' must be a name{example}"]
    if value not in names:
        return [f"'{label}' is {value!r}; choose one of {', '.join(sorted(names))}"]
    return []


def _check_method_params(name: Any, params: dict[str, Any]) -> list[str]:
    if name not in METHOD_PARAMS:
        return []
    try:
        resolve_params(name, METHOD_PARAMS[name], params)
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
