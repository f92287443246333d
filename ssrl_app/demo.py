"""The one-click demo on the Home page: the paper's story on real cells, offline, in under a minute.

The held-out cells of the shipped MitoCheck sample (`mitocheck_demo`, 25 plates never trained
on) are embedded by the two shipped encoders `mitocheck_set_a` and `mitocheck_set_b`, clustered
under the one evaluation protocol (`ssrl_core.evaluate.protocol`: k = the number of groups,
median AMI over K-Means runs) and mapped (UMAP); the maps are coloured by phenotype and by the
number of nuclei in the crop, with the agreement (AMI) of each, and the verdict calls a
difference only when it exceeds the spread over K-Means runs. Where the BBBC021 crops are
present, the same is shown for `bbbc021_set_a` / `_set_b` coloured by compound.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app import charts, labels, loaders, selection, state
from ssrl_app.checkpoints import shipped
from ssrl_core.evaluate.verdicts import compare_words

CASES = (  # dataset, filters, (checkpoint A, checkpoint B), colour columns
    ("mitocheck_demo", {"split": ["held-out"]}, ("mitocheck_set_a", "mitocheck_set_b"), ("label", "n_nuclei")),
    ("bbbc021_week4_dmso_cycloheximide", {selection.HELDOUT: ["bbbc021"]}, ("bbbc021_set_a", "bbbc021_set_b"),
     ("compound", "n_nuclei")),
)


@st.cache_data(show_spinner=False, max_entries=4)
def _result(dataset: str, rules_json: str, names: tuple[str, str]) -> dict:
    """Embeddings, AMI and UMAP of the selected cells for both checkpoints (cached per server)."""
    import json

    from ssrl_core import evaluate as ev
    from ssrl_core.evaluate.protocol import evaluate_cells
    cells = loaders.cells(dataset)
    index = np.flatnonzero(selection.mask_of(cells, json.loads(rules_json)))
    sub = cells.subset(index)
    lo, hi = loaders.ranges(dataset)
    meta = sub.meta.reset_index(drop=True)
    meta["n_nuclei"] = ev.nuisance_factors(sub, lo=lo, hi=hi)["n_nuclei"].astype(int).astype(str).to_numpy()
    col = "label" if "label" in meta.columns else "compound"
    paths = {i["name"]: i["path"] for i in shipped()}
    out = {"meta": meta, "maps": {}, "ami": {}, "spread": {}, "chance": {}, "n": len(sub), "column": col}
    for name in names:
        feats = ev.embed(sub, paths[name])
        for column, key in ((col, name), ("n_nuclei", f"{name}|n_nuclei")):
            cm = evaluate_cells(feats, meta, column, probe=False, raw=False)["cluster"]  # the one protocol
            out["ami"][key], out["spread"][key], out["chance"][key] = cm["ami"], cm["ami_spread"], cm["chance95"]
        out["maps"][name] = ev.project(feats, method="umap")
    return out


def available() -> list[tuple]:
    """The demo cases whose dataset and both checkpoints are here."""
    names = {d["name"] for d in loaders.dataset_list()}
    ships = {i["name"] for i in shipped()}
    return [c for c in CASES if c[0] in names and set(c[2]) <= ships]


def render() -> None:
    """The demo block of the Home page."""
    import json

    cases = available()
    st.subheader("The paper's story in one click")
    if not cases:
        st.caption("The demo needs the shipped sample `mitocheck_demo` and the shipped MitoCheck checkpoints.")
        return
    st.caption("Two encoders trained on the same cells with different augmentations (set A: random crops, "
               "affine; set B: any rotation, centre crop), shown on held-out cells they never saw. Offline, "
               "under a minute on a laptop CPU the first time.")
    if st.button("Run the demo", type="primary", key="home.demo"):
        state.put(state.DEMO_ON, True)
    if not state.get(state.DEMO_ON):
        return
    for dataset, rules, names, colours in cases:
        with st.spinner(f"Embedding and mapping the held-out cells of {dataset} with {' and '.join(names)}…"):
            res = _result(dataset, json.dumps(rules, sort_keys=True), names)
        col = res["column"]
        st.markdown(f"**{dataset}**: {res['n']:,} held-out cells")
        for colour in (col, "n_nuclei"):
            cols = st.columns(2)
            for where, name in zip(cols, names):
                xy = res["maps"][name]
                df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], colour: res["meta"][colour].astype(str)})
                key = name if colour == col else f"{name}|n_nuclei"
                title = f"{name}: coloured by {labels.factor_name(colour)} (AMI {res['ami'][key]:.2f})"
                where.altair_chart(alt.Chart(df, title=title).mark_circle(size=22, opacity=0.8).encode(
                    x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
                    color=alt.Color(f"{colour}:N", scale=charts.category_scale(), legend=alt.Legend(columns=2)),
                    tooltip=[colour]).properties(height=300), width="stretch")
        a, b = names
        what = labels.factor_name(col)
        st.info(compare_words(a, res["ami"][a], b, res["ami"][b], f"agreement with the {what} (AMI)",
                              res["spread"][a], res["spread"][b], max(res["chance"][a], res["chance"][b])))
        c = st.columns(3)
        if c[0].button("Use these cells", key=f"home.use.{dataset}"):
            selection.use(dataset, rules, next(i["path"] for i in shipped() if i["name"] == a))
            st.rerun()
        c[1].page_link("pages/explore.py", label="Explore these maps yourself")
        c[2].page_link("pages/bias.py", label="What else do they encode? (Bias)")
