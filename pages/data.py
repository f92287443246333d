"""Data: look at the cells (each channel and the composite), filter by metadata, count, import.

Display uses per-channel percentile ranges (`ssrl_core.data.display`), so 16-bit microscopy
looks right. Imported files are stored per browser session with sanitised names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app import data_import, loaders, page, plate_import, state
from ssrl_app.images import channel_tiles, composite, enlarge

page.open_page("Data: your cells")
if not state.get(state.DATASET):
    st.info("No dataset yet: import one below, or run `ssrl setup` to prepare the demo cells.")
    data_import.render()
    plate_import.render()
    st.stop()
name, cells = page.current_cells()
lo, hi = loaders.ranges(name)
h, w, c = cells.shape
m = st.columns(4)
m[0].metric("Cells", f"{len(cells):,}")
m[1].metric("Crop size", f"{h} × {w} px")
m[2].metric("Channels", c, help=", ".join(cells.channels))
m[3].metric("Pixel type", str(cells.images.dtype))
if cells.skipped:
    with st.expander(f"{len(cells.skipped)} inputs (files, crops or columns) were skipped while loading"):
        st.dataframe(pd.DataFrame(cells.skipped, columns=["file", "reason"]), hide_index=True)

meta = cells.meta
categorical = [col for col in meta.columns if 1 < meta[col].nunique() <= 60]
mask = np.ones(len(cells), dtype=bool)
if categorical:
    with st.expander("Filter by metadata", expanded=False):
        cols = st.columns(min(3, len(categorical)))
        for i, col in enumerate(categorical):
            values = sorted(meta[col].dropna().unique().tolist(), key=str)
            chosen = cols[i % len(cols)].multiselect(str(col), values, key=f"w.data.f.{name}.{col}",
                                                     placeholder="all")
            if chosen:
                mask &= meta[col].isin(chosen).to_numpy()
index = np.flatnonzero(mask)
st.caption(f"{len(index):,} of {len(cells):,} cells match the filters.")

count_cols = [col for col in ("label", "compound", "concentration", "moa", "plate") if col in categorical]
if count_cols:
    with st.expander("Counts", expanded=True):
        tabs = st.tabs([str(col) for col in count_cols])
        for tab, col in zip(tabs, count_cols):
            counts = meta.loc[mask, col].astype(str).value_counts().rename_axis(col).reset_index(name="cells")
            tab.bar_chart(counts, x=col, y="cells", height=180)

st.subheader("Gallery")
g = st.columns([2, 2, 1], vertical_alignment="bottom")
st.session_state.setdefault("w.data.n_gallery", 12)
n_show = g[0].slider("Cells shown", 4, 48, step=4, key="w.data.n_gallery")
per_channel = g[1].toggle("Show each channel", value=c > 1, key=f"w.data.perch.{name}")
if g[2].button("Other cells"):
    st.session_state["data.gallery_seed"] = st.session_state.get("data.gallery_seed", 0) + 1
if len(index) == 0:
    st.info("No cell matches these filters.")
    st.stop()
rng = np.random.default_rng(st.session_state.get("data.gallery_seed", 0))
shown = np.sort(rng.choice(index, min(n_show, len(index)), replace=False))
label_col = next((col for col in ("label", "compound") if col in meta.columns), None)


def caption(i: int) -> str:
    return f"#{i}" + (f" · {meta.at[i, label_col]}" if label_col else "")


if per_channel and c > 1:
    st.caption("Each cell: every channel alone (grey), then the composite (" +
               ", ".join(cells.channels) + ").")
    grid = st.columns(3)
    for k, i in enumerate(shown):
        tiles = [enlarge(t, 72) for t in channel_tiles(cells.images[i], lo, hi)]
        grid[k % 3].image(tiles + [enlarge(composite(cells.images[i], lo, hi, cells.channels), 72)],
                          caption=list(cells.channels) + [caption(i)],
                          width=72, output_format="PNG")
else:
    st.image([enlarge(composite(cells.images[i], lo, hi, cells.channels), 96) for i in shown],
             caption=[caption(i) for i in shown], width=96, output_format="PNG")

with st.expander("Metadata table"):
    st.dataframe(meta.loc[mask].head(2000), height=260)

st.divider()
data_import.render()
plate_import.render()
