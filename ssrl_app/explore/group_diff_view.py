"""Explore: why do two clusters differ? Measured features side by side and the cells that show it.

The drawing side of `ssrl_core.evaluate.group_diff`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.shell import loaders
from ssrl_app.shell.images import composite, enlarge
from ssrl_core.evaluate import group_diff

REST = "all other cells"


@st.cache_data(show_spinner=False, max_entries=8)
def _measure(name: str, index: tuple[int, ...]) -> pd.DataFrame:
    """Readable measurements of the embedded cells (cached per dataset and cell subset)."""
    return group_diff.measurements(loaders.cells(name), np.asarray(index, dtype=int), loaders.ranges(name))


def why_clusters_differ(name: str, cells, index: np.ndarray, clusters: np.ndarray) -> None:
    """Pick cluster A and B (or the rest); show effect sizes and the best-showing cells."""
    ids = sorted(set(clusters.astype(str)), key=lambda s: (len(s), s))
    if len(ids) < 2:
        st.caption("Only one cluster: nothing to compare.")
        return
    c = st.columns(2)
    a = c[0].selectbox("Cluster A", ids, key="w.explore.diff_a")
    b = c[1].selectbox("Cluster B", [REST] + [i for i in ids if i != a], key="w.explore.diff_b")
    labels = clusters.astype(str)
    in_a = labels == a
    in_b = ~in_a if b == REST else labels == b
    with st.spinner(f"Measuring {len(index)} cells…"):
        table = _measure(name, tuple(int(i) for i in index))
    diff = group_diff.compare_groups(table, in_a, in_b, list(cells.channels))
    name_b = "the rest" if b == REST else f"cluster {b}"
    st.write(group_diff.summary(diff, f"cluster {a}", name_b))
    shown = diff.drop(columns=["column"]).head(12)
    st.dataframe(shown.round({"mean A": 3, "mean B": 3, "effect size (d)": 2}).assign(
        **{"p-value": shown["p-value"].map(lambda p: f"{p:.1g}")}), hide_index=True)
    st.caption("Effect size: the difference of the means in pooled standard deviations (Cohen's d; 0.2 small, "
               "0.5 medium, 0.8 large). p: Mann-Whitney U test. Intensities on the dataset's 0-1 display scale.")
    top = diff.iloc[0]
    if not np.isfinite(top["effect size (d)"]):
        return
    best_a, best_b = group_diff.best_showing(table, in_a, in_b, str(top["column"]), n=6)
    lo, hi = loaders.ranges(name)
    for title, picks in ((f"cluster {a}: cells that show it best ({top['measurement']})", best_a),
                         (f"{name_b}: cells that show it best", best_b)):
        st.markdown(f"**{title}**")
        st.image([enlarge(composite(cells.images[i], lo, hi, cells.channels), 72) for i in picks],
                 caption=[f"cell {i}" for i in picks], width=72, output_format="PNG")
