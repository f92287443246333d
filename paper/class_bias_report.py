"""Section 3.1 of Bendidi et al. 2024 on real CIFAR-10: the report of the per-class bias summary.

The summary and its verdicts are made by `ssrl_core.sweeps.class_bias` (every verdict is computed
from the numbers; nothing is written by hand); this module writes `docs/results_cifar10.md` with
figures in `docs/figures/`, from fresh sweeps or from the shipped summary.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paper.report import save_png
from paper.tables import markdown_table
from ssrl_core.io import atomic_write_text
from ssrl_core.sweeps.class_bias import SHIPPED, load_summary
from ssrl_core.sweeps.class_verdicts import _steps, _word, verdicts


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
        return "\n".join(lines + ["No finished sweep was found yet. `ssrl-paper class-bias` runs the shipped sweeps "
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


def write_report(summary: dict[str, Any], docs: str | Path, command: str = "ssrl-paper class-bias") -> dict[str, Path]:
    """`docs/results_cifar10.md` and its figures in `docs/figures/`; returns the paths."""
    docs = Path(docs)
    made = figures(summary, docs / "figures")
    text = render(summary, [f"figures/{p.name}" for p in made], command)
    out = {"results_cifar10": atomic_write_text(docs / "results_cifar10.md", text)}
    out.update({p.stem: p for p in made})
    return out


def report_from_shipped(docs: str | Path, command: str = "ssrl-paper reproduce") -> dict[str, Path] | None:
    """Rewrite docs/results_cifar10.md and its figures from the shipped summary (no training, no
    sweep folders needed); None when no summary is shipped. The call for `ssrl-paper reproduce`."""
    summary = load_summary()
    if not summary:
        return None
    summary["verdicts"] = verdicts(summary)  # recomputed from the shipped numbers
    return write_report(summary, docs, command=f"{command} (from {SHIPPED.as_posix()})")
