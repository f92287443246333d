"""Section 3.1 of Bendidi et al. 2024 on real CIFAR-10: per-class bias of one augmentation parameter.

Reads finished sweep folders (`sweep_runner.run_sweep`: results.csv, sweep.json), summarises each
(overall and per-class curves over the parameter values, opposite pairs, trends, ratio of
classes with an opposite partner and that ratio's chance level), joins the class properties
(`class_properties`, paper Table 1) with an ANOVA per sweep, and writes

- a small JSON summary (KB) that the Bias page shows without retraining
  (`pretrained/sweeps/cifar10/summary.json` for the shipped sweep), and
- `docs/results_cifar10.md` with figures in `docs/figures/`.

Every verdict is computed from the numbers (`verdicts`); nothing is written by hand.

Chance level of the ratio: each class's seed-averaged curve is shuffled over the parameter
values independently of the other classes (`n_null` times) and the ratio recomputed; with few
values, noisy curves give opposite pairs by chance, so a ratio is only called substantial when it
is at least 0.3 and above the 95th percentile of this null.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.evaluate.bias_stats import bias_report
from ssrl_core.io import atomic_write_text
from ssrl_core.reproduce.report import save_png
from ssrl_core.reproduce.tables import markdown_table
from ssrl_core.sweeps.runner import read_results

SHIPPED = Path("sweeps") / "cifar10" / "summary.json"  # under paths.pretrained_dir()
RUNS = Path("sweeps") / "cifar10"  # under paths.runs_dir()
SUBSTANTIAL = 0.3
MOVES_FACTOR = 2.0  # a class "moves a lot" when its fitted change is at least this times the overall one
MIN_MOVE = 0.01  # ... and at least 1 accuracy point
DIFFERS = 0.2  # ratios differ by parameter when they span at least 2 classes in 10
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
    from ssrl_core.reproduce.shipping import train_seconds

    secs = [train_seconds(sweep_dir / str(r)) for r in results["run"].dropna().unique()]
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
    from ssrl_core.evaluate.class_properties import property_anova

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


def training_check(sweeps: list[dict[str, Any]], baseline: dict[str, Any],
                   start: dict[str, Any] | None = None) -> dict[str, Any]:
    """Did the SSL runs learn anything beyond a random encoder? Mean top-1 of every run of every
    sweep against the random-init probe (same backbone, same probe), and against the encoder they
    were fine-tuned from when there is one."""
    tops = [o["mean"] for s in sweeps for o in s["overall"]]
    mean = float(np.mean(tops)) if tops else float("nan")
    gain = mean - float(baseline["top1"])
    out = {"ssl_top1": mean, "random_top1": float(baseline["top1"]), "gain": gain, "learned": bool(gain > 0.01),
           "encoder": baseline.get("encoder")}
    if start:
        out.update(start_encoder=start.get("encoder"), start_top1=float(start["top1"]),
                   start_gain=mean - float(start["top1"]))
    return out


def movers(s: dict[str, Any]) -> list[dict[str, Any]]:
    """Classes of one sweep whose fitted change is significant (not flat) and at least
    MOVES_FACTOR times the overall change (and at least MIN_MOVE)."""
    floor = max(MOVES_FACTOR * abs(s["overall_change"]), MIN_MOVE) if np.isfinite(s["overall_change"]) else MIN_MOVE
    return [r for r in s["slopes"] if r["trend"] != "flat" and abs(r["change"]) >= floor]


def verdicts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The four claims of section 3.1, each with `holds` (True / False / None = cannot tell) and
    the numbers behind it."""
    sw = summary.get("sweeps") or []
    if not sw:
        return [{"claim": "section 3.1", "holds": None, "evidence": "no finished sweep"}]
    out = []
    lines, ok = [], []
    for s in sw:
        m = movers(s)
        ok.append(bool(m))
        top = max(s["slopes"], key=lambda r: abs(r["change"]) if np.isfinite(r["change"]) else -1)
        lines.append(f"{s['method']} / {s['parameter']}: overall change {s['overall_change']:+.3f} "
                     f"(range {s['overall_range']:.3f}); largest class change {top['class']} {top['change']:+.3f}; "
                     f"{len(m)} class(es) move at least {MOVES_FACTOR:g}x the overall change with p < 0.05")
    out.append({"claim": "Overall accuracy moves little while some classes move a lot",
                "holds": sum(ok) > len(ok) / 2, "detail": f"{sum(ok)} of {len(ok)} sweeps", "evidence": lines})
    lines, ok = [], []
    for s in sw:
        t = s["trends"]
        both = t["ascending"] > 0 and t["descending"] > 0
        ok.append(both)
        lines.append(f"{s['method']} / {s['parameter']}: {t['ascending']} ascending, {t['descending']} descending, "
                     f"{t['flat']} flat; {len(s['opposite_pairs'])} opposite pair(s) of {s['n_pairs']}")
    out.append({"claim": "... and in opposite directions (ascending and descending classes in the same sweep)",
                "holds": sum(ok) > len(ok) / 2, "detail": f"{sum(ok)} of {len(ok)} sweeps", "evidence": lines})
    lines, ok = [], []
    for s in sw:
        sub = s["ratio"] >= SUBSTANTIAL and (not np.isfinite(s["null_q95"]) or s["ratio"] > s["null_q95"])
        ok.append(sub)
        lines.append(f"{s['method']} / {s['parameter']}: ratio {s['ratio']:.2f}; chance level {s['null_mean']:.2f} "
                     f"(95th percentile {s['null_q95']:.2f}, share of shuffles at or above {s['null_p']:.2f})")
    out.append({"claim": f"The ratio of classes with an opposite partner is substantial (>= {SUBSTANTIAL:g} and above chance)",
                "holds": sum(ok) > len(ok) / 2, "detail": f"{sum(ok)} of {len(ok)} sweeps", "evidence": lines})
    by_method: dict[str, list[dict]] = {}
    for s in sw:
        by_method.setdefault(s["method"], []).append(s)
    lines, verdict = [], None
    for method, group in by_method.items():
        if len(group) < 2:
            continue
        r = [g["ratio"] for g in group]
        spread = max(r) - min(r)
        # a spread between ratios that shuffled curves reach as often is no difference: at least one
        # parameter's ratio must stand above its chance level (95th percentile of the shuffles)
        real = [g for g in group if not np.isfinite(g["null_q95"]) or g["ratio"] > g["null_q95"]]
        verdict = (verdict or False) or (spread >= DIFFERS and bool(real))
        lines.append(f"{method}: ratios " + ", ".join(f"{g['parameter']} {g['ratio']:.2f}" for g in group)
                     + f"; spread {spread:.2f} (differs when >= {DIFFERS:g} and one ratio is above chance); "
                     + (f"above chance: {', '.join(g['parameter'] for g in real)}" if real
                        else "every ratio is within chance"))
    out.append({"claim": "The ratio differs by parameter", "holds": verdict,
                "detail": "needs two parameters with one method" if verdict is None else "", "evidence": lines})
    return out


