"""Parameter sweep (Bendidi et al. 2024, section 3.1): one recipe parameter, several seeds.

For each (value, seed) a short training run is made with the training engine in its own
sub-folder of the sweep directory, the trained encoder embeds the cells, and a linear probe
(stratified held-out split, fixed seed) gives per-class accuracy. Rows (value, seed, class,
accuracy, top1) are appended to `results.csv` atomically, so an interrupted sweep resumes where it
stopped: finished points are never redone. The statistics (`bias_stats`) are then written beside:
`curves.csv`, `pairs.csv`, `slopes.csv`, `summary.json`.

Sweep YAML:
    base: runs/base.yaml         # a run config path (relative to the sweep file) or an inline mapping
    parameter: recipes.0.recipe.steps.2.params.limit   # dotted path in the run config (as `--set`)
    # or: parameter: {recipe: 0, step: rotate, param: limit}
    values: [0, 45, 90, 180]
    seeds: [0, 1, 2]
    probe_column: label
    test_fraction: 0.3
    # optional, the paper's protocol (train the probe on one split, score it on another):
    probe_split: split           # a column with the values `train` and `test`
    probe_data: {name: cifar10}  # the cells embedded for the probe (default: the run's data)
    probe_train_cells: 5000      # at most this many training-split cells for the probe (same per class)

`parameter` may also be a list of paths set to the same value (e.g. the probability of two steps
that together make the colour jitter).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ssrl_core.evaluate.probe import linear_probe, split_probe
from ssrl_core.io import atomic_write_json, read_yaml
from ssrl_core.sweeps.results import RESULT_COLUMNS, append_results, check_sweep_folder, read_results, write_statistics


@dataclass
class SweepConfig:
    """What to vary and how to score it."""

    base: dict[str, Any]
    parameter: str | dict[str, Any]
    values: list[Any]
    seeds: list[int] = field(default_factory=lambda: [0])
    probe_column: str = "label"
    test_fraction: float = 0.3
    probe_seed: int = 0
    probe_split: str | None = None
    probe_data: dict[str, Any] | None = None
    probe_train_cells: int | None = None


def load_sweep(path: str | Path) -> SweepConfig:
    """Read a sweep YAML (safe loader); `base` may be a path relative to the sweep file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sweep file at {path}")
    raw = read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name} must hold a mapping (base, parameter, values, seeds, probe_column)")
    base = raw.get("base")
    if isinstance(base, str):
        bp = Path(base) if Path(base).is_absolute() else path.parent / base
        if bp.is_dir():
            hint = f" (e.g. {bp / 'config.yaml'})" if (bp / "config.yaml").is_file() else ""
            raise ValueError(f"the sweep's base run config {base!r} is a folder ({bp}); give the run config YAML "
                             f"file{hint}")
        if not bp.is_file():
            raise FileNotFoundError(f"the sweep's base run config {base!r} was not found (looked at {bp})")
        base = read_yaml(bp) or {}
    return sweep_from_dict(dict(raw, base=base))


def sweep_from_dict(raw: dict[str, Any]) -> SweepConfig:
    """Check and build a SweepConfig from a plain mapping."""
    problems = []
    if not isinstance(raw.get("base"), dict):
        problems.append("'base' must be a run config mapping or the path of a run config YAML")
    if not raw.get("parameter"):
        problems.append("'parameter' is missing (e.g. recipes.0.recipe.steps.2.params.limit)")
    values = raw.get("values")
    if not isinstance(values, list) or len(values) < 2:
        problems.append("'values' must list at least two parameter values")
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        problems.append("'seeds' must be a list of whole numbers")
    unknown = set(raw) - {"base", "parameter", "values", "seeds", "probe_column", "test_fraction", "probe_seed",
                          "probe_split", "probe_data", "probe_train_cells"}
    problems += [f"unknown field {k!r}" for k in sorted(unknown)]
    if raw.get("probe_data") is not None and not isinstance(raw.get("probe_data"), dict):
        problems.append("'probe_data' must be a data mapping (name, filter, exclude, max_cells)")
    ptc = raw.get("probe_train_cells")
    if ptc is not None and (not isinstance(ptc, int) or ptc < 2):
        problems.append("'probe_train_cells' must be a whole number of at least 2")
    if problems:
        raise ValueError("The sweep file has problems:\n  - " + "\n  - ".join(problems))
    return SweepConfig(base=raw["base"], parameter=raw["parameter"], values=list(values), seeds=list(seeds),
                       probe_column=str(raw.get("probe_column", "label")),
                       test_fraction=float(raw.get("test_fraction", 0.3)), probe_seed=int(raw.get("probe_seed", 0)),
                       probe_split=str(raw["probe_split"]) if raw.get("probe_split") else None,
                       probe_data=dict(raw["probe_data"]) if raw.get("probe_data") else None,
                       probe_train_cells=int(ptc) if ptc is not None else None)


