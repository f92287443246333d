"""Data: look at the cells (each channel and the composite), filter by metadata, count, import.

Display uses per-channel percentile ranges (`ssrl_core.data.display`), so 16-bit microscopy
looks right. Imported files are stored per browser session with sanitised names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app import charts, cp_import, data_import, import_checks, loaders, page, plate_import, selection, state
from ssrl_app.images import channel_tiles, composite, enlarge
from ssrl_core.data.npz import generic_channels
from ssrl_core.data.sources import of_dataset

page.open_page("Data: your cells")
if not state.get(state.DATASET):
    st.info("No dataset yet: import one below, or run `ssrl setup` to prepare the demo cells.")
    data_import.render()
    plate_import.render()
    cp_import.render()
    st.stop()
name, cells = page.current_cells()
lo, hi = loaders.ranges(name)
h, w, c = cells.shape
m = st.columns(4)
m[0].metric("Cells", f"{len(cells):,}")
m[1].metric("Crop size (px)", f"{h}×{w}")
m[2].metric("Channels", c, help=", ".join(cells.channels))
m[3].metric("Pixel type", str(cells.images.dtype))
if cells.lazy:
    st.caption(f"These {len(cells):,} cells stay on disk (a cell store, {cells.nbytes / 1e9:.1f} GB of pixels): "
               "this page reads their metadata and only the cells it shows; training and embedding read "
               "them in batches.")
if (source := of_dataset(name)) is not None:  # a set the source table knows: what the cells are
    st.caption(source.description)
elif list(cells.channels) == generic_channels(c):
    st.caption("This file stores no channel names, so they are called " + ", ".join(cells.channels) + ". "
               "To name them, write the cells again with names (e.g. `ssrl data nuclei --channels`).")
import_checks.render(name, cells)  # an imported set: full fields to crop, or keep it in the data folder
if cells.skipped:
    with st.expander(f"{len(cells.skipped)} inputs (files, crops or columns) were skipped while loading"):
        st.dataframe(pd.DataFrame(cells.skipped, columns=["file", "reason"]), hide_index=True)

meta = cells.meta
categorical = [col for col in meta.columns if 1 < meta[col].nunique() <= 60]
rules = selection.filters(name)
if categorical:
    with st.expander("Choose the cells (filters used by every page)", expanded=bool(rules)):
        st.caption("The cells you keep here are the ones Train trains on, Explore embeds and Bias probes; "
                   "the sidebar shows the choice.")
        cols = st.columns(min(3, len(categorical)))
        chosen_rules = {k: v for k, v in rules.items() if k not in categorical}
        for i, col in enumerate(categorical):
            values = sorted({str(v) for v in meta[col].dropna().unique()}, key=selection.value_key)
            wkey = f"w.data.f.{name}.{col}"
            if not state.has(wkey):
                state.put(wkey, [v for v in rules.get(col, []) if v in values])
            chosen = cols[i % len(cols)].multiselect(str(col), values, key=wkey, placeholder="all")
            if chosen:
                chosen_rules[col] = chosen
        if chosen_rules != rules:
            selection.set_filters(name, chosen_rules)
            st.rerun()  # the sidebar, drawn before this page, shows the new choice
        if selection.HELDOUT in rules:
            st.info(f"In use: {selection.describe({selection.HELDOUT: rules[selection.HELDOUT]})}.")
        if rules and st.button("Use all cells", key="w.data.clear_filters"):
            selection.use(name, {})
            st.rerun()
index = selection.index(name)
mask = np.zeros(len(cells), dtype=bool)
mask[index] = True
st.caption(f"{len(index):,} of {len(cells):,} cells match the filters.")

count_cols = [col for col in ("label", "compound", "concentration", "moa", "plate", "split") if col in categorical]
if count_cols:
    with st.expander("Counts", expanded=True):
        units = {"concentration": " (µM)"} if {"compound", "moa"} <= set(meta.columns) else {}  # BBBC021's unit
        tabs = st.tabs([str(col) + units.get(col, "") for col in count_cols])
        for tab, col in zip(tabs, count_cols):
            tab.altair_chart(charts.count_chart(selection.counts_frame(meta.loc[mask], col), col), width="stretch")

st.subheader("Gallery")
g = st.columns([2, 2, 1], vertical_alignment="bottom")
state.setdefault("w.data.n_gallery", 12)
n_show = g[0].slider("Cells shown", 4, 48, step=4, key="w.data.n_gallery")
per_channel = g[1].toggle("Show each channel", value=c > 1, key=f"w.data.perch.{name}")
if g[2].button("Other cells"):
    state.bump(state.GALLERY_SEED)
if len(index) == 0:
    st.info("No cell matches these filters.")
    st.stop()
rng = np.random.default_rng(state.get(state.GALLERY_SEED, 0))
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
cp_import.render()
