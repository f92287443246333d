"""Run the shipped section 3.1 sweeps on CIFAR-10 (resumable) and the class properties of the
reference encoder, then hand everything to `class_bias_report` for the report and the shipped summary.

`reproduce_cifar()` is what `ssrl-paper class-bias` calls: each `configs/sweeps/cifar10_*.yaml`
runs into `<runs>/sweeps/cifar10/<config name>/` with `sweeps.runner.run_sweep` (finished points
are never redone, so an interrupted call resumes), the class properties are measured once per
reference encoder (`<out>/class_properties_<encoder>.csv`), and the report is rewritten.
The sweeps' runs start from the shipped `cifar10_base` (`init:` in `configs/sweeps/base/`); when it
is not in `pretrained/`, `ensure_starts` trains it (`configs/pretrained/cifar10_base.yaml`) and
ships it with its card first. Every run is compared with two fixed encoders on the same probe:
random weights of the backbone (the floor) and the start encoder (what fine-tuning moved).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandas as pd

from paper.plan import ENTRIES, entry
from ssrl_core import paths
from ssrl_core.csvio import read_csv, write_csv
from ssrl_core.data.names import safe_filename
from ssrl_core.data.registry import load_dataset
from ssrl_core.io import atomic_write_json
from ssrl_core.models.shipped import shipped_path

Log = Callable[[str], None]


def shipped_configs() -> list[Path]:
    """`configs/sweeps/cifar10_*.yaml` of the project, sorted."""
    return sorted((paths.PROJECT_ROOT / "configs" / "sweeps").glob("cifar10_*.yaml"))


def default_out() -> Path:
    """`<runs>/sweeps/cifar10`."""
    return paths.runs_dir() / "sweeps" / "cifar10"


def run_sweeps(configs: list[Path], out: Path, log: Log = print) -> list[Path]:
    """Run (or resume) every sweep config into `out/<stem>`; returns the sweep folders."""
    from ssrl_core.sweeps.runner import load_sweep, run_sweep

    dirs = []
    for i, path in enumerate(configs):
        d = Path(out) / Path(path).stem
        log(f"[{i + 1}/{len(configs)}] {Path(path).stem} -> {d}")
        run_sweep(load_sweep(path), d, progress=lambda f, msg, n=Path(path).stem: log(f"  {n} {100 * f:5.1f}% {msg}"))
        dirs.append(d)
    return dirs


def reference_properties(out: Path, encoder: str, dataset: str = "cifar10", column: str = "label",
                         per_class: int = 300, split: str | None = "train", log: Log = print) -> pd.DataFrame:
    """Class properties on `per_class` images per class (of the `split` rows) with `encoder`,
    cached in `out/class_properties_<encoder>.csv`."""
    from ssrl_core.evaluate.class_properties import measure

    cache = Path(out) / f"class_properties_{safe_filename(encoder)}.csv"
    if cache.is_file():
        return read_csv(cache, ours=True, sep=",")
    cells = load_dataset(dataset)
    if split and "split" in cells.meta.columns:
        cells = cells.where(split=split)
    log(f"class properties of {dataset} ({per_class} per class) with {encoder}")
    table = measure(cells, encoder, column=column, max_per_class=per_class)
    write_csv(table, cache)
    return table


def encoder_probe(config: Path, encoder: str, cache: Path | None = None, log: Log = print) -> dict[str, Any]:
    """The sweep's probe (train split -> test split, same cells) on a fixed `encoder` (a shipped
    name, a run folder, a checkpoint or a baseline name): a floor or a starting point that every
    sweep run is compared with. Cached in `cache` (a JSON file) under the encoder's identity (for a
    checkpoint, its sha256; `evaluate.encoders.resolve`), so a retrained encoder is probed again."""
    import json

    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.evaluate.encoders import resolve
    from ssrl_core.evaluate.probe import split_probe
    from ssrl_core.sweeps.runner import load_sweep, probe_cells
    from ssrl_core.train.config import DataConfig
    from ssrl_core.train.data import load_cells
    from ssrl_core.train.start_from import resolve_init

    cfg = load_sweep(config)
    if not cfg.probe_split:
        raise ValueError(f"{Path(config).name} has no probe_split: the probe needs the train/test split")
    try:
        target = str(resolve_init(encoder))  # a shipped name, a run folder or a checkpoint file
    except FileNotFoundError:
        target = encoder  # a baseline name (random-<backbone>, imagenet-vgg16, hand-features)
    identity = resolve(target).identity
    if cache is not None and cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("identity") == identity:
            return cached
    log(f"the same probe on {encoder}")
    cells = probe_cells(load_cells(DataConfig(**(cfg.probe_data or cfg.base["data"]))), cfg)
    feats = embed(cells, target, use_cache=False)
    train = cells.meta[cfg.probe_split].astype(str).to_numpy() == "train"
    y = cells.meta[cfg.probe_column]
    res = split_probe(feats[train], y[train], feats[~train], y[~train])
    out_obj = {"encoder": encoder, "identity": identity, "top1": res["top1"], "n_test": int((~train).sum()),
               "per_class": dict(zip(res["per_class"]["class"], res["per_class"]["accuracy"].astype(float)))}
    if cache is not None:
        atomic_write_json(cache, out_obj)
    return out_obj


def baseline_probe(config: Path, out: Path, log: Log = print) -> dict[str, Any]:
    """The probe on a randomly initialised encoder of the sweep's backbone (the floor any training
    must beat), cached in `out/baseline_random.json`."""
    from ssrl_core.sweeps.runner import load_sweep

    encoder = f"random-{load_sweep(config).base.get('backbone', 'small_cnn')}"
    return encoder_probe(config, encoder, Path(out) / "baseline_random.json", log)


def start_probe(config: Path, out: Path, log: Log = print) -> dict[str, Any] | None:
    """The probe on the encoder the sweep's runs start from (`init:` of its base config), cached
    in `out/start_<name>.json`; None when the runs start from random weights."""
    from ssrl_core.sweeps.runner import load_sweep

    init = load_sweep(config).base.get("init")
    if not init:
        return None
    return encoder_probe(config, str(init), Path(out) / f"start_{safe_filename(str(init))}.json", log)


def shipped_starts(configs: list[Path]) -> list[str]:
    """The shipped encoders (`plan.ENTRIES`) that the sweeps' base configs start from."""
    from ssrl_core.sweeps.runner import load_sweep

    names = {e.name for e in ENTRIES}
    starts = {str(load_sweep(c).base.get("init")) for c in configs}
    return sorted(starts & names)


