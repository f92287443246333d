"""Slide-ready figures of the Explore and Bias charts: PNG and SVG, titled with what made them.

The app's charts are interactive Altair charts; a slide needs a still image with its context.
These functions redraw the same data with matplotlib (already pinned; no browser or Vega
engine is needed to export) and title every figure with the dataset, the representation
(encoder) and the augmentation recipe it was trained with. `download_buttons` offers the PNG
and SVG with deferred generation: the figure is drawn only when a button is pressed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ssrl_core.io import read_yaml  # noqa: E402

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def recipe_of(encoder: str) -> str:
    """The recipe(s) a checkpoint was trained with, as words; baselines have none."""
    if not encoder or not Path(str(encoder)).suffix == ".pt":
        return "no augmentation recipe (baseline)"
    try:
        from ssrl_core.models.encoder_file import checkpoint_info, load_checkpoint  # torch: only when asked
        info = checkpoint_info(load_checkpoint(encoder))
    except Exception:  # an unreadable checkpoint still gets a figure
        return "recipe unknown"
    names = []
    for r in info.get("recipes") or []:
        names.append(str(r.get("name") or r.get("preset") or "custom") if isinstance(r, dict) else str(r))
    return "recipe " + (" + ".join(names) if names else "unknown")


def title_for(chart: str, dataset: str, encoder_label: str, recipe: str) -> str:
    """`<chart>` over a second line `dataset · representation · recipe`."""
    return f"{chart}\n{dataset} · {encoder_label} · {recipe}"


def sweep_title(sweep_dir: str | Path) -> str:
    """Title of a sweep's curves from its `sweep.yaml`: parameter, dataset, backbone, recipe."""
    try:
        cfg = read_yaml(Path(sweep_dir, "sweep.yaml"))
        base, par = cfg.get("base", {}), cfg.get("parameter", {})
        recipe = (base.get("recipes") or [{}])[int(par.get("recipe", 0))]
        rname = (recipe.get("recipe") or {}).get("name") or recipe.get("preset") or "custom"
        return title_for(f"Sweep of {par.get('step')} · {par.get('param')}: probe accuracy per class",
                         str(base.get("data", {}).get("name", "?")), f"{base.get('backbone', '?')} short runs",
                         f"recipe {rname}")
    except Exception:  # a sweep folder without a readable config still gets a figure
        return f"Sweep {Path(sweep_dir).name}: probe accuracy per class"


def to_bytes(fig: Figure, fmt: str) -> bytes:
    """Render and close the figure; `fmt` is png (150 dpi) or svg."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, not {fmt!r}")
    buf = io.BytesIO()
    try:
        with plt.rc_context({"svg.fonttype": "none"}):  # SVG text stays text, editable on a slide
            fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def _colours(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """The app's colours (`charts.PALETTE` in `charts.domain_of` order): a figure for slides gives
    each value the colour it has on the page."""
    from ssrl_app.shell.charts import PALETTE, domain_of
    cats = domain_of(values)
    lut = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(cats)}
    return np.array([lut.get(v, "#7f7f7f") for v in values.astype(str)], dtype=object), cats


def map_figure(df: pd.DataFrame, colour: str, title: str, method: str = "UMAP") -> Figure:
    """The map of the cells (`x`, `y`) coloured by a metadata column, with a legend."""
    fig, ax = plt.subplots(figsize=(7, 6))
    cols, cats = _colours(df[colour])
    ax.scatter(df["x"], df["y"], c=list(cols), s=10, alpha=0.8, linewidths=0)
    from ssrl_app.shell.charts import PALETTE
    for i, c in enumerate(cats[:40]):
        ax.scatter([], [], color=PALETTE[i % len(PALETTE)], label=c, s=20)
    ax.legend(title=colour, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_xlabel(f"{method} 1"), ax.set_ylabel(f"{method} 2")
    ax.set_title(title, fontsize=10)
    return fig


def factor_figure(table: pd.DataFrame, title: str) -> Figure:
    """Factor-probe bars (score per factor) with the chance level as black ticks: categories
    (balanced accuracy) and measurements (R²) on separate axes, never one."""
    is_r2 = table["probe_metric"].astype(str).eq("r2") if "probe_metric" in table.columns \
        else pd.Series(False, index=table.index)
    parts = [(p, label) for p, label in ((table[~is_r2], "categories: balanced accuracy"),
                                         (table[is_r2], "measurements: R² (share of the variation explained)"))
             if len(p)]
    heights = [max(1.2, 0.35 * len(p) + 0.8) for p, _ in parts]
    fig, axes = plt.subplots(len(parts), 1, figsize=(7, sum(heights) + 0.6), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, (part, label) in zip(axes[:, 0], parts):
        t = part.sort_values("probe_score")
        kinds = t["kind"].astype(str) if "kind" in t.columns else pd.Series(["factor"] * len(t))
        cols, _ = _colours(kinds)
        y = np.arange(len(t))
        ax.barh(y, t["probe_score"], color=list(cols))
        if "chance" in t.columns:
            ax.scatter(t["chance"], y, marker="|", color="black", s=200, label="chance")
            ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.set_yticks(y, t["factor"].astype(str))
        ax.set_xlim(0, 1)
        ax.set_xlabel(label)
    axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def curves_figure(curves: pd.DataFrame, ycol: str, title: str, param: str = "parameter value") -> Figure:
    """Sweep curves: one line per class of probe accuracy against the parameter value."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for cls, part in curves.groupby(curves["class"].astype(str)):
        part = part.sort_values("value")
        ax.plot(part["value"], part[ycol], marker="o", label=cls)
    ax.set_xlabel(param), ax.set_ylabel("probe accuracy")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title(title, fontsize=10)
    return fig


def gallery_figure(rows: list[tuple[str, list[np.ndarray]]], title: str) -> Figure:
    """Cluster galleries: one row per cluster (its caption, then its typical cells as RGB uint8)."""
    n_cols = max((len(imgs) for _, imgs in rows), default=1)
    fig, axes = plt.subplots(max(len(rows), 1), n_cols, figsize=(1.3 * n_cols + 2.5, 1.35 * max(len(rows), 1) + 0.6),
                             squeeze=False)
    for r, (caption, imgs) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(imgs):
                ax.imshow(imgs[c], interpolation="nearest")
        axes[r, 0].text(-0.1, 0.5, caption, transform=axes[r, 0].transAxes, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.3, wspace=0.05, hspace=0.15)
    return fig


def download_buttons(container, make: Callable[[], Figure], name: str, key: str) -> None:
    """PNG and SVG download buttons; the figure is drawn only when one is pressed."""
    a, b = container.columns(2)
    for col, fmt in ((a, "png"), (b, "svg")):
        col.download_button(f"Download {fmt.upper()}", data=lambda f=fmt: to_bytes(make(), f),
                            file_name=f"{name}.{fmt}", mime=FORMATS[fmt], key=f"{key}.{fmt}", on_click="ignore")