def _steps(s: dict[str, Any]) -> str:
    """Training steps of one run of a sweep, from its epochs, images and batch (or max_steps)."""
    try:
        per_epoch = int(s["ssl_images"]) // int(s["batch_size"])
        steps = per_epoch * int(s["epochs"])
        return str(min(steps, int(s["max_steps"])) if s.get("max_steps") else steps)
    except (TypeError, ValueError, KeyError, ZeroDivisionError):
        return "?"


def _word(holds: bool | None) -> str:
    return "n/a" if holds is None else ("held" if holds else "**not held**")


def figures(summary: dict[str, Any], folder: Path) -> list[Path]:
    """Per-class curves of the sweep with the largest ratio, and the ratio per parameter and method."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a requirement
        return []
    sw = summary.get("sweeps") or []
    if not sw:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    best = max(sw, key=lambda s: s["ratio"])
    curves = pd.DataFrame(best["curves"])
    opp = set(best["opposite_classes"])
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for cls, g in curves.groupby("class"):
        ax.errorbar(g["value"], g["mean"], yerr=g["std"], marker="o", capsize=2, lw=2 if cls in opp else 1,
                    ls="-" if cls in opp else ":", label=cls + (" *" if cls in opp else ""))
    ov = pd.DataFrame(best["overall"])
    ax.plot(ov["value"], ov["mean"], color="black", lw=3, label="overall")
    ax.set_xlabel(best["parameter"])
    ax.set_ylabel("linear-probe accuracy (test split)")
    ax.set_title(f"CIFAR-10, {best['method']}: per-class accuracy vs {best['parameter']}\n"
                 f"(mean ± std over {len(best['seeds'])} seeds; * = has an opposite partner)", fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    made.append(save_png(fig, folder / "results_cifar10_curves.png", plt))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    labels = [f"{s['parameter']}\n{s['method']}" for s in sw]
    x = np.arange(len(sw))
    ax.bar(x, [s["ratio"] for s in sw], color="#4c78a8", label="observed")
    ax.scatter(x, [s["null_q95"] for s in sw], color="black", marker="_", s=400, label="chance, 95th percentile")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("classes with an opposite partner")
    ax.legend(fontsize=8)
    fig.tight_layout()
    made.append(save_png(fig, folder / "results_cifar10_ratio.png", plt))
    return made


def render(summary: dict[str, Any], figure_paths: list[str], command: str) -> str:
    """The markdown page."""
    sw = summary.get("sweeps") or []
    lines = ["# Section 3.1 on real CIFAR-10: per-class bias of one augmentation parameter", "",
             f"Written by `{command}` on {summary.get('made')} (Python {platform.python_version()}); "
             "every number and verdict below is computed from the sweep folders, none is typed by hand.", ""]
    if not sw:
        return "\n".join(lines + ["No finished sweep was found yet. `ssrl reproduce-cifar` runs the shipped sweeps "
                                  "(`configs/sweeps/cifar10_*.yaml`, resumable, about 45 CPU-minutes on one "
                                  "core after the 20 of `cifar10_base`) and rewrites this page."]) + "\n"
    runs = sum(s["runs"] for s in sw)
    s0 = sw[0]
    lines += ["## What was run", "",
              f"{len(sw)} sweeps, {runs} training runs in all: "
              + "; ".join(f"{s['method']} / {s['parameter']}: {len(s['values'])} values x {len(s['seeds'])} seeds"
                          for s in sw) + ".",
              f"Each run: {s0['backbone']} at 32 px, {s0['epochs']} epochs on {s0['ssl_images']} training images "
              f"(batch {s0['batch_size']}, {_steps(s0)} steps), then a linear probe trained on {s0['probe']['train_cells']} training-split "
              f"images and scored on {s0['probe']['n_test']} test-split images.",
              f"The paper: ResNet18, 20 values x 5 seeds per parameter (100 runs per parameter and method, "
              f"full training); here {len(s0['values'])} values x {len(s0['seeds'])} seeds "
              f"({len(s0['values']) * len(s0['seeds'])} runs per sweep) of under a CPU-minute each, so the "
              "encoders are far weaker and the curves noisier than the paper's."]
    seconds = [s.get("train_seconds") for s in sw]
    if all(t is not None for t in seconds):
        lines += [f"Training time of the {runs} runs: {sum(seconds) / 60:.0f} minutes on one core "
                  "(wall time on a core that other jobs shared; probes, start-up and the start encoder's own training "
                  "not counted)."]
    lines += [""]
    tc = summary.get("training_check")
    if tc:
        lines += [f"Floor: the same probe on a randomly initialised `{tc['encoder']}` scores top-1 "
                  f"{tc['random_top1']:.3f}; the SSL runs average {tc['ssl_top1']:.3f} "
                  f"({tc['gain']:+.3f}). " + ("The short runs learned something beyond random features."
                                               if tc["learned"] else
                                               ("**The short runs do not beat random features**" if tc["gain"] <= 0
                                                else "**The short runs barely beat random features (under 1 point)**")
                                               + ", so what the parameter changes here is mostly noise around an "
                                               "untrained encoder; read the verdicts below with that in mind.")]
        if tc.get("start_encoder"):
            lines += [f"Start: every run fine-tunes the shipped `{tc['start_encoder']}` (SimCLR with the fixed "
                      f"recipe on the training split; `configs/pretrained/{tc['start_encoder']}.yaml`), whose own "
                      f"probe scores {tc['start_top1']:.3f}; the fine-tuned runs average {tc['ssl_top1']:.3f} "
                      f"({tc['start_gain']:+.3f} against it). What a parameter value changes is measured as what "
                      "its short fine-tune moves, from one shared starting point."]
        lines += [""]
    lines += ["## Verdicts", "", "| claim | here | sweeps |", "|---|---|---|"]
    for v in summary["verdicts"]:
        lines.append(f"| {v['claim']} | {_word(v['holds'])} | {v.get('detail', '')} |")
    lines.append("")
    for v in summary["verdicts"]:
        lines += [f"- {v['claim']}:"] + [f"  - {e}" for e in v.get("evidence", [])]
    lines += ["", "## Per sweep", ""]
    table = pd.DataFrame([{"method": s["method"], "parameter": s["parameter"],
                           "values": ", ".join(f"{v:g}" for v in s["values"]), "runs": s["runs"],
                           "overall range": s["overall_range"], "overall change": s["overall_change"],
                           "largest class range": max(r["range"] for r in s["slopes"]),
                           "asc/desc/flat": f"{s['trends']['ascending']}/{s['trends']['descending']}/{s['trends']['flat']}",
                           "opposite pairs": len(s["opposite_pairs"]), "ratio": s["ratio"],
                           "chance (q95)": s["null_q95"]} for s in sw])
    lines += [markdown_table(table), ""]
    lines += [f"![{Path(p).stem}]({p})" for p in figure_paths] + [""]
    for s in sw:
        lines += [f"### {s['method']} / {s['parameter']}", ""]
        ov = pd.DataFrame(s["overall"])[["value", "mean", "std"]].rename(columns={"mean": "overall top-1", "std": "std"})
        lines += [markdown_table(ov), ""]
        sl = pd.DataFrame(s["slopes"])[["class", "change", "p", "range", "trend"]]
        lines += [markdown_table(sl), ""]
        if s["opposite_pairs"]:
            op = pd.DataFrame(s["opposite_pairs"])[["class_a", "class_b", "pearson_r", "pearson_p", "kendall_r",
                                                    "kendall_p", "spearman_r", "spearman_p"]]
            lines += ["Opposite pairs:", "", markdown_table(op), ""]
        else:
            lines += ["No opposite pair.", ""]
    if summary.get("properties"):
        lines += ["## Class properties (paper Table 1)", "",
                  f"On the features of the fixed reference encoder `{summary.get('reference_encoder')}`; texture and "
                  "Fourier measures on the images (see `ssrl_core/evaluate/class_properties.py`).", "",
                  markdown_table(pd.DataFrame(summary["properties"])), "",
                  "One-way ANOVA of each property across the ascending / descending / flat classes of each sweep "
                  "(F, p; a group of fewer than two classes is left out, and with fewer than two groups left there "
                  "is no test):", ""]
        rows = [{"method": s["method"], "parameter": s["parameter"], **{k: a[k] for k in ("property", "F", "p", "note")}}
                for s in sw for a in s.get("anova", [])]
        lines += [markdown_table(pd.DataFrame(rows)), ""]
    return "\n".join(lines) + "\n"


def write_report(summary: dict[str, Any], docs: str | Path, command: str = "ssrl reproduce-cifar") -> dict[str, Path]:
    """`docs/results_cifar10.md` and its figures in `docs/figures/`; returns the paths."""
    docs = Path(docs)
    made = figures(summary, docs / "figures")
    text = render(summary, [f"figures/{p.name}" for p in made], command)
    out = {"results_cifar10": atomic_write_text(docs / "results_cifar10.md", text)}
    out.update({p.stem: p for p in made})
    return out


def report_from_shipped(docs: str | Path, command: str = "ssrl reproduce") -> dict[str, Path] | None:
    """Rewrite docs/results_cifar10.md and its figures from the shipped summary (no training, no
    sweep folders needed); None when no summary is shipped. The call for `ssrl reproduce`."""
    summary = load_summary()
    if not summary:
        return None
    summary["verdicts"] = verdicts(summary)  # recomputed from the shipped numbers
    return write_report(summary, docs, command=f"{command} (from {SHIPPED.as_posix()})")


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
