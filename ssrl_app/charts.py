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
