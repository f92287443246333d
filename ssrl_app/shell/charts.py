"""Altair charts shared by the pages: readable counts, and colours that tell groups apart.

Counts are horizontal bars (labels stay horizontal, one row of about 24 px per value, so
a chart never squashes into 10-px bars), on a whole-number axis (never half a cell).
Categories use a palette of 24 distinct colours: tableau10 first, then colours picked one by one
to be as far as possible (CIEDE2000) from all those before; any two differ by a CIEDE2000 distance
of at least 15 and all read on white (tests/test_app_colours.py). A category keeps its colour on
every map and page: `category_scale(domain_of(values))` gives the colours in the sorted order of
the column's values (numbers in numeric order), whatever subset of cells a map shows.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

# tableau10 (with a mid grey), then the colours farthest (CIEDE2000) from all those before them.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#9c755f",
           "#ff9da7", "#7f7f7f", "#000075", "#2b3d26", "#800000", "#911eb4", "#dcbeff", "#654522",
           "#808000", "#a1caf1", "#b2df8a", "#f032e6", "#00429d", "#bab0ac", "#b3446c", "#a6761d"]
PAIR = ["#2b7bb9", "#e6761b"]  # two recipes / two representations: blue and orange


def domain_of(values) -> list[str]:
    """The sorted distinct values (as text) of a column: numbers in numeric order ("2" before
    "10"), else alphabetical. Used as a colour domain, it gives each value the same colour on
    every map, whichever of them a subset of cells holds."""
    seen = sorted({str(v) for v in values if v is not None and str(v) != "nan"})
    try:
        return sorted(seen, key=float)
    except ValueError:
        return seen


def category_scale(values: list | None = None) -> alt.Scale:
    """A colour scale of distinct hues (cluster 0 and 1 never look alike); with `values` (a
    `domain_of` list), value i always gets colour i (colours repeat only past 24 values)."""
    if values is None:
        return alt.Scale(range=PALETTE)
    return alt.Scale(domain=list(values), range=[PALETTE[i % len(PALETTE)] for i in range(len(values))])


WHOLE = alt.Axis(format="d", tickMinStep=1)  # an axis of counts: whole numbers only (never 0.5 cells)


def count_chart(counts: pd.DataFrame, col: str, limit: int = 60) -> alt.Chart:
    """Horizontal bars of `counts` (columns `col`, `cells`), in the frame's order."""
    counts = counts.head(limit).rename(columns={col: "group"})
    order = counts["group"].astype(str).tolist()
    # Streamlit fits the whole chart (axes and title included) into `height`: add their room.
    height = 24 * len(counts) + 60
    base = alt.Chart(counts).encode(
        y=alt.Y("group:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelAngle=0, labelOverlap=False)),
        x=alt.X("cells:Q", title="cells", axis=WHOLE), tooltip=[alt.Tooltip("group:N", title=col), "cells"])
    bars = base.mark_bar(color=PAIR[0], height={"band": 0.8})
    text = base.mark_text(align="left", dx=3, fontSize=11).encode(text="cells:Q")
    return alt.layer(bars, text).properties(height=height)


def fit_title(text: str, width: int, px_per_char: float = 6.6) -> str:
    """`text` shortened in the middle to fit `width` px at a 12-px font (a chart title is never cut
    at its end by the chart's edge: "A: shipped: mitoch…set_a")."""
    room = max(8, int(width / px_per_char))
    if len(text) <= room:
        return text
    head = (room - 1) * 2 // 3
    return text[:head] + "…" + text[-(room - 1 - head):]


def linked_maps(cells: pd.DataFrame, column: str, title_a: str, title_b: str, width: int = 270) -> alt.HConcatChart:
    """Two maps of the same cells side by side with linked selection: a box dragged on either
    map greys out, on both, the cells outside it (`cells`: columns cell, group, xa, ya, xb, yb).

    Concatenated charts cannot stretch to their container, so each map is `width` px wide (two
    fit a 1024-px screen beside the sidebar), titles are short, and the legend sits under both
    maps, in the colours every other map gives these values (`domain_of`)."""
    brush_a = alt.selection_interval(name="brush_a", encodings=["x", "y"])
    brush_b = alt.selection_interval(name="brush_b", encodings=["x", "y"])
    domain = domain_of(cells["group"])
    legend = alt.Legend(orient="bottom", direction="horizontal", columns=4, symbolLimit=60, labelLimit=140,
                        title=column)
    colour = alt.condition(brush_a & brush_b, alt.Color("group:N", scale=category_scale(domain), legend=legend),
                           alt.value("#d9d9d9"))
    base = alt.Chart(cells).mark_circle(size=30, opacity=0.85).encode(color=colour, tooltip=["cell", "group"])
    a = base.encode(x=alt.X("xa:Q", axis=None), y=alt.Y("ya:Q", axis=None)).add_params(brush_a).properties(
        title=alt.TitleParams(fit_title(title_a, width), fontSize=12, anchor="start"), width=width, height=width)
    b = base.encode(x=alt.X("xb:Q", axis=None), y=alt.Y("yb:Q", axis=None)).add_params(brush_b).properties(
        title=alt.TitleParams(fit_title(title_b, width), fontSize=12, anchor="start"), width=width, height=width)
    return alt.hconcat(a, b, spacing=12).resolve_scale(color="shared")
