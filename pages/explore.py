"""Explore: embed the cells with a checkpoint or a baseline, cluster them, and map them.

K-Means agreement with a metadata column (AMI, ARI) and the silhouette are the paper's measures
(Bendidi et al. 2024, tables 1-4); the map is a t-SNE or UMAP of the embeddings. Hover a point
to see its cell.
"""

from __future__ import annotations

import hashlib

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.explore import cards, group_diff_view, hand_labels
from ssrl_app.shell import analysis, charts, checkpoints, figures, loaders, page, selection, state
from ssrl_app.shell import labels as plain
from ssrl_app.shell.errors import message, plain_errors
from ssrl_app.shell.images import composite, enlarge
from ssrl_core import evaluate as ev
from ssrl_core.csvio import csv_text

page.open_page("Explore: which cells does the representation group together?")
name, cells = page.current_cells()
within = page.selected(name)
choices = page.representations(cells)

# Two rows, so at a 1024-px projector the names and the button are never cut.
enc_label = st.selectbox("Representation", list(choices), key="w.explore.encoder",
                         help="A trained checkpoint, or a baseline to compare with")
c = st.columns([2, 3, 1], vertical_alignment="bottom")
with c[0]:
    n_cells = page.cells_input("Cells to embed", "w.explore.cells", len(within), step=100,
                               help="A fixed random sample of the cells in use (see the sidebar)")
