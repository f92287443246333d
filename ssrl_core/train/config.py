"""RunConfig: everything one training run needs, read from one YAML file.

A run trains one SSL method on one backbone with one or several augmentation recipes. With
several recipes, each recipe feeds its own loss of the same method and the run minimises the
weighted sum of these losses (Bendidi et al. 2024, section 3.4: "keep both [compositions]
separated in two independent SSRL losses of the same SSRL approach [...] minimize the weighted
sum of these two losses").

`load_config(path, overrides)` reads YAML with `ssrl_core.io.read_yaml` (safe loader, size and
alias limits), writes out the short forms once and applies `--set key=value` overrides
(`train.overrides`: dotted keys for nested fields, values parsed as YAML scalars; the same setter
serves sweeps) and validates: every problem is listed in one `ConfigError` in plain words. The
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
from ssrl_core.train.overrides import normalise, set_values
RECIPE_FIELDS = {"preset", "recipe", "weight"}  # what a recipes[i] entry may hold


@dataclass
class DataConfig:
    """Which cells to train on: a dataset name (see `ssrl data list`) or a file path.

    `filter` keeps rows whose metadata matches (a list means "any of"), e.g.
    `{compound: [cyclohexamide, DMSO]}`; `exclude` drops matching rows (e.g. a held-out plate);
    `max_cells` keeps a random subset of that many cells (seeded by the run seed).
    """

    name: str = "mnist-5k"
    filter: dict[str, Any] = field(default_factory=dict)
    exclude: dict[str, Any] = field(default_factory=dict)
    max_cells: int | None = None


@dataclass
class RecipeConfig:
    """One augmentation recipe: a preset name or an inline recipe dict, and its loss weight.

    `parsed` is the checked `Recipe` (a copy of the preset, or the inline recipe read with
    `Recipe.from_dict`): made once, when the run config is validated (or at first use for one built
    in code), and used by training and its views; setting `preset` or `recipe` makes it anew. YAML
    and checkpoints keep only the plain fields (`to_dict`).
    """

    preset: str | None = None
    recipe: dict[str, Any] | None = None
    weight: float = 1.0
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

    name: str = "moco_v2"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    """One training run. See docs/training.md for every field."""

    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    recipes: list[RecipeConfig] = field(default_factory=lambda: [RecipeConfig(preset="mnist-set1")])
    method: MethodConfig = field(default_factory=MethodConfig)
    backbone: str = "resnet18"
    pretrained: bool = False
    per_channel: bool = False
    init: str | None = None
    freeze: int = 0
    crop_size: int = 64
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    num_workers: int | str = "auto"
    cpu_threads: int = 0
    channels_last: bool = True
    sync_batchnorm: bool | str = "auto"
    augment_on: str = "cpu"
    compile: bool = False
    checkpoint_every: int = 0
    checkpoint_steps: int = 0
    checkpoint_minutes: float = 10.0
    max_steps: int | None = None
    max_minutes: float | None = None
    log_every: int = 10
    drop_last: bool = True

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


def _build_normal(raw: dict[str, Any]) -> RunConfig:
    """Build and validate a raw config whose short forms are written out (`normalise`)."""
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
    for i, r in enumerate(kw.get("recipes", [{"preset": "mnist-set1"}]) or []):
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
    set_values(raw, overrides)
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
