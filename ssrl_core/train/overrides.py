"""Editing a raw (not yet checked) run config: its short forms, dotted paths, `--set key=value`.

Plain editing of a dict: nothing here knows a field's type or range (those are declared in
`train.fields` and checked by `train.checks` when `train.config` builds the config), and a bad
path or `--set` item raises `OverrideError` (a ValueError), which `train.config` words as a
`ConfigError`.

`normalise(raw)` writes out the short forms once (`data: NAME`, `method: NAME`, `recipes: PRESET`
or a list of presets, `recipe:` for `recipes:`).

`set_path(raw, path, value)` is the one dotted-path setter, used by `--set` (`set_values`) and by
parameter sweeps (`sweeps.runner.set_parameter`): dotted keys reach nested fields
(`data.name=cells.npz`, `method.params.temperature=0.1`), a number picks a list position
(`recipes.1.weight=0.3`), a missing group is made. A path into a recipe given as a preset
(`recipes.0.recipe.steps.2.p`, or the short form `recipes.0.steps.2.p`) first writes the preset
out as its inline recipe, so one of its steps can be changed (Bendidi et al. 2024, section 3.1,
vary one parameter of one transformation). The raw config stays normalised.

`--set` values are parsed as YAML scalars (`epochs=2` is a number, `pretrained=true` a boolean,
`filter.compound=[DMSO, taxol]` a list).
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

from ssrl_core.augment import RecipeError, get_preset
from ssrl_core.augment.recipe import RECIPE_KEYS
from ssrl_core.io import YAMLLimitError, parse_yaml


class OverrideError(ValueError):
    """A `--set key=value` item that cannot be applied; the message names it and says why."""


class PathError(ValueError):
    """A dotted path that does not fit the config: `reason` says why in words, `at` is the path
    up to where it stopped. `--set` and sweeps word it each in their own message."""

    def __init__(self, reason: str, at: str):
        super().__init__(reason)
        self.reason, self.at = reason, at


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of a raw run config with its short forms written out (see the module docstring)."""
    raw = copy.deepcopy(raw)
    for key in ("data", "method", "recipe", "recipes"):
        _normalise_key(raw, key)
    return raw


def _normalise_key(raw: dict[str, Any], key: str) -> None:
    """Write out the short form of the top-level field `key` of `raw`, in place."""
    if key not in raw:
        return
    if key == "data":
        if isinstance(raw["data"], str):
            raw["data"] = {"name": raw["data"]}
        if isinstance(raw["data"], dict) and "path" in raw["data"] and "name" not in raw["data"]:
            raw["data"]["name"] = raw["data"].pop("path")
    elif key == "method" and isinstance(raw["method"], str):
        raw["method"] = {"name": raw["method"]}
    elif key == "recipe" and "recipes" not in raw:
        raw["recipes"] = raw.pop("recipe")
        _normalise_key(raw, "recipes")
    elif key == "recipes":
        rec = raw["recipes"]
        if isinstance(rec, (str, dict)):
            rec = [rec]
        if isinstance(rec, list):
            raw["recipes"] = [{"preset": r} if isinstance(r, str) else r for r in rec]


def set_path(raw: dict[str, Any], path: str | Sequence[Any], value: Any) -> None:
    """Set the field at `path` (dotted text or a list of keys) of a normalised raw run config to
    `value`, in place. Raises `PathError` when the path does not fit the config, `RecipeError`
    when it reaches into a preset that does not exist."""
    parts = [str(p) for p in (path.split(".") if isinstance(path, str) else path)]
    parts = [p for p in parts if p]
    if not parts:
        raise PathError("needs a field name", "")
    if parts[0] == "data" and len(parts) > 1 and parts[1] == "path":
        parts[1] = "name"
    if parts[0] == "recipes" and len(parts) > 2:
        if parts[2] in RECIPE_KEYS:  # short form: recipes.0.steps... is recipes.0.recipe.steps...
            parts.insert(2, "recipe")
        if parts[2] == "recipe":
            _write_out_preset(raw, parts[1])
    node: Any = raw
    for j, part in enumerate(parts[:-1]):
        node = _child(node, part, parts[j + 1], ".".join(parts[:j + 1]))
    _assign(node, parts[-1], value, ".".join(parts))
    _normalise_key(raw, parts[0])


def recipe_entry(raw: dict[str, Any], index: int) -> dict[str, Any]:
    """recipes[index] of a normalised raw config as an inline recipe entry (a preset written out
    as its recipe), in place; IndexError when there is no such entry."""
    _write_out_preset(raw, str(index))
    return raw["recipes"][index]


def _write_out_preset(raw: dict[str, Any], index: str) -> None:
    recipes = raw.get("recipes")
    if not index.isdigit() or not isinstance(recipes, list) or int(index) >= len(recipes):
        return  # the walk through the path says what is wrong
    entry = recipes[int(index)]
    if isinstance(entry, dict) and entry.get("recipe") is None and entry.get("preset"):
        entry["recipe"] = get_preset(entry.pop("preset")).to_dict()


def _child(node: Any, part: str, nxt: str, at: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, at)]
    if not isinstance(node, dict):
        raise PathError(f"'{part}' is not a group of fields", at)
    if node.get(part) is None:
        node[part] = [] if nxt.isdigit() else {}
    return node[part]


def _assign(node: Any, part: str, value: Any, at: str) -> None:
    if isinstance(node, list):
        node[_index(node, part, at)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise PathError("cannot set a field inside a plain value", at)


def _index(node: list, part: str, at: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise PathError(f"'{part}' must be a position 0..{len(node) - 1} in the list", at)
    return int(part)


def set_values(raw: dict[str, Any], overrides: list[str] | None) -> None:
    """Apply `key=value` overrides in order to a normalised raw config, in place (`set_path`);
    a bad one raises `OverrideError` naming it."""
    for item in overrides or []:
        if "=" not in item:
            raise OverrideError(f"--set needs key=value; got {item!r}")
        key, text = item.split("=", 1)
        try:
            value = parse_yaml(text, f"the value of --set {key.strip()}") if text.strip() else None
        except YAMLLimitError as exc:
            raise OverrideError(str(exc)) from None
        except ValueError:  # not YAML: the text itself
            value = text
        if not [k for k in key.strip().split(".") if k]:
            raise OverrideError(f"--set needs a field name before '='; got {item!r}")
        try:
            set_path(raw, key.strip(), value)
        except PathError as exc:
            raise OverrideError(f"--set {item!r}: {exc.reason}") from None
        except RecipeError as exc:  # a path into a preset that does not exist
            raise OverrideError(f"--set {item!r}: {exc}") from None
