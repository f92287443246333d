"""The one-click demo on the Home page: what a recipe teaches, before and after training.

Two recipes differ in one step (set A's brightness/contrast jitter, 0.4 against 0.1). The
invariance preview says, before any training, which factor each keeps (tubulin brightness); two
encoders fine-tuned with them (3 seeds each) confirm it on a BBBC021 plate they never saw, under
the one evaluation protocol. Everything shown is measured by `ssrl_core.evaluate.recipe_contrast`
and shipped as `pretrained/demo_contrast.json` (`ssrl demo build` remakes it), so the first run
draws at once, offline, even where the BBBC021 crops are absent; where they are present, the
numbers can be recomputed on this machine.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ssrl_app.shell import charts, loaders, state
from ssrl_app.shell.checkpoints import shipped
from ssrl_core import paths
from ssrl_core.evaluate import recipe_contrast as rc

MAP_HEIGHT = 260


@st.cache_data(show_spinner=False, max_entries=2)
def _result(stamp: float) -> dict | None:
    """The shipped measurements (None when absent or made with other checkpoints)."""
    return rc.load()


def _stamp() -> float:
    p = paths.pretrained_dir() / rc.FILE
    return p.stat().st_mtime if p.is_file() else 0.0


def _changes(res: dict) -> pd.DataFrame:
    a, b = res["labels"]
    return pd.DataFrame([{"step": c["step"].replace("_", " "), "setting": c["setting"], f"recipe {a}": str(c["a"]),
                          f"recipe {b}": str(c["b"])} for c in res["changes"]])


def _preview_chart(res: dict) -> alt.Chart:
    """Agreement between the two views, per factor and recipe (1 = kept, 0 = scrambled)."""
    rows = []
    for r in res["preview"]["factors"]:
        for label in res["labels"]:
            if r.get(f"kept|{label}") is not None:
                rows.append({"factor": r["words"], "recipe": label, "kept": r[f"kept|{label}"],
                             "verdict": r[f"verdict|{label}"], "focus": r["factor"] == res["factor"]})
    df = pd.DataFrame(rows)
    order = df.drop_duplicates("factor")["factor"].tolist()
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("factor:N", sort=order, title=None, axis=alt.Axis(labelLimit=200)),
        yOffset=alt.YOffset("recipe:N"),
        x=alt.X("kept:Q", title="agreement between the two views (1 = kept)", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("recipe:N", scale=alt.Scale(domain=res["labels"], range=list(charts.PAIR[:2])),
                        legend=alt.Legend(orient="top", title=None)),
        opacity=alt.condition("datum.focus", alt.value(1.0), alt.value(0.45)),
        tooltip=["factor", "recipe", alt.Tooltip("kept:Q", format=".2f"), "verdict"],
    ).properties(height=24 * len(order) + 50)


def _map(res: dict, label: str, colour: str) -> alt.Chart:
    xy = res["maps"][label]
    s = res["summary"][label]
    df = pd.DataFrame({"x": [p[0] for p in xy], "y": [p[1] for p in xy], "compound": res["points"][res["column"]],
                       "value": res["points"]["factor"]})
    title = alt.TitleParams(f"{label}: AMI {s['ami']:.2f} ± {s['ami_sd']:.2f}", fontSize=13, anchor="start")
    if colour == "compound":
        color = alt.Color("compound:N", scale=charts.category_scale(charts.domain_of(res["groups"])),
                          legend=alt.Legend(orient="bottom", title=None, columns=2, labelLimit=140))
    else:
        color = alt.Color("value:Q", scale=alt.Scale(scheme="viridis"),
                          legend=alt.Legend(orient="bottom", title=None, gradientLength=120))
    return alt.Chart(df, title=title).mark_circle(size=14, opacity=0.75).encode(
        x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), color=color,
        tooltip=["compound", alt.Tooltip("value:Q", title="factor", format=".3f")]).properties(height=MAP_HEIGHT)


def _summary_table(res: dict) -> pd.DataFrame:
    words = next(r["words"] for r in res["preview"]["factors"] if r["factor"] == res["factor"])
    rows = []
    for label in res["labels"]:
        s = res["summary"][label]
        rows.append({"recipe": label, f"clusters match the {res['column']} (AMI)": f"{s['ami']:.2f} ± {s['ami_sd']:.2f}",
                     f"{words} held (R²)": f"{s['factor_r2']:.2f} ± {s['factor_r2_sd']:.2f}",
                     "seeds": s["seeds"]})
    return pd.DataFrame(rows)


def _open_on_augment(res: dict) -> None:
    """Put both recipes on the Augment page, side by side."""
    from ssrl_core.augment import Recipe

    recipes = [Recipe.from_dict(rc.recipe_of(p)) for p in rc.CASE.config_paths()]
    state.put_recipe(state.RECIPE_A, recipes[0])
    state.put_recipe(state.RECIPE_B, recipes[1])
    state.put("w.aug.compare", True)
    st.switch_page("pages/augment.py")


def _recompute(res: dict) -> None:
    """Seed 0 of both recipes measured again on this machine, beside the shipped numbers."""

    paths = {i["name"]: i["path"] for i in shipped()}
    bar = st.progress(0.0, text="starting")
    live = rc.build({label: [paths[name]] for label, name in zip(rc.CASE.labels, rc.CASE.checkpoints)},
                    cells=loaders.cells(rc.CASE.dataset), maps=False,
                    progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
    bar.empty()
    rows = [{"recipe": label, "AMI here (seed 0)": round(live["seeds"][label][0]["ami"], 3),
             "AMI shipped (seed 0)": round(res["seeds"][label][0]["ami"], 3),
             "R² here": round(live["seeds"][label][0]["factor_r2"], 3),
             "R² shipped": round(res["seeds"][label][0]["factor_r2"], 3)} for label in rc.CASE.labels]
    st.dataframe(pd.DataFrame(rows), hide_index=True)


def render() -> None:
    """The demo block of the Home page."""
    st.subheader("What a recipe teaches, in one click")
    res = _result(_stamp())
    if res is None:
        st.caption("The demo's measurements are missing or out of date (`pretrained/demo_contrast.json`); "
                   "`ssrl demo build` makes them again.")
        return
    a, b = res["labels"]
    st.caption("Two augmentation recipes that differ in one step. Before any training, the preview says which "
               "cell features each keeps; encoders trained with each confirm it on cells they never saw.")
    if st.button("Run the demo", type="primary", key="home.demo"):
        state.put(state.DEMO_ON, True)
    if not state.get(state.DEMO_ON):
        return
    words = rc.verdict(res)
    st.markdown("**1. Two recipes, one step apart**")
    st.dataframe(_changes(res), hide_index=True)
    st.markdown(f"**2. Before training, the preview** ({res['preview']['cells']} held-out cells, both views of each)")
    st.altair_chart(_preview_chart(res), width="stretch")
    st.info(words["before"])
    st.markdown(f"**3. After training: {res['cells']:,} cells of {res['heldout']}**")
    st.caption(f"Encoders: {res['training']}, {res['summary'][a]['seeds']} seeds per recipe; scored under the "
               "evaluation protocol (per-plate normalisation to DMSO, median AMI over 10 K-Means runs, k = 2).")
    st.dataframe(_summary_table(res), hide_index=True)
    colour = st.radio("Colour the maps by", ["compound", "the factor"], horizontal=True, key="home.demo.colour",
                      format_func=lambda c: c if c == "compound" else next(
                          r["words"] for r in res["preview"]["factors"] if r["factor"] == res["factor"]))
    cols = st.columns(2)
    for where, label in zip(cols, res["labels"]):
        where.altair_chart(_map(res, label, colour), width="stretch")
    (st.success if words["confirmed"] == "yes" else st.warning)(f"{words['after']} {words['held']}")
    c = st.columns(3)
    if c[0].button("Compare on Augment", key="home.demo.augment", help="Open both recipes side by side on the Augment page"):
        _open_on_augment(res)
    c[1].page_link("pages/explore.py", label="Explore maps yourself")
    c[2].page_link("pages/bias.py", label="What else they encode")
    if rc.CASE.dataset in {d["name"] for d in loaders.dataset_list()}:
        with st.expander("Recompute on this machine"):
            st.caption("Embeds the held-out cells with the shipped seed-0 encoders and scores them again "
                       "(about half a minute).")
            if st.button("Recompute", key="home.demo.recompute"):
                _recompute(res)
