"""Per-class bias of one augmentation parameter, summarised from finished sweeps (Bendidi et al.
2024, section 3.1), with verdicts computed from the numbers.

Reads finished sweep folders (`sweeps.runner.run_sweep`: results.csv, sweep.json), summarises each
(overall and per-class curves over the parameter values, opposite pairs, trends, ratio of
classes with an opposite partner and that ratio's chance level), and keeps the result as a small
JSON summary (KB) that the Bias page shows without retraining (`pretrained/sweeps/cifar10/
summary.json` for the shipped sweep). `paper/class_bias_report.py` writes the report from it.

Chance level of the ratio: each class's seed-averaged curve is shuffled over the parameter
values independently of the other classes (`n_null` times) and the ratio recomputed; with few
values, noisy curves give opposite pairs by chance, so a ratio is only called substantial when it
is at least 0.3 and above the 95th percentile of this null.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.evaluate.bias_stats import bias_report
from ssrl_core.evaluate.class_properties import property_anova
from ssrl_core.io import atomic_write_text
from ssrl_core.sweeps.class_verdicts import training_check, verdicts
from ssrl_core.sweeps.runner import read_results

SHIPPED = Path("sweeps") / "cifar10" / "summary.json"  # under paths.pretrained_dir()
RUNS = Path("sweeps") / "cifar10"  # under paths.runs_dir()
FRIENDLY = {("random_resized_crop", "scale"): "crop scale (min area)", ("hue_saturation", "hue"): "hue intensity",
            ("hue_saturation", "p"): "colour-jitter probability", ("brightness_contrast", "p"): "colour-jitter probability",
            ("horizontal_flip", "p"): "horizontal-flip probability"}

def shipped_path() -> Path:
    """Where the shipped summary lives (`<pretrained>/sweeps/cifar10/summary.json`)."""
    return paths.pretrained_dir() / SHIPPED

def describe_parameter(base: dict[str, Any], parameter: Any) -> str:
    """Plain name of a swept parameter: the paper's names for the section 3.1 four, else the path."""
    items = parameter if isinstance(parameter, list) else [parameter]
    names = []
    for item in items:
        if isinstance(item, dict):
            names.append(FRIENDLY.get((str(item.get("step")), str(item.get("param"))), f"{item.get('step')} {item.get('param')}"))
            continue
        parts = str(item).split(".")
        try:
            k = parts.index("steps")
            steps = base["recipes"][int(parts[1])]["recipe"]["steps"]
            step = steps[int(parts[k + 1])]["name"]
            attr = parts[k + 2] if parts[k + 2] == "p" else parts[k + 3]
            names.append(FRIENDLY.get((step, attr), f"{step} {attr}"))
        except (ValueError, IndexError, KeyError, TypeError):
            names.append(str(item))
    return " + ".join(dict.fromkeys(names))

def _ratio_of_matrix(wide: np.ndarray, threshold: float = -0.3, alpha: float = 0.05) -> float:
    """`bias_stats.opposite_ratio` of a (values x classes) matrix of mean curves, fast: Pearson and
    Spearman with their t-distribution p-values (as scipy computes them), Kendall by scipy."""
    import warnings

    from scipy import stats

    n, c = wide.shape
    if n < 3 or c < 2:
        return float("nan")
    flat = wide.std(axis=0) == 0

    def p_of(r: np.ndarray) -> np.ndarray:
        r = np.clip(r, -1.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.abs(r) * np.sqrt((n - 2) / np.maximum(1.0 - r * r, 1e-300))
        return 2 * stats.t.sf(t, n - 2)

    with np.errstate(invalid="ignore", divide="ignore"):
        pr = np.corrcoef(wide, rowvar=False)
        sr = np.corrcoef(np.apply_along_axis(stats.rankdata, 0, wide), rowvar=False)
    hit = ((pr < threshold) & (p_of(pr) < alpha)) | ((sr < threshold) & (p_of(sr) < alpha))
    has = np.zeros(c, dtype=bool)
    for a in range(c):
        for b in range(a + 1, c):
            if flat[a] or flat[b]:
                continue
            opp = bool(hit[a, b])
            if not opp:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    kt = stats.kendalltau(wide[:, a], wide[:, b])
                opp = bool(kt.statistic < threshold and kt.pvalue < alpha)
            if opp:
                has[a] = has[b] = True
    return float(has.mean())

def null_ratio(curves: pd.DataFrame, n: int = 200, seed: int = 0) -> dict[str, Any]:
    """The ratio of classes with an opposite partner when every class's curve is shuffled over the
    values on its own (no real link between classes): mean, 95th percentile and the samples."""
    wide = curves.pivot(index="value", columns="class", values="mean").sort_index().dropna().to_numpy(float)
    rng = np.random.default_rng(seed)
    r = np.asarray([_ratio_of_matrix(rng.permuted(wide, axis=0)) for _ in range(int(n))], dtype=float)
    if not len(r) or np.isnan(r).all():
        return {"mean": float("nan"), "q95": float("nan"), "samples": []}
    return {"mean": float(np.nanmean(r)), "q95": float(np.nanquantile(r, 0.95)), "samples": r.tolist()}

def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))

