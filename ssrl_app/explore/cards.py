"""Pin a cell: click a point of the Explore map to keep its cell on screen.

The pinned cell shows every channel alone (grey), the composite and all its metadata (plate,
well, dose…). It stays until another point is clicked or *Unpin* is pressed, and belongs to one
embedding (`state.PINNED` = {"key": embedding key, "cell": position in the dataset}).
"""

from __future__ import annotations

import streamlit as st

from ssrl_app.shell import loaders, state
from ssrl_app.shell.images import channel_tiles, composite, enlarge


def pin_from_event(event, key: str) -> None:
    """Store the clicked cell of a map selection event (`st.altair_chart(on_select=...)`)."""
    try:
        points = (event or {}).get("selection", {}).get("pin") or []
    except AttributeError:
        return
    if points and "cell" in points[0]:
        state.put(state.PINNED, {"key": key, "cell": int(points[0]["cell"])})


def pinned_card(name: str, cells, key: str) -> None:
    """The pinned cell's channels, composite and metadata (nothing when no cell is pinned)."""
    pin = state.get(state.PINNED)
    if not pin or pin.get("key") != key:
        st.caption("Click a point to pin its cell here (every channel and all its metadata).")
        return
    i = int(pin["cell"])
    lo, hi = loaders.ranges(name)
    with st.container(border=True):
        c1, c2 = st.columns([3, 2])
        tiles = [enlarge(t, 96) for t in channel_tiles(cells.images[i], lo, hi)] if cells.shape[2] > 1 else []
        c1.markdown(f"**Pinned: cell {i}**")
        c1.image(tiles + [enlarge(composite(cells.images[i], lo, hi, cells.channels), 96)],
                 caption=(list(cells.channels) if tiles else []) + ["composite"], width=96, output_format="PNG")
        c2.dataframe(cells.meta.iloc[i].astype(str).rename("value").to_frame(), height=220)
        if c1.button("Unpin", key="explore.unpin"):
            state.put(state.PINNED, None)
            st.rerun()
