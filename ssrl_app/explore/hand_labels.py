"""Label cells by hand on the Explore map: drag a box around points, name the group, keep it.

The drawing side of `ssrl_core.data.annotations`: the brushed points become a hand-made
metadata column of the dataset (saved at once beside the data, so every page, the exports, the
probe, the per-compound check and training filters see it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.shell.errors import message
from ssrl_core.data import annotations

BRUSH = "brush"


def brushed_cells(event, df: pd.DataFrame) -> np.ndarray:
    """Dataset positions (`df["cell"]`) of the points inside the dragged box, [] when none."""
    try:
        box = (event or {}).get("selection", {}).get(BRUSH) or {}
    except AttributeError:
        return np.zeros(0, dtype=int)
    if not isinstance(box, dict) or "x" not in box or "y" not in box:
        return np.zeros(0, dtype=int)
    (x0, x1), (y0, y1) = sorted(box["x"][:2]), sorted(box["y"][:2])
    inside = df["x"].between(x0, x1) & df["y"].between(y0, y1)
    return df.loc[inside, "cell"].to_numpy(dtype=int)


def label_form(name: str, cells, picked: np.ndarray) -> None:
    """Name the brushed cells and keep the label (or say how to brush)."""
    made = annotations.hand_columns(name)
    if len(picked) == 0:
        st.caption("Turn on *Select cells by dragging a box* above the map, drag a box around points, "
                   "then name the group here." + (f" Your labels so far: {', '.join(made)}." if made else ""))
        return
    with st.form("w.explore.label_form", border=True):
        st.markdown(f"**Label the {len(picked)} cells in the box**")
        c = st.columns([2, 2, 1], vertical_alignment="bottom")
        column = c[0].selectbox("Column", made + ["(new column)"], key="w.explore.label_col",
                                help="A hand-made metadata column of this dataset; the data's own columns "
                                     "are never changed")
        new = c[0].text_input("New column name", value="my_label", key="w.explore.label_new",
                              help="Used when the column is '(new column)'")
        value = c[1].text_input("Label for these cells", key="w.explore.label_value",
                                placeholder="e.g. mitotic, debris, elongated",
                                help="Leave empty to remove these cells' label in this column")
        go = c[2].form_submit_button("Keep label", type="primary")
    if go:
        target = new if column == "(new column)" else column
        try:
            annotations.label_cells(name, cells, picked, target, value)
        except (annotations.AnnotationError, OSError) as exc:  # a bad name, or a full or read-only data folder
            st.error(f"The label was not kept: {message(exc)}")
            return
        st.success(f"Kept: {len(picked)} cells labelled '{value}' in column '{target}' (saved with the dataset; "
                   "choose it under *Compare clusters with* or *Colour by*, or filter on it on the Data page).")