def sweep_summary(sweep_dir: str | Path, n_null: int = 200, name: str | None = None) -> dict[str, Any]:
    """Everything the report and the page show about one sweep folder, as plain JSON-able data."""
    d = Path(sweep_dir)
    results = read_results(d)
    if results.empty or results["value"].nunique() < 2:
        raise ValueError(f"the sweep {d.name} has fewer than two finished parameter values")
    meta = json.loads((d / "sweep.json").read_text()) if (d / "sweep.json").is_file() else {}
    base = meta.get("base") or {}
    rep = bias_report(results)
    per_run = results.groupby(["value", "seed"])["top1"].first().reset_index()
    overall = per_run.groupby("value")["top1"].agg(["mean", "std", "size"]).reset_index()
    overall["std"] = overall["std"].fillna(0.0)
    from scipy import stats

    fit = stats.linregress(per_run["value"].astype(float), per_run["top1"].astype(float)) \
        if per_run["value"].nunique() > 1 else None
    span = float(per_run["value"].max() - per_run["value"].min())
    overall_change = float(fit.slope * span) if fit is not None else float("nan")
    curves = rep["curves"]
    ranges = curves.groupby("class")["mean"].agg(lambda s: float(s.max() - s.min()))
    slopes = rep["slopes"].merge(ranges.rename("range").reset_index(), on="class")
    pairs = rep["pairs"]
    opposite = pairs[pairs["opposite"].astype(bool)].copy()
    null = null_ratio(curves, n_null) if n_null else {"mean": float("nan"), "q95": float("nan"), "samples": []}
    samples = np.asarray(null.pop("samples"), dtype=float)
    ratio = float(rep["opposite_ratio"])
    data = base.get("data") or {}
    return {
        "name": name or d.name, "path": str(d), "method": (base.get("method") or {}).get("name", "?"),
        "parameter": describe_parameter(base, meta.get("parameter")) if base else str(meta.get("parameter", "?")),
        "parameter_path": meta.get("parameter"), "values": sorted(float(v) for v in results["value"].unique()),
        "seeds": sorted(int(s) for s in results["seed"].unique()), "runs": int(len(per_run)),
        "backbone": base.get("backbone"), "epochs": base.get("epochs"), "max_steps": base.get("max_steps"),
        "batch_size": base.get("batch_size"), "ssl_images": data.get("max_cells"), "dataset": data.get("name"),
        "probe": {"split": meta.get("probe_split"), "train_cells": meta.get("probe_train_cells"),
                  "n_test": int(results.groupby(["value", "seed"])["n_test"].sum().iloc[0]) if "n_test" in results else None},
        "overall": _records(overall.rename(columns={"size": "n"})), "overall_change": overall_change,
        "overall_range": float(overall["mean"].max() - overall["mean"].min()),
        "curves": _records(curves), "slopes": _records(slopes), "opposite_pairs": _records(opposite),
        "n_pairs": int(len(pairs)), "ratio": ratio, "opposite_classes": rep["opposite_classes"],
        "classes": rep["classes"], "trends": {t: int(rep["trends"].get(t, 0)) for t in ("ascending", "descending", "flat")},
        "null_mean": null["mean"], "null_q95": null["q95"],
        "null_p": float((samples >= ratio - 1e-12).mean()) if len(samples) else float("nan"),
        "seed_noise": float(curves["std"].median()) if "std" in curves else float("nan"),
        "train_seconds": _train_seconds(d, results),
    }

def _train_seconds(sweep_dir: Path, results: pd.DataFrame) -> float | None:
    """Training wall time of a sweep's runs (their metrics.jsonl), in seconds; None when unknown."""
    from ssrl_core.train.rundir import run_seconds

    secs = [run_seconds(sweep_dir / str(r)) for r in results["run"].dropna().unique()]
    return round(sum(secs), 2) if secs and all(s is not None for s in secs) else None

def find_sweeps(root: str | Path) -> list[Path]:
    """Sweep folders under `root` (itself included) that have a results.csv, sorted by name."""
    root = Path(root)
    found = [root] if (root / "results.csv").is_file() else []
    if root.is_dir():
        found += sorted(p for p in root.iterdir() if (p / "results.csv").is_file())
    return found

def build_summary(sweep_dirs: list[Path], properties: pd.DataFrame | None = None, n_null: int = 200,
                  reference: str | None = None, baseline: dict[str, Any] | None = None,
                  start: dict[str, Any] | None = None) -> dict[str, Any]:
    """Summaries of several sweeps, their class properties + ANOVA per sweep, and the verdicts.
    `baseline` is the probe on random weights (the floor); `start`, the probe on the encoder the
    runs were fine-tuned from (None when they start from random weights)."""

    sweeps = []
    for d in sweep_dirs:
        try:
            sweeps.append(sweep_summary(d, n_null))
        except ValueError:
            continue  # not enough done yet: left out, said in the report by its absence
    out: dict[str, Any] = {"sweeps": sweeps, "reference_encoder": reference,
                           "made": f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC"}
    if properties is not None and len(properties):
        out["properties"] = _records(properties)
        for s in sweeps:
            s["anova"] = _records(property_anova(properties, pd.DataFrame(s["slopes"])))
    if baseline:
        out["baseline"] = baseline
        out["training_check"] = training_check(sweeps, baseline, start)
    out["verdicts"] = verdicts(out)
    return out

def write_shipped(summary: dict[str, Any], dest: str | Path | None = None) -> Path:
    """The summary as compact JSON (KB), without local paths, for the Bias page."""
    dest = Path(dest) if dest is not None else shipped_path()
    clean = json.loads(json.dumps(summary, default=str))
    for s in clean.get("sweeps", []):
        s.pop("path", None)
    return atomic_write_text(dest, json.dumps(clean, separators=(",", ":")) + "\n")

def load_summary(path: str | Path | None = None) -> dict[str, Any] | None:
    """The shipped (or given) summary, or None when absent or unreadable."""
    p = Path(path) if path is not None else shipped_path()
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None
