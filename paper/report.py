"""docs/results.md, docs/results_headline.md and docs/figures/*.png from a `reproduce()` result.

Each of the paper's claims (Bendidi et al. 2024, Tables 2-4 and section 3.3) is checked on the
numbers and marked held / not held; nothing is edited by hand, so rerunning `ssrl-paper reproduce`
rewrites the whole page.
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paper.floors import _spread
from paper.readme_blocks import README_END, README_START  # noqa: F401 (the markers of readme_block)
from paper.tables import fmt, markdown_table, mean_std
from paper.text import render_page
from ssrl_core.evaluate.verdicts import differs
from ssrl_core.io import atomic_write, atomic_write_text

HEADER = "Reproduction of the paper's findings on real data"


def _row(res: dict, label: str) -> dict | None:
    return next((r for r in res["rows"] if r["encoder"] == label), None)


def _m(res: dict, label: str, key: str) -> float:
    r = _row(res, label)
    return mean_std(r["values"].get(key, []))[0] if r else float("nan")


def _verdict(ok: bool | None, noisy: bool = False) -> str:
    if ok is None:
        return "n/a"
    if noisy:  # the gap is inside the spread over training seeds and K-Means runs: neither way
        return "**tie**: no clear difference (the gap is within the spread)"
    return "held" if ok else "**not held**"


def _noisy(res: dict, a: str, b: str, key: str) -> bool:
    """True when the two rows' means differ by no more than the protocol's margin: the spread over
    training seeds and K-Means runs (`verdicts.differs`); a claim that rests on such a gap is a tie."""

    ra, rb = _row(res, a), _row(res, b)
    if ra is None or rb is None:
        return False
    ma, mb = mean_std(ra["values"].get(key, []))[0], mean_std(rb["values"].get(key, []))[0]
    return not differs(ma, mb, _spread(ra, key), _spread(rb, key))


def _cmp(a: float, b: float, op: str, tol: float = 0.0) -> bool | None:
    if not (np.isfinite(a) and np.isfinite(b)):
        return None
    return {"gt": a > b, "lt": a < b, "ge": a >= b - tol}[op]


def claims(result: dict[str, Any]) -> list[dict[str, str]]:
    """The paper's claims, each with the numbers and whether it holds here."""
    out = []
    g = result["groups"]
    if "mnist" in g:
        r = g["mnist"]
        a1, a2 = _m(r, "set 1", "ami"), _m(r, "set 2", "ami")
        t1, t2 = _m(r, "set 1", "probe"), _m(r, "set 2", "probe")
        s1, s2 = _m(r, "set 1", "silhouette"), _m(r, "set 2", "silhouette")
        l1, l2 = r.get("lpips", {}).get("set 1", np.nan), r.get("lpips", {}).get("set 2", np.nan)
        out += [
            {"claim": "MNIST: set 2 lowers digit AMI (Table 2)", "numbers": f"set 1 {a1:.3f}, set 2 {a2:.3f}",
             "verdict": _verdict(_cmp(a2, a1, "lt"), _noisy(r, "set 1", "set 2", "ami"))},
            {"claim": "MNIST: set 2 lowers the linear probe (Table 2)", "numbers": f"set 1 {t1:.3f}, set 2 {t2:.3f}",
             "verdict": _verdict(_cmp(t2, t1, "lt"), _noisy(r, "set 1", "set 2", "probe"))},
            {"claim": "MNIST: set 2 raises LPIPS between views (Table 2)", "numbers": f"set 1 {l1:.3f}, set 2 {l2:.3f}",
             "verdict": _verdict(_cmp(l2, l1, "gt"))},
            {"claim": "MNIST: set 2 lowers silhouette only slightly (less than it lowers AMI)",
             "numbers": f"set 1 {s1:.3f}, set 2 {s2:.3f} (AMI drop {a1 - a2:.3f}, silhouette drop {s1 - s2:.3f})",
             "verdict": _verdict(None if not np.isfinite(s1 - s2) else bool(s1 - s2 < a1 - a2))},
        ]
    for group, key, what in (("bbbc021", "compound_ami", "BBBC021 cycloheximide vs DMSO, k=2 AMI"),
                             ("mitocheck", "ami", "MitoCheck phenotype AMI")):
        if group not in g:
            continue
        r = g[group]
        a, b, ab = _m(r, "set A", key), _m(r, "set B", key), _m(r, "A+B", key)
        im = _m(r, "ImageNet VGG16", key)
        best = max([v for v in (a, b, ab) if np.isfinite(v)], default=np.nan)
        out += [
            {"claim": f"{what}: set B > set A (Table 3)", "numbers": f"A {a:.3f}, B {b:.3f}",
             "verdict": _verdict(_cmp(b, a, "gt"), _noisy(r, "set A", "set B", key))},
            {"claim": f"{what}: A+B >= B (Table 4)", "numbers": f"B {b:.3f}, A+B {ab:.3f}",
             "verdict": _verdict(_cmp(ab, b, "ge"), _noisy(r, "set B", "A+B", key))},
            {"claim": f"{what}: SSL beats ImageNet features (Table 4)",
             "numbers": f"best SSL {best:.3f}, ImageNet {im:.3f}",
             "verdict": _verdict(_cmp(best, im, "gt"))},
        ]
    for group in ("bbbc021", "mitocheck"):
        if group not in g:
            continue
        r = g[group]
        for key, what in (("n_nuclei AMI", "the number of nuclei in the crop"), ("nucleus_area AMI", "nucleus size")):
            a, b = _m(r, "set A", key), _m(r, "set B", key)
            out.append({"claim": f"{group}: set A clusters by {what} more than set B (section 3.3, Figure 6)",
                        "numbers": f"{key}: A {a:.3f}, B {b:.3f}",
                        "verdict": _verdict(_cmp(a, b, "gt"), _noisy(r, "set A", "set B", key))})
    return out