method = c[1].radio("Map", ["umap", "tsne", "pca"], horizontal=True, key="w.explore.proj",
                    format_func={"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}.get,
                    help="UMAP and t-SNE keep neighbours together (slower); PCA is instant")
go = c[2].button("Embed", type="primary")
index = analysis.subset_index(name, int(n_cells), within=within)
shipped_item = next((i for i in checkpoints.shipped() if i["path"] == choices[enc_label]), None)
if shipped_item is not None:
    selection.scored_button(shipped_item, st, "explore.scored")
key = hashlib.sha1(f"{name}|{choices[enc_label]}|{index.tobytes().hex()}".encode()).hexdigest()[:16]


def run_embed(encoder: str, which: np.ndarray | None = None) -> np.ndarray | None:
    """Embed cells `which` (default: the chosen ones) with a progress bar; a plain error for a
    checkpoint that does not fit."""
    which = index if which is None else which
    bar = st.progress(0.0, text=f"Embedding {len(which)} cells…")
    try:
        feats = analysis.embed(name, which, encoder, progress=lambda f: bar.progress(min(float(f), 1.0),
                                                                                      text=f"Embedding… {f:.0%}"))
    except Exception as exc:  # a checkpoint that does not fit, missing weights: say it plainly
        bar.empty()
        st.error(f"Could not embed the cells with this representation: {message(exc)}")
        return None
    bar.empty()
    return feats


result = state.get(state.EMBED_RESULT)
pending = state.pop(state.PENDING_EMBED)
if not go and not result and pending and pending.get("dataset") == name:  # a refreshed or opened session
    old = np.asarray(pending["cells"], dtype=int)
    if len(old) and old.max() < len(cells) and pending.get("encoder") in choices.values():
        feats = run_embed(pending["encoder"], old)
        if feats is not None:
            result = {"key": hashlib.sha1(f"{name}|{pending['encoder']}|{old.tobytes().hex()}".encode()).hexdigest()[:16],
                      "dataset": name, "encoder": pending["encoder"], "label": pending.get("label", pending["encoder"]),
                      "index": old, "features": feats}
            state.put(state.EMBED_RESULT, result)
if go:
    feats = run_embed(choices[enc_label])
    if feats is not None:
        result = {"key": key, "dataset": name, "encoder": choices[enc_label], "label": enc_label,
                  "index": index, "features": feats}
        state.put(state.EMBED_RESULT, result)
if not result or result["dataset"] != name:
    st.info("Choose a representation and press **Embed**.")
    st.stop()
if result["key"] != key:
    st.caption(f"Showing **{result['label']}**; press Embed to use the new choice.")
feats, index, rkey = result["features"], result["index"], result["key"]
slides = st.toggle("Figures for slides", key="w.explore.figs",
                   help="PNG and SVG downloads under each chart and gallery, titled with the dataset, "
                        "representation and recipe")


def fig_title(chart: str) -> str:
    """Dataset, representation and recipe under the chart's name (read when a figure is drawn)."""
    return figures.title_for(chart, str(name), result["label"], figures.recipe_of(result["encoder"]))

meta = cells.meta.iloc[index].reset_index(drop=True)
columns = analysis.label_columns(meta)

st.subheader("Clusters")
c = st.columns(2)
col = c[0].selectbox("Compare clusters with", columns or ["(none)"], key="w.explore.column")
labels = meta[col].astype(str).to_numpy() if col in meta.columns else np.zeros(len(meta), dtype=object)
if state.get(state.EXPLORE_K_FOR) != [str(name), col]:  # a k chosen for another set or column starts over
    state.put("w.explore.k", 0)
    state.put(state.EXPLORE_K_FOR, [str(name), col])
k_in = int(c[1].number_input("Number of clusters (K-Means k; 0 = one per group)", 0, 100, key="w.explore.k",
                             help="0 (the default) makes as many clusters as the compared column has groups"))
scored = meta.assign(**{col: labels}) if col not in meta.columns else meta
with st.spinner("Clustering and probing (the evaluation protocol)…"):
    ev_res = analysis.evaluate(feats, rkey, scored, col, k_in or (None if col in meta.columns else 8))
cm = ev_res["cluster"]
k = int(cm["k"])
clusters = np.full(len(meta), -1, dtype=np.int64)  # -1: no value in the compared column
clusters[scored[col].notna().to_numpy()] = np.asarray(cm["clusters"])
st.dataframe(plain.vertical(plain.protocol_row(result["label"], ev_res)), hide_index=True)  # one measure a row
st.caption(ev_res["words"].replace("Warning: ", "") if not ev_res["warnings"] else
           ev_res["words"].split(" Warning:")[0])
for warning in ev_res["warnings"]:
    st.warning(warning)
st.caption(f"How these numbers are made: {ev_res['normalisation']['note']} "
           + (f"Without it the AMI would be {ev_res['raw']['ami']:.2f}. " if ev_res.get("raw") else "")
           + "Agreement (AMI): 1 = the clusters follow the column exactly, 0 = chance. The same cells give the "
             "same numbers on every page, in `ssrl cluster` and in docs/results.md."
           + (" Clustered with mini-batch K-Means (fast on large sets; the same measures)."
              if cm.get("method") == "minibatch-kmeans" else ""))

st.subheader("Map of the cells")
with st.spinner(f"Drawing the {method.upper()} map of {len(feats)} cells…"):
    xy, map_note = analysis.projection_with_note(feats, rkey, method)
    thumbs = analysis.thumbnails(name, tuple(int(i) for i in index))
df = meta.copy()
df.insert(0, "cell", index)
df["cluster"] = clusters.astype(str)
df["x"], df["y"] = xy[:, 0], xy[:, 1]
df["image"] = thumbs
colour_options = ["cluster"] + [c_ for c_ in columns if c_ != "cluster"]
colour = st.selectbox("Colour by", colour_options, key="w.explore.color")
tips = [alt.Tooltip("image"), alt.Tooltip("cell:Q"), alt.Tooltip("cluster:N")] + \
    [alt.Tooltip(f"{c_}:N") for c_ in dict.fromkeys(columns[:3] + [x for x in ("plate", "well", "concentration")
                                                                      if x in df.columns]) if c_ != "cluster"]
brushing = st.toggle("Select cells by dragging a box (to label them by hand)", key="w.explore.brush",
                     help="Off: drag to pan and scroll to zoom. On: drag a box around points, then name the group "
                          "below; the label is kept as a metadata column of this dataset.")
domain = charts.domain_of(df["cluster"] if colour == "cluster" else cells.meta[colour])  # same colours on every map
chart = alt.Chart(df).mark_circle(size=70, opacity=0.8).encode(
    x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
    color=alt.Color(f"{colour}:N", scale=charts.category_scale(domain),
                    legend=alt.Legend(orient="bottom", direction="horizontal", columns=4, symbolLimit=60,
                                      labelLimit=160)),
    tooltip=tips,
).properties(height=520).add_params(alt.selection_point(name="pin", fields=["cell"], on="click"))
chart = chart.add_params(alt.selection_interval(name=hand_labels.BRUSH)) if brushing else chart.interactive()
if map_note:
    st.caption(map_note)
event = st.altair_chart(chart, width="stretch", on_select="rerun", key="w.explore.map_pick" + (".b" if brushing else ""),
                        selection_mode=["pin", hand_labels.BRUSH] if brushing else "pin")
cards.pin_from_event(event, rkey)
cards.pinned_card(name, cells, rkey)
hand_labels.label_form(name, cells, hand_labels.brushed_cells(event, df) if brushing else np.zeros(0, dtype=int))
if slides:
    figures.download_buttons(st, lambda: figures.map_figure(df, colour, fig_title(
        f"{method.upper()} map of {len(df)} cells, coloured by {colour}"), method.upper()), f"map-{method}-{colour}",
        "w.explore.fig_map")

st.subheader("Cluster cards")
st.caption("For each cluster: the cells nearest its centre (its typical cells) and what it is made of.")
lo, hi = loaders.ranges(name)
near = ev.nearest_to_centroid(feats, clusters, n=6)
comp = ev.composition(clusters, labels)
if slides:
    def gallery() -> "figures.Figure":
        rows = [(f"cluster {cid} ({int((clusters == cid).sum())} cells)",
                 [composite(cells.images[index[i]], lo, hi, cells.channels) for i in near[cid]["nearest"]])
                for cid in sorted(near)[:30]]
        return figures.gallery_figure(rows, fig_title(f"Typical cells of the {len(near)} clusters (k={k})"))
    figures.download_buttons(st, gallery, f"clusters-k{k}", "w.explore.fig_gallery")
for cid in sorted(near)[:30]:
    with st.container(border=True):
        members = int((clusters == cid).sum())
        top = comp.loc[cid].sort_values(ascending=False)
        parts = ", ".join(f"{col} {lab}: {n / members:.0%}" for lab, n in top.head(3).items() if n)
        st.markdown(f"**Cluster {cid}**: {members} cells · {parts}")
        st.image([enlarge(composite(cells.images[index[i]], lo, hi, cells.channels), 72) for i in near[cid]["nearest"]],
                 width=72, output_format="PNG")

st.subheader("Why do two clusters differ?")
st.caption("Measured features of the cells (intensity, texture, nucleus shape) compared between two clusters, "
           "with the cells that show the largest difference best.")
with plain_errors("The clusters could not be compared"):
    group_diff_view.why_clusters_differ(name, cells, index, clusters)

if "compound" in meta.columns:
    st.subheader("Per-compound check")
    compounds = sorted(set(meta["compound"].astype(str)) - {"DMSO"})
    if compounds:
        comp_pick = st.selectbox("Compound (against DMSO controls)", compounds, key="w.explore.compound")
        with plain_errors("The per-compound check could not run"):
            r = analysis.compound_check(feats, rkey, meta, comp_pick)
            st.write(r.get("verdict", ""))
            st.dataframe(plain.vertical(plain.compound_row(r)), hide_index=True)
        if st.toggle("Mean average precision (copairs)", key="w.explore.map",
                     help="The profiling field's phenotypic-activity score: how well the treated cells (and "
                          "wells) retrieve each other before the DMSO controls, with p- and q-values"):
            with plain_errors("The mAP could not be computed"), st.spinner("Computing mAP…"):
                mp = analysis.compound_check(feats, rkey, meta, comp_pick, with_map=True)["map"]
                rows = [{"level": lv, **(e or {"note": mp.get("notes", {}).get(lv, "")})}
                        for lv, e in mp["levels"].items()]
                st.dataframe(plain.table(pd.DataFrame(rows)).round(4), hide_index=True)
                st.caption("Replicates are wells: a treatment needs two wells or more for a p-value. The cell "
                           "level is exploratory (the cells of one well are not independent) and never called "
                           "significant.")
                st.caption("Treated: " + ", ".join(f"{k_} {v}" for k_, v in mp["treated"].get("plates", {}).items())
                           + " · controls: " + ", ".join(f"{k_} {v}" for k_, v in mp["control"].get("plates", {}).items())
                           + f" · wells {', '.join(mp['treated'].get('wells', {}))} vs "
                             f"{', '.join(list(mp['control'].get('wells', {}))[:12])}")
                if mp.get("plate_flag"):
                    st.warning(mp["plate_flag"])

st.subheader("Compare with another representation")
others = [x for x in choices if x != result["label"]]
other = st.selectbox("Second representation", others, key="w.explore.other")
ckey = f"{rkey}|{choices.get(other)}|{col}|{k}"
if st.button("Compare"):
    feats_b = run_embed(choices[other])
    if feats_b is not None:
        with plain_errors("The comparison could not run"), st.spinner("Clustering and probing B (the evaluation "
                                                                       "protocol, as for A above)…"):
            k_b = k_in or (None if col in meta.columns else 8)  # A's numbers (cached above) are reused
            res_b = analysis.evaluate(feats_b, f"{ckey}|b", scored, col, k_b)
            res = ev.compare(feats, feats_b, scored, col, k=k_b, names=("A", "B"), results=(ev_res, res_b))
            xy_b = analysis.projection(feats_b, f"{ckey}|b", method)
            state.put(state.COMPARE_RESULT, {"key": ckey, "other": other, "res": res, "xy_b": xy_b})
comp_res = state.get(state.COMPARE_RESULT)
if comp_res and comp_res["key"] == ckey:
    res = comp_res["res"]
    st.caption(f"A = {result['label']}; B = {other}; compared with **{col}**. Drag a box on either map: the "
               "same cells stay coloured on both (double-click to clear).")
    pair = df[["cell", col]].rename(columns={col: "group"}).assign(
        xa=xy[:, 0], ya=xy[:, 1], xb=comp_res["xy_b"][:, 0], yb=comp_res["xy_b"][:, 1])
    st.altair_chart(charts.linked_maps(pair, col, f"A: {result['label']}", f"B: {other}"), width="stretch",
                    key="w.explore.linked")
    for line in res["verdicts"]:
        st.markdown(f"- {line}")
    st.dataframe(plain.table(res["metrics"]).round(3), hide_index=True)
    st.dataframe(plain.table(res["per_class"]).round(3), hide_index=True, height=240)

st.subheader("Export")
table = ev.embedding_frame(meta, feats, dataset=str(name), cell_index=index, clusters=clusters, coords=xy)
e1, e2 = st.columns(2)
e1.download_button("Download CSV", csv_text(table), file_name="embeddings.csv", mime="text/csv")
e2.download_button("Download Parquet", table.to_parquet(index=False), file_name="embeddings.parquet",
                   mime="application/octet-stream")
if st.toggle("Profiling formats (pycytominer, AnnData)", key="w.explore.formats",
             help="Per-cell and per-well profiles in the pycytominer convention, and an .h5ad for scanpy"):
    from ssrl_core.evaluate import anndata_export, profiles

    f1, f2, f3 = st.columns(3)
    f1.download_button("Cell profiles (CSV)", lambda: csv_text(profiles.cell_profiles(feats, meta)),
                       file_name="cell_profiles.csv", mime="text/csv", on_click="ignore")
    if "well" in meta.columns:
        f2.download_button("Well profiles, median (CSV)",
                           lambda: csv_text(profiles.well_profiles(profiles.cell_profiles(feats, meta))),
                           file_name="well_profiles.csv", mime="text/csv", on_click="ignore")
    else:
        f2.caption("No `well` column: no per-well profiles.")
    f3.download_button("AnnData (.h5ad)", lambda: anndata_export.h5ad_bytes(
        feats, meta.assign(cell_index=index), clusters=clusters, maps={method: xy},
        info={"dataset": name, "encoder": result["label"]}), file_name="cells.h5ad",
        mime="application/octet-stream", on_click="ignore")
