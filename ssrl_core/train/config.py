"""RunConfig: everything one training run needs, read from one YAML file.

A run trains one SSL method on one backbone with one or several augmentation recipes. With
several recipes, each recipe feeds its own loss of the same method and the run minimises the
weighted sum of these losses (Bendidi et al. 2024, section 3.4: "keep both [compositions]
separated in two independent SSRL losses of the same SSRL approach [...] minimize the weighted
sum of these two losses").

Each field is declared once, in `train.fields` (default, range or choices, help): the dataclasses
below take their defaults from there (`declared`) and `train.checks` validates against it.

`load_config(path, overrides)` reads YAML with `ssrl_core.io.read_yaml` (safe loader, size and
alias limits), writes out the short forms once and applies `--set key=value` overrides
(`train.overrides`: plain dotted-path editing of the raw dict, values parsed as YAML scalars; the
same setter serves sweeps) and validates: every problem is listed in one `ConfigError`. The
config keeps each recipe's checked `Recipe` (`RecipeConfig.parsed`, `RunConfig.recipe_objects`),
so nothing downstream parses a recipe again; YAML and checkpoints hold only the plain fields.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ssrl_core.augment import Recipe, get_preset
from ssrl_core.io import read_yaml
from ssrl_core.train.checks import ConfigError, validate
from ssrl_core.train.fields import DEFAULT_RECIPES, declared, float_paths
from ssrl_core.train.overrides import OverrideError, normalise, set_values

RECIPE_FIELDS = {"preset", "recipe", "weight"}  # what a recipes[i] entry may hold


@dataclass
class DataConfig:
    """Which cells to train on: a dataset name (see `ssrl data list`) or a file path.

    `filter` keeps rows whose metadata matches (a list means "any of"), e.g.
    `{compound: [cyclohexamide, DMSO]}`; `exclude` drops matching rows (e.g. a held-out plate);
    `max_cells` keeps a random subset of that many cells (seeded by the run seed).
    """

    name: str = declared("data.name")
    filter: dict[str, Any] = declared("data.filter")
    exclude: dict[str, Any] = declared("data.exclude")
    max_cells: int | None = declared("data.max_cells")


@dataclass
class RecipeConfig:
    """One augmentation recipe: a preset name or an inline recipe dict, and its loss weight.

    `parsed` is the checked `Recipe` (a copy of the preset, or the inline recipe read with
    `Recipe.from_dict`): made once, when the run config is validated (or at first use for one built
    in code), and used by training and its views; setting `preset` or `recipe` makes it anew. YAML
    and checkpoints keep only the plain fields (`to_dict`).
    """

    preset: str | None = declared("recipes.preset")
    recipe: dict[str, Any] | None = declared("recipes.recipe")
    weight: float = declared("recipes.weight")
    _parsed: Recipe | None = field(default=None, init=False, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in ("preset", "recipe"):
            object.__setattr__(self, "_parsed", None)

    @property
    def parsed(self) -> Recipe:
        """The Recipe; `RecipeError` (a ValueError, every problem in words) when it is not valid."""
        if self._parsed is None:
            self._parsed = get_preset(self.preset) if self.preset is not None else Recipe.from_dict(self.recipe)
        return self._parsed

    @property
    def label(self) -> str:
        if self.preset:
            return self.preset
        return str((self.recipe or {}).get("name") or "recipe")

    def to_dict(self) -> dict[str, Any]:
        """The plain fields, as written to config.yaml and checkpoints."""
        return {"preset": self.preset, "recipe": copy.deepcopy(self.recipe), "weight": self.weight}


@dataclass
class MethodConfig:
    """The SSL method (`moco_v2`, `byol`, `simclr`, `vicreg`, `barlow_twins`) and its parameters."""

    name: str = declared("method.name")
    params: dict[str, Any] = declared("method.params")


@dataclass
class RunConfig:
    """One training run. See docs/training.md for every field."""

    name: str = declared("name")
    data: DataConfig = field(default_factory=DataConfig)
    recipes: list[RecipeConfig] = field(default_factory=lambda: [RecipeConfig(preset=p) for p in DEFAULT_RECIPES])
    method: MethodConfig = field(default_factory=MethodConfig)
    backbone: str = declared("backbone")
    pretrained: bool = declared("pretrained")
    per_channel: bool = declared("per_channel")
    init: str | None = declared("init")
    freeze: int = declared("freeze")
    crop_size: int = declared("crop_size")
    epochs: int = declared("epochs")
    batch_size: int = declared("batch_size")
    optimizer: str = declared("optimizer")
    lr: float = declared("lr")
    weight_decay: float = declared("weight_decay")
    momentum: float = declared("momentum")
    schedule: str = declared("schedule")
    warmup_epochs: float = declared("warmup_epochs")
    seed: int = declared("seed")
    device: str = declared("device")
    precision: str = declared("precision")
    num_workers: int | str = declared("num_workers")
    cpu_threads: int = declared("cpu_threads")
    channels_last: bool = declared("channels_last")
    sync_batchnorm: bool | str = declared("sync_batchnorm")
    augment_on: str = declared("augment_on")
    compile: bool = declared("compile")
    checkpoint_every: int = declared("checkpoint_every")
    checkpoint_steps: int = declared("checkpoint_steps")
    checkpoint_minutes: float = declared("checkpoint_minutes")
    max_steps: int | None = declared("max_steps")
    max_minutes: float | None = declared("max_minutes")
    log_every: int = declared("log_every")
    drop_last: bool = declared("drop_last")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON/checkpoint friendly); recipes as their plain fields (no parsed Recipe)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out = {k: asdict(v) if k in ("data", "method") else copy.deepcopy(v) for k, v in out.items()}
        out["recipes"] = [r.to_dict() for r in self.recipes]
        return out

    @property
    def recipe_objects(self) -> list[Recipe]:
        """The checked `Recipe` of every entry of `recipes`, in order (see `RecipeConfig.parsed`)."""
        return [r.parsed for r in self.recipes]

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RunConfig":
        """Build and validate; raises ConfigError listing every problem."""
        return _build(raw)


def _section(kw: dict, key: str, cls: type, known: str, shape: str, problems: list[str]):
    """Build the nested config `cls` from `kw[key]`, noting unknown fields and a wrong shape."""
    value = kw.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"'{key}' must be {shape}")
        return cls()
    problems += [f"unknown field '{key}.{k}' (known: {known})" for k in set(value) - _known(cls)]
    return cls(**{k: v for k, v in value.items() if k in _known(cls)})


def _known(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _build(raw: Any) -> RunConfig:
    if not isinstance(raw, dict):
        raise ConfigError([f"the file must hold a YAML mapping of fields; got {type(raw).__name__}"])
    return _build_normal(normalise(raw))


def _read_numbers(raw: dict[str, Any]) -> None:
    """Numbers PyYAML read as text (`3e-4`, no dot) in the fields declared as numbers, as numbers, in place."""
    for path in float_paths():
        group, _, key = path.rpartition(".")
        holders = (raw.get("recipes") if group == "recipes" else [raw.get(group)] if group else [raw])
        for holder in holders if isinstance(holders, list) else []:
            if isinstance(holder, dict) and isinstance(holder.get(key), str):
                try:
                    holder[key] = float(holder[key])
                except ValueError:
                    pass  # the check names it


def _build_normal(raw: dict[str, Any]) -> RunConfig:
    """Build and validate a raw config whose short forms are written out (`normalise`)."""
    _read_numbers(raw)
    problems: list[str] = []
    for key in raw:
        if key not in _known(RunConfig):
            problems.append(f"unknown field '{key}' (known fields: {', '.join(sorted(_known(RunConfig)))})")
    kw = {k: v for k, v in raw.items() if k in _known(RunConfig)}
    kw["data"] = _section(kw, "data", DataConfig, "name, path, filter, exclude, max_cells",
                          "a dataset name or a mapping with 'name' (or 'path')", problems)
    kw["method"] = _section(kw, "method", MethodConfig, "name, params",
                            "a method name or a mapping with 'name' and 'params'", problems)
    recipes = []
    for i, r in enumerate(kw.get("recipes", [{"preset": p} for p in DEFAULT_RECIPES]) or []):
        if not isinstance(r, dict):
            problems.append(f"recipes[{i}] must be a preset name or a mapping with 'preset' or 'recipe'")
            continue
        bad = set(r) - RECIPE_FIELDS
        problems += [f"unknown field 'recipes[{i}].{k}' (known: preset, recipe, weight)" for k in bad]
        recipes.append(RecipeConfig(**{k: v for k, v in r.items() if k in RECIPE_FIELDS}))
    kw["recipes"] = recipes
    cfg = RunConfig(**kw)
    problems += validate(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def apply_overrides(raw: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """A normalised copy of a raw config dict with `key=value` overrides applied (see
    `overrides.set_values`; the same dotted-path setter as parameter sweeps)."""
    raw = normalise(raw)
    try:
        set_values(raw, overrides)
    except OverrideError as exc:
        raise ConfigError([str(exc)]) from None
    return raw


def load_config(path: str | Path | None, overrides: list[str] | None = None,
                base: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML run config (safe loader), apply overrides, validate.

    `path=None` starts from `base` (or the defaults), e.g. `load_config(None, ["epochs=2"])`.
    """
    raw: Any = dict(base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No run configuration at {path}")
        try:
            raw = read_yaml(path)
        except ValueError as exc:  # bad YAML, not UTF-8, too large, an alias bomb
            raise ConfigError([str(exc)]) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError([f"{path} must hold a mapping of fields (name: value)"])
    return _build_normal(apply_overrides(raw, overrides))