def ship_start(name: str, out: Path, folder: Path | None = None, configs: list[Path] | None = None,
               log: Log = print) -> dict[str, Any]:
    """Export the finished run of the shipped start encoder `name` (fp16) into `folder` and write
    its card: the sweeps' probe on it against random weights of its backbone (the same cached
    probes that the report compares every run with, in `out`)."""
    from paper import shipping

    folder = Path(folder or paths.pretrained_dir())
    e = entry(name)
    index = shipping.export([e], folder, log)
    item = next(c for c in index["checkpoints"] if c["name"] == e.name)
    config = (configs or shipped_configs())[0]
    mine = encoder_probe(config, str(folder / e.file), Path(out) / f"start_{safe_filename(name)}.json", log)
    floor = baseline_probe(config, out, log)
    item["metrics"] = {"top1": round(float(mine["top1"]), 4), "random_top1": round(float(floor["top1"]), 4),
                       "heldout_cells": mine["n_test"]}
    item["bar_problems"] = ([] if mine["top1"] > floor["top1"] else
                            [f"cifar10 test split: top1 {mine['top1']:.3f} <= random {floor['top1']:.3f}"])
    shipping.write_index(folder, index)
    log(f"{e.name}: probe top-1 {mine['top1']:.3f} on the test split (random {item['backbone']}: {floor['top1']:.3f})")
    return item


def ensure_starts(configs: list[Path], out: Path, log: Log = print) -> None:
    """Train and ship each shipped start encoder of the sweeps that is not in `pretrained/` yet
    (resumable like the sweeps: a finished run is not trained again)."""
    from paper import shipping

    for name in shipped_starts(configs):
        if shipped_path(name) is not None:
            continue
        log(f"the sweeps start from {name}, which is not shipped here yet: training it first")
        shipping.retrain([entry(name)], log=log)
        ship_start(name, out, configs=configs, log=log)


def reproduce_cifar(out: Path | None = None, configs: list[Path] | None = None, encoder: str = "imagenet-vgg16",
                    per_class: int = 300, docs: Path | None = None, shipped: Path | None = None,
                    report_only: bool = False, n_null: int = 200, ship_base: bool = False,
                    log: Log = print) -> dict[str, Any]:
    """Sweeps (unless `report_only`), class properties, docs/results_cifar10.md and the shipped summary;
    `ship_base` first exports the retrained start encoders (`cifar10_base`) into pretrained/ with their cards."""
    from paper import class_bias_report
    from ssrl_core.sweeps import class_bias

    out = Path(out) if out is not None else default_out()
    configs = list(configs) if configs is not None else shipped_configs()
    if ship_base:
        for name in shipped_starts(configs):
            ship_start(name, out, configs=configs, log=log)
    if report_only:
        dirs = [out / Path(c).stem for c in configs if (out / Path(c).stem / "results.csv").is_file()]
    else:
        ensure_starts(configs, out, log)
        dirs = run_sweeps(configs, out, log)
    props = None
    if encoder:
        try:
            props = reference_properties(out, encoder, per_class=per_class, log=log)
        except Exception as exc:  # e.g. ImageNet weights not on this machine: the report says so
            log(f"class properties skipped: {type(exc).__name__}: {exc}")
    baseline = start = None
    if configs:
        try:
            baseline = baseline_probe(configs[0], out, log)
        except Exception as exc:
            log(f"random-init baseline skipped: {type(exc).__name__}: {exc}")
        try:
            start = start_probe(configs[0], out, log)
        except Exception as exc:
            log(f"the probe of the start encoder skipped: {type(exc).__name__}: {exc}")
    summary = class_bias.build_summary(dirs, props, n_null=n_null, reference=encoder if props is not None else None,
                                      baseline=baseline, start=start)
    written = class_bias_report.write_report(summary, docs if docs is not None else paths.PROJECT_ROOT / "docs")
    written["summary"] = class_bias.write_shipped(summary, shipped)
    return {"summary": summary, "written": written}
