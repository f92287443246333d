"""Run the shipped section 3.1 sweeps on CIFAR-10 (resumable) and the class properties of the
reference encoder, then hand everything to `section31` for the report and the shipped summary.

`reproduce_cifar()` is what `ssrl reproduce-cifar` calls: each `configs/sweeps/cifar10_*.yaml`
runs into `<runs>/sweeps/cifar10/<config name>/` with `sweeps.runner.run_sweep` (finished points
are never redone, so an interrupted call resumes), the class properties are measured once per
reference encoder (`<out>/class_properties_<encoder>.csv`), and the report is rewritten.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ssrl_core import paths
from ssrl_core.io import atomic_write

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
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate.class_properties import measure

    cache = Path(out) / f"class_properties_{re.sub(r'[^A-Za-z0-9_.-]+', '_', encoder)}.csv"
    if cache.is_file():
        return pd.read_csv(cache)
    cells = load_dataset(dataset)
    if split and "split" in cells.meta.columns:
        cells = cells.where(split=split)
    log(f"class properties of {dataset} ({per_class} per class) with {encoder}")
    table = measure(cells, encoder, column=column, max_per_class=per_class)
    atomic_write(cache, lambda p: table.to_csv(p, index=False))
    return table


def baseline_probe(config: Path, out: Path, log: Log = print) -> dict[str, Any]:
    """The same probe on a randomly initialised encoder of the sweep's backbone (the floor any
    training must beat), cached in `out/baseline_random.json`."""
    import json

    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.sweeps.runner import load_sweep, probe_cells, split_probe
    from ssrl_core.io import atomic_write_json
    from ssrl_core.train.config import DataConfig
    from ssrl_core.train.data import load_cells

    cfg = load_sweep(config)
    encoder = f"random-{cfg.base.get('backbone', 'small_cnn')}"
    cache = Path(out) / "baseline_random.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    if not cfg.probe_split:
        raise ValueError(f"{Path(config).name} has no probe_split: the baseline needs the train/test probe")
    log(f"baseline: the same probe on {encoder}")
    cells = probe_cells(load_cells(DataConfig(**(cfg.probe_data or cfg.base["data"]))), cfg)
    feats = embed(cells, encoder, use_cache=False)
    train = cells.meta[cfg.probe_split].astype(str).to_numpy() == "train"
    y = cells.meta[cfg.probe_column]
    res = split_probe(feats[train], y[train], feats[~train], y[~train])
    out_obj = {"encoder": encoder, "top1": res["top1"],
               "per_class": dict(zip(res["per_class"]["class"], res["per_class"]["accuracy"].astype(float)))}
    atomic_write_json(cache, out_obj)
    return out_obj


def reproduce_cifar(out: Path | None = None, configs: list[Path] | None = None, encoder: str = "imagenet-vgg16",
                    per_class: int = 300, docs: Path | None = None, shipped: Path | None = None,
                    report_only: bool = False, n_null: int = 200, log: Log = print) -> dict[str, Any]:
    """Sweeps (unless `report_only`), class properties, docs/results_cifar10.md and the shipped summary."""
    from ssrl_core.reproduce import section31

    out = Path(out) if out is not None else default_out()
    configs = list(configs) if configs is not None else shipped_configs()
    if report_only:
        dirs = [out / Path(c).stem for c in configs if (out / Path(c).stem / "results.csv").is_file()]
    else:
        dirs = run_sweeps(configs, out, log)
    props = None
    if encoder:
        try:
            props = reference_properties(out, encoder, per_class=per_class, log=log)
        except Exception as exc:  # e.g. ImageNet weights not on this machine: the report says so
            log(f"class properties skipped: {type(exc).__name__}: {exc}")
    baseline = None
    if configs:
        try:
            baseline = baseline_probe(configs[0], out, log)
        except Exception as exc:
            log(f"random-init baseline skipped: {type(exc).__name__}: {exc}")
    summary = section31.build_summary(dirs, props, n_null=n_null, reference=encoder if props is not None else None,
                                      baseline=baseline)
    written = section31.write_report(summary, docs if docs is not None else paths.PROJECT_ROOT / "docs")
    written["summary"] = section31.write_shipped(summary, shipped)
    return {"summary": summary, "written": written}
