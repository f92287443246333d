"""Altair charts shared by the pages: readable counts, and colours that tell groups apart.

Counts are horizontal bars (labels stay horizontal, one row of about 18 px per value, so
a chart never squashes into 10-px bars). Categories use a palette of 20 distinct colours
(`tableau20` reordered so neighbouring cluster numbers get contrasting hues, never two blues).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

# tableau10 first (strongly different hues), then the lighter tableau20 partners.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e"]
PAIR = ["#2b7bb9", "#e6761b"]  # two recipes / two representations: blue and orange


def category_scale(values: list | None = None) -> alt.Scale:
    """A colour scale of distinct hues (cluster 0 and 1 never look alike)."""
    return alt.Scale(range=PALETTE, domain=values) if values is not None else alt.Scale(range=PALETTE)


def count_chart(counts: pd.DataFrame, col: str, limit: int = 60) -> alt.Chart:
    """Horizontal bars of `counts` (columns `col`, `cells`), in the frame's order."""
    counts = counts.head(limit).rename(columns={col: "group"})
    order = counts["group"].astype(str).tolist()
    # Streamlit fits the whole chart (axes and title included) into `height`: add their room.
    height = 24 * len(counts) + 60
    base = alt.Chart(counts).encode(
        y=alt.Y("group:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelAngle=0, labelOverlap=False)),
        x=alt.X("cells:Q", title="cells"), tooltip=[alt.Tooltip("group:N", title=col), "cells"])
    bars = base.mark_bar(color=PAIR[0], height={"band": 0.8})
    text = base.mark_text(align="left", dx=3, fontSize=11).encode(text="cells:Q")
    return alt.layer(bars, text).properties(height=height)


def linked_maps(cells: pd.DataFrame, column: str, title_a: str, title_b: str) -> alt.HConcatChart:
    """Two maps of the same cells side by side with linked selection: a box dragged on either
    map greys out, on both, the cells outside it (`cells`: columns cell, group, xa, ya, xb, yb)."""
    brush_a = alt.selection_interval(name="brush_a", encodings=["x", "y"])
    brush_b = alt.selection_interval(name="brush_b", encodings=["x", "y"])
    colour = alt.condition(brush_a & brush_b, alt.Color("group:N", title=column, scale=category_scale()),
                           alt.value("#d9d9d9"))
    base = alt.Chart(cells).mark_circle(size=40, opacity=0.85).encode(color=colour, tooltip=["cell", "group"])
    a = base.encode(x=alt.X("xa:Q", axis=None), y=alt.Y("ya:Q", axis=None)).add_params(brush_a).properties(
        title=title_a, height=320)
    b = base.encode(x=alt.X("xb:Q", axis=None), y=alt.Y("yb:Q", axis=None)).add_params(brush_b).properties(
        title=title_b, height=320)
    return alt.hconcat(a, b).resolve_scale(color="shared")