def group_table(res: dict, metrics: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per encoder, one column per metric (mean ± std over training seeds)."""
    rows = []
    for r in res["rows"]:
        row = {"encoder": r["encoder"], "seeds": str(len(r["seeds"])) if r["kind"] == "ssl" else "-"}
        for key, title in metrics:
            row[title] = fmt(r["values"].get(key, []))
        rows.append(row)
    return pd.DataFrame(rows)


def _factor_table(res: dict, label: str) -> pd.DataFrame:
    keys = [(f"{label} AMI", f"{label} AMI"), (f"{label} probe", f"{label} probe acc."),
            ("n_nuclei AMI", "n nuclei AMI"), ("n_nuclei probe", "n nuclei probe acc."),
            ("nucleus_area AMI", "nucleus area AMI"), ("nucleus_area probe", "nucleus area probe R²"),
            ("intensity AMI", "intensity AMI"), ("intensity probe", "intensity probe R²")]
    return group_table(res, keys)


def headline(result: dict[str, Any]) -> str:
    """The short table for the README."""
    g = result["groups"]
    columns = ["set 1 / set A", "set 2 / set B", "A+B", "ImageNet VGG16", "random init", "hand features"]
    lines = ["| Data (held-out cells) | Measure | " + " | ".join(columns) + " |",
             "|---|---|---|---|---|---|---|---|"]
    specs = [("mnist", "MNIST-5k digits", "digit AMI (k=10)", "ami", ("set 1", "set 2", None)),
             ("mnist", "MNIST-5k digits", "digit probe (held-out cells)", "probe", ("set 1", "set 2", None)),
             ("bbbc021", "BBBC021 cycloheximide vs DMSO, 2 plates", "AMI (k=2, per-plate normalised)", "compound_ami",
              ("set A", "set B", "A+B")),
             ("bbbc021", "BBBC021 cycloheximide vs DMSO, 2 plates", "probe (held-out wells)", "probe",
              ("set A", "set B", "A+B")),
             ("mitocheck", "MitoCheck phenotypes, 25 plates", "AMI (k=16)", "ami", ("set A", "set B", "A+B")),
             ("mitocheck", "MitoCheck phenotypes, 25 plates", "probe (held-out plates)", "probe",
              ("set A", "set B", "A+B"))]
    for group, data, measure, key, labels in specs:
        if group not in g:
            continue
        r = g[group]
        rnd = next((x["encoder"] for x in r["rows"] if x["encoder"].startswith("random")), None)
        cells = [fmt(_row(r, lab)["values"].get(key, [])) if lab and _row(r, lab) else "-" for lab in labels]
        cells.append(fmt(_row(r, "ImageNet VGG16")["values"].get(key, [])) if _row(r, "ImageNet VGG16") else "-")
        cells.append(fmt(_row(r, rnd)["values"].get(key, [])) if rnd else "-")
        cells.append(fmt(_row(r, "hand features")["values"].get(key, [])) if _row(r, "hand features") else "-")
        lines.append(f"| {data} | {measure} | " + " | ".join(cells) + " |")
    held = sum(c["verdict"].startswith("held") for c in claims(result))
    total = sum(c["verdict"] != "n/a" for c in claims(result))
    lines.append("")
    lines.append(f"{held} of {total} checked claims of the paper hold on this data; a claim whose gap is inside "
                 "the spread over training seeds and K-Means runs is called a tie. See [docs/results.md](docs/results.md) "
                 "for every table, the evaluation protocol, the held-out splits and what does not hold.")
    return "\n".join(lines) + "\n"




def readme_block(result: dict[str, Any], seeds: str) -> str:
    """The README's results paragraph and table (between its markers)."""
    seeds_text = ("one training seed each: the runs of extra seeds were not kept; `ssrl-paper reproduce --retrain "
                  "--seeds 0 1 2` trains them" if seeds == "1" else f"mean ± std over {seeds} training seeds")
    return (f"Shipped checkpoints (`pretrained/`, trained on this project's 2-core CPU in minutes; {seeds_text}), "
            "scored on held-out cells by `ssrl-paper reproduce` under the one evaluation "
            "protocol the app and the command line use (features normalised per plate to its DMSO cells, "
            "k = the number of groups, the median AMI over 10 K-Means runs, probes trained on other plates or "
            "wells, balanced accuracy); each one's training is in [docs/results.md](docs/results.md), with every "
            "table, whether each encoder beats random weights of its own backbone and the hand features, and "
            "what does not hold.\n\n" + headline(result))


def figures(result: dict[str, Any], folder: Path) -> list[Path]:
    """Bar charts (PNG) of the main tables; [] when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    g = result["groups"]
    panels = [("bbbc021", "compound_ami", "BBBC021: cycloheximide vs DMSO AMI (k=2)"),
              ("bbbc021", "plate_ami_raw", "BBBC021 DMSO: plate AMI before normalisation"),
              ("mitocheck", "ami", "MitoCheck: phenotype AMI (k=16)"),
              ("mitocheck", "probe", "MitoCheck: phenotype probe (held-out plates)"),
              ("mnist", "ami", "MNIST: digit AMI (k=10)"), ("mnist", "probe", "MNIST: digit probe")]
    panels = [p for p in panels if p[0] in g]
    if panels:
        ncol = min(3, len(panels))
        nrow = -(-len(panels) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
        for ax in axes.flat[len(panels):]:
            ax.axis("off")
        for ax, (group, key, title) in zip(axes.flat, panels):
            rows = [r for r in g[group]["rows"] if r["values"].get(key)]
            stats = [mean_std(r["values"][key]) for r in rows]
            ax.bar(range(len(rows)), [s[0] for s in stats], yerr=[s[1] for s in stats],
                   color=["tab:blue" if r["kind"] == "ssl" else "tab:gray" for r in rows])
            ax.set_xticks(range(len(rows)), [r["encoder"] for r in rows], rotation=60, ha="right", fontsize=7)
            ax.set_title(title, fontsize=8)
        fig.tight_layout()
        made.append(save_png(fig, folder / "results_metrics.png", plt))
    fac = [(grp, lab) for grp, lab in (("bbbc021", "compound"), ("mitocheck", "phenotype")) if grp in g]
    if fac:
        fig, axes = plt.subplots(1, len(fac), figsize=(5 * len(fac), 3.4), squeeze=False)
        for ax, (group, label) in zip(axes[0], fac):
            keys = [f"{label} AMI", "n_nuclei AMI", "nucleus_area AMI", "intensity AMI"]
            for i, enc in enumerate(("set A", "set B", "A+B")):
                r = _row(g[group], enc)
                if r is None:
                    continue
                vals = [mean_std(r["values"].get(k, []))[0] for k in keys]
                ax.bar(np.arange(len(keys)) + 0.27 * (i - 1), vals, width=0.27, label=enc)
            ax.set_xticks(range(len(keys)), [k.replace(" AMI", "") for k in keys], fontsize=8)
            ax.set_title(f"{group}: factor probe (AMI per factor)", fontsize=9)
            ax.legend(fontsize=7)
        fig.tight_layout()
        made.append(save_png(fig, folder / "results_factors.png", plt))
    return made


def save_png(fig, path: Path, plt) -> Path:
    """Write a matplotlib figure as PNG atomically and close it (the reproduction pages' figures)."""
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
    return path


def write_report(result: dict[str, Any], docs: Path, index: dict | None = None, command: str = "ssrl-paper reproduce",
                 figure_links: str = "figures") -> dict[str, Path]:
    """Write results.md, results_headline.md and figures into `docs`; returns their paths."""
    docs = Path(docs)
    made = figures(result, docs / "figures")
    text = render(result, index, command, [f"{figure_links}/{p.name}" for p in made])
    out = {"results": atomic_write_text(docs / "results.md", text),
           "headline": atomic_write_text(docs / "results_headline.md", headline(result))}
    for p in made:
        out[p.stem] = p
    return out


def render(result: dict[str, Any], index: dict | None, command: str, figure_paths: list[str]) -> str:
    return render_page(result, index, command, figure_paths, claims(result), group_table, _factor_table,
                       headline(result), markdown_table,
                       stamp=f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
                             f"Python {platform.python_version()}")
