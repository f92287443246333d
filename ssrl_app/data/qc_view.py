"""The nucleus check shown before a plate import (`ssrl_core.data.seg_qc.plate_qc`).

Objects per checked site, the distribution of object sizes, the outlines drawn over a few sites,
and the warnings when the counts or sizes do not look like nuclei: what a CellProfiler user looks
at after `IdentifyPrimaryObjects`, seen before the long part of the import starts.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.shell.charts import PAIR


def area_chart(areas: list[float]) -> alt.Chart:
    """A histogram of object areas (px), whole-number counts on the axis."""
    frame = pd.DataFrame({"area": np.asarray(areas, float)})
    return alt.Chart(frame).mark_bar(color=PAIR[0]).encode(
        x=alt.X("area:Q", bin=alt.Bin(maxbins=30), title="object area (pixels)"),
        y=alt.Y("count():Q", title="objects", axis=alt.Axis(tickMinStep=1, format="d")),
        tooltip=[alt.Tooltip("area:Q", bin=alt.Bin(maxbins=30), title="area"), alt.Tooltip("count():Q", title="objects")],
    ).properties(height=200)


def render(report: dict) -> None:
    """Draw the check (nothing when no site was checked)."""
    rows = report.get("fields") or []
    if not rows and not report.get("failed"):
        return
    st.markdown(f"**Nucleus check** on {len(rows)} of {report.get('sites_total', len(rows))} sites, before the import")
    for w in report.get("warnings", []):
        st.warning(w)
    for f in report.get("failed", []):
        st.warning(f"Could not check {f}")
    if not rows:
        return
    table = pd.DataFrame([{"site": r["field"], "nuclei found": r["objects"],
                           "median size (px)": round(r.get("area_median", 0)),
                           "median diameter (px)": round(r.get("diameter_median", 0), 1)} for r in rows])
    st.dataframe(table, hide_index=True)
    if "expected_cells" in report:
        st.caption(f"About {report['expected_cells']:,} nuclei expected over the {report['sites_total']} sites.")
    if report.get("areas"):
        st.altair_chart(area_chart(report["areas"]), width="stretch")
    views = report.get("overlays") or []
    if views:
        st.caption("Outlines of the nuclei found (yellow): check they sit on nuclei, one outline per nucleus.")
        cols = st.columns(len(views))
        for col, (name, rgb) in zip(cols, views):
            col.image(rgb, caption=name, width="stretch")
