"""Validation of a run config: every problem, in plain words, in one list.

Names (method, backbone, presets, method parameters) are checked against the registries of
`ssrl_core.methods`, `ssrl_core.models` and `ssrl_core.augment`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssrl_core.train.config import RecipeConfig, RunConfig

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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
    if cfg.data.max_cells is not None and (not _is_int(cfg.data.max_cells) or cfg.data.max_cells < 2):
        p.append(f"'data.max_cells' must be a whole number of at least 2 (or left out); got {cfg.data.max_cells!r}")
    if not cfg.recipes:
        p.append("'recipes' needs at least one recipe (a preset name or an inline recipe)")
    for i, r in enumerate(cfg.recipes):
        if (r.preset is None) == (r.recipe is None):
            p.append(f"recipes[{i}] must give exactly one of 'preset' (a name) or 'recipe' (an inline recipe)")
        if not _is_num(r.weight) or r.weight < 0:
            p.append(f"recipes[{i}].weight must be a number >= 0; got {r.weight!r}")
        p += _check_recipe(i, r)
    if cfg.recipes and all(_is_num(r.weight) and r.weight == 0 for r in cfg.recipes):
        p.append("at least one recipe weight must be above 0")
    p += _check_registry("method.name", cfg.method.name, "ssrl_core.methods", "METHODS")
    if not isinstance(cfg.method.params, dict):
        p.append("'method.params' must be a mapping of parameter names to values")
    else:
        p += _check_method_params(cfg.method.name, cfg.method.params)
    p += _check_backbone(cfg.backbone)
    for key, low in (("crop_size", 8), ("epochs", 1), ("batch_size", 2), ("log_every", 1)):
        v = getattr(cfg, key)
        if not _is_int(v) or v < low:
            p.append(f"'{key}' must be a whole number of at least {low}; got {v!r}")
    for key in ("num_workers", "cpu_threads", "checkpoint_every", "seed"):
        v = getattr(cfg, key)
        if not _is_int(v) or v < 0:
            p.append(f"'{key}' must be a whole number >= 0; got {v!r}")
    if cfg.max_steps is not None and (not _is_int(cfg.max_steps) or cfg.max_steps < 1):
        p.append(f"'max_steps' must be a whole number of at least 1 (or left out); got {cfg.max_steps!r}")
    if not _is_num(cfg.lr) or cfg.lr <= 0:
        p.append(f"'lr' (learning rate) must be a number above 0, e.g. 0.001; got {cfg.lr!r}")
    for key in ("weight_decay", "momentum", "warmup_epochs"):
        v = getattr(cfg, key)
        if not _is_num(v) or v < 0:
            p.append(f"'{key}' must be a number >= 0; got {v!r}")
    for key, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("device", DEVICES),
                         ("precision", PRECISIONS)):
        if getattr(cfg, key) not in allowed:
            p.append(f"'{key}' must be one of {', '.join(allowed)}; got {getattr(cfg, key)!r}")
    for key in ("pretrained", "drop_last", "channels_last"):
        if not isinstance(getattr(cfg, key), bool):
            p.append(f"'{key}' must be true or false; got {getattr(cfg, key)!r}")
    return p


def _check_registry(label: str, value: Any, module: str, attr: str) -> list[str]:
    try:
        import importlib

        names = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):  # module not available: the run will say so when it starts
        return [] if isinstance(value, str) and value else [f"'{label}' must be a name"]
    if value not in names:
        return [f"'{label}' is {value!r}; choose one of {', '.join(sorted(names))}"]
    return []


def _check_method_params(name: Any, params: dict[str, Any]) -> list[str]:
    try:
        from ssrl_core.methods.registry import METHOD_PARAMS
        from ssrl_core.methods.params import resolve_params
    except ImportError:
        return []
    if name not in METHOD_PARAMS:
        return []
    try:
        resolve_params(name, METHOD_PARAMS[name], params)
    except ValueError as exc:
        return [f"method.params: {exc}"]
    return []


def _check_backbone(name: Any) -> list[str]:
    try:
        from ssrl_core import models
    except ImportError:
        return []
    names = getattr(models, "BACKBONES", None)
    if names is None or name in names:
        return [] if isinstance(name, str) and name else ["'backbone' must be a name, e.g. resnet18"]
    return [f"'backbone' is {name!r}; choose one of {', '.join(sorted(names))}"]


def _check_recipe(i: int, r: RecipeConfig) -> list[str]:
    try:
        from ssrl_core import augment
    except ImportError:
        return []
    if r.preset is not None:
        presets = getattr(augment, "PRESETS", None)
        if presets is not None and r.preset not in presets:
            return [f"recipes[{i}].preset is {r.preset!r}; choose one of {', '.join(sorted(presets))}"]
    elif isinstance(r.recipe, dict) and hasattr(augment, "Recipe"):
        try:
            augment.Recipe.from_dict(r.recipe)
        except ValueError as exc:
            return [f"recipes[{i}].recipe is not a valid recipe: {exc}"]
    elif r.recipe is not None:
        return [f"recipes[{i}].recipe must be a mapping (an inline recipe)"]
    return []