def recipe_sweep(dataset: str, recipe: dict[str, Any], step: str, param: str, values: list[Any], *,
                 seeds: int = 2, epochs: int = 2, max_cells: int = 1000, backbone: str = "resnet18",
                 probe_column: str = "label", image_size: int = 64) -> dict[str, Any]:
    """A sweep mapping over one parameter of one step of `recipe` (a `Recipe.to_dict()`), with
    short runs sized for a quick look: batch size a quarter of the cells (8 to 64), crops of at
    most 64 px. Checked by `sweep_from_dict` (ValueError in plain words)."""
    base = {"name": "sweep", "data": {"name": str(dataset), "max_cells": int(max_cells)},
            "recipes": [{"recipe": recipe}], "epochs": int(epochs), "backbone": backbone,
            "batch_size": int(min(64, max(8, int(max_cells) // 4))), "crop_size": int(min(64, image_size))}
    raw = {"base": base, "parameter": {"recipe": 0, "step": step, "param": param}, "values": list(values),
           "seeds": list(range(int(seeds))), "probe_column": probe_column}
    sweep_from_dict(raw)
    return raw


def parse_values(text: str, integer: bool = False) -> list[float | int]:
    """Parameter values typed as "0.1, 0.5; 0.9" (at least two; ValueError in plain words)."""
    try:
        values: list[Any] = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError as exc:
        raise ValueError(f"the values must be numbers separated by commas ({exc}).") from None
    if len(values) < 2:
        raise ValueError("give at least two values, separated by commas.")
    return [int(round(v)) for v in values] if integer else values


def even_values(low: float | None, high: float | None, default: float, integer: bool = False,
                n: int = 4) -> list[float | int]:
    """`n` evenly spaced values over [low, high]; without a range, 0.5x to 2x the default."""
    if low is None or high is None:
        vals = [float(default) * f for f in (0.5, 1.0, 1.5, 2.0)]
    else:
        vals = [float(v) for v in np.linspace(float(low), float(high), n)]
    return [int(round(v)) for v in vals] if integer else [float(f"{v:.3g}") for v in vals]


def set_parameter(base: dict[str, Any], parameter: str | dict[str, Any] | list[Any], value: Any) -> dict[str, Any]:
    """A copy of the run config (normalised) with the parameter set to `value`.

    `parameter` is a dotted path (`lr`, `recipes.0.recipe.steps.2.params.limit`; the short form
    `recipes.0.steps...` is accepted and a preset is expanded into its steps), set with the same
    setter as `ssrl train --set` (`train.overrides.set_path`), or a mapping
    `{recipe: 0, step: NAME, param: NAME}` that finds the first step with that transform name,
    or a list of either, all set to `value`.
    """
    # in here: ssrl_core.train loads torch, which `import sweep_runner` (app, sweep launch) need not
    from ssrl_core.train.overrides import PathError, normalise, set_path

    paths = parameter if isinstance(parameter, list) else [parameter]
    if not paths:
        raise ValueError("the parameter list is empty")
    raw = normalise(base)
    for one in paths:
        path = _step_path(raw, one) if isinstance(one, dict) else one
        try:
            set_path(raw, path, value)
        except PathError as exc:
            raise ValueError(f"the parameter path {one!r} does not exist in the run config "
                             f"(stopped at {exc.at!r})") from exc
    return raw


def _step_path(raw: dict[str, Any], parameter: dict[str, Any]) -> list[str]:
    """The path of `{recipe: i, step: NAME, param: NAME}`: the first step with that transform name."""
    from ssrl_core.train.overrides import recipe_entry  # see set_parameter

    idx = int(parameter.get("recipe", 0))
    steps = (recipe_entry(raw, idx).get("recipe") or {}).get("steps") or []
    hit = [i for i, s in enumerate(steps) if s.get("name") == parameter.get("step")]
    if not hit:
        raise ValueError(f"recipe {idx} has no step {parameter.get('step')!r}; its steps are "
                         f"{[s.get('name') for s in steps]}")
    return ["recipes", str(idx), "recipe", "steps", str(hit[0]), "params", str(parameter["param"])]


def _done(results: pd.DataFrame, value: Any, seed: int) -> bool:
    if results.empty:
        return False
    same_seed = results["seed"].astype(int) == int(seed)
    try:
        same_value = (pd.to_numeric(results["value"]) - float(value)).abs() < 1e-9
    except (TypeError, ValueError):
        same_value = results["value"].astype(str) == str(value)
    return bool((same_seed & same_value).any())


def run_sweep(cfg: SweepConfig, sweep_dir: str | Path,
              progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Train and probe every (value, seed) not yet in results.csv, then write the statistics.

    The process owns `sweep_dir` meanwhile (`rundir.lock`: another sweep into it raises
    `RunLocked`). Returns the `bias_report` (DataFrames) plus `results` and `sweep_dir`.
    """
    from ssrl_core.train.rundir import lock

    check_sweep_folder(sweep_dir)
    Path(sweep_dir).mkdir(parents=True, exist_ok=True)
    with lock(sweep_dir):
        return _run_sweep(cfg, Path(sweep_dir), progress)


def _run_sweep(cfg: SweepConfig, sweep_dir: Path, progress: Callable[[float, str], None] | None) -> dict[str, Any]:
    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.train import load_config, train
    from ssrl_core.train.data import load_cells
    from ssrl_core.train.rundir import read_json

    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(sweep_dir / "sweep.json", {"parameter": cfg.parameter, "values": cfg.values,
                                                 "seeds": cfg.seeds, "probe_column": cfg.probe_column,
                                                 "test_fraction": cfg.test_fraction, "probe_split": cfg.probe_split,
                                                 "probe_data": cfg.probe_data,
                                                 "probe_train_cells": cfg.probe_train_cells, "base": cfg.base})
    points = [(i, v, s) for i, v in enumerate(cfg.values) for s in cfg.seeds]
    loaded: dict[str, Any] = {}  # cells per data selection, loaded once
    for n_done, (i, value, seed) in enumerate(points):
        if _done(read_results(sweep_dir), value, seed):
            continue
        if progress is not None:
            progress(n_done / len(points), f"value {value}, seed {seed}")
        raw = set_parameter(cfg.base, cfg.parameter, value)
        raw["seed"] = int(seed)
        raw["name"] = f"{raw.get('name', 'sweep')}-v{i}-s{seed}"
        run_cfg = load_config(None, [], base=raw)
        run_dir = sweep_dir / f"v{i:02d}_s{seed}"
        status = read_json(run_dir / "status.json") if (run_dir / "status.json").is_file() else {}
        if status.get("state") != "finished":
            result = train(run_cfg, run_dir, resume=(run_dir / "checkpoint.pt").is_file())
            if result.get("state") != "finished":  # stopped on request: never probe a half-trained run
                raise RuntimeError(f"the run {run_dir.name} ended {result.get('state')} before finishing "
                                   f"({result.get('error') or 'no reason given'}); run the sweep again to resume")
        probe_data = load_config(None, [], base={**raw, "data": cfg.probe_data}).data if cfg.probe_data else run_cfg.data
        data_key = json.dumps(asdict(probe_data), sort_keys=True, default=str)
        if data_key not in loaded:
            loaded[data_key] = probe_cells(load_cells(probe_data, seed=0), cfg)
        cells = loaded[data_key]
        if cfg.probe_column not in cells.meta.columns:
            raise ValueError(f"the cells have no {cfg.probe_column!r} column to probe; columns are "
                             f"{list(cells.meta.columns)}")
        feats = embed(cells, str(run_dir / "checkpoint.pt"), use_cache=False)
        if cfg.probe_split:
            is_train = cells.meta[cfg.probe_split].astype(str).to_numpy() == "train"
            res = split_probe(feats[is_train], cells.meta[cfg.probe_column][is_train],
                              feats[~is_train], cells.meta[cfg.probe_column][~is_train])
        else:
            res = linear_probe(feats, cells.meta[cfg.probe_column], test_fraction=cfg.test_fraction,
                               seed=cfg.probe_seed)
        rows = res["per_class"].assign(value=value, seed=int(seed), top1=res["top1"], run=run_dir.name)
        append_results(sweep_dir, rows[RESULT_COLUMNS])
    results = read_results(sweep_dir)
    report = write_statistics(results, sweep_dir)
    if progress is not None:
        progress(1.0, "done")
    return dict(report, results=results, sweep_dir=str(sweep_dir))


def probe_cells(cells: Any, cfg: SweepConfig) -> Any:
    """The cells the probe embeds: with `probe_split`, the `train` rows (at most
    `probe_train_cells`, the same number per class, fixed seed) and every `test` row."""
    if not cfg.probe_split:
        return cells
    if cfg.probe_split not in cells.meta.columns:
        raise ValueError(f"the cells have no {cfg.probe_split!r} column to split the probe; columns are "
                         f"{list(cells.meta.columns)}")
    split = cells.meta[cfg.probe_split].astype(str).to_numpy()
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    if len(train) < 2 or len(test) < 1:
        raise ValueError(f"the probe split {cfg.probe_split!r} needs rows marked 'train' and 'test'; found "
                         f"{len(train)} and {len(test)}")
    if cfg.probe_train_cells is not None and len(train) > cfg.probe_train_cells:
        rng = np.random.default_rng(cfg.probe_seed)
        labels = cells.meta[cfg.probe_column].astype(str).to_numpy()[train]
        classes = np.unique(labels)
        per = max(1, cfg.probe_train_cells // len(classes))
        train = np.sort(np.concatenate([rng.permutation(train[labels == c])[:per] for c in classes]))
    return cells.subset(np.concatenate([train, test]))
