"""The Augment page's centre: what each recipe teaches the encoder, and which step does it.

`preview(name, cells, recipes)` measures readable factors on both views of a sample of the cells in
use (`ssrl_core.augment.invariance.explain`) and draws one compact chart (two recipes side by side)
with plain words under it. `which_step(...)` shows, on request, which steps scramble which factor
(`attribution.step_effects`) and the smallest change that keeps a chosen factor, applied to the
recipe in one click. Everything is computed by `ssrl_core`; this module reads widgets, caches and
draws.
"""

from __future__ import annotations

import hashlib

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.augment import recipe_editor
from ssrl_app.shell import charts, loaders, selection, state
from ssrl_app.shell.errors import plain_errors
from ssrl_core.augment import Recipe
from ssrl_core.augment.attribution import Fix, apply_changes, explain_fix, smallest_change, step_effects
from ssrl_core.augment.invariance import KEEPS, PARTLY, Sample, explain, explain_words, sample_cells

# dark enough to read as text on white (contrast ratio >= 4.5)
VERDICT_COLOURS = {"keeps": "#2e7d32", "partly": "#8a6100", "drops": "#c62828", "unclear": "#616161"}


def cells_key(name: str) -> tuple[str, str]:
    """(dataset, a short hash of the cells in use): what the cached measurements depend on."""
    index = np.asarray(selection.index(name), dtype=np.int64)
    return name, hashlib.sha1(index.tobytes()).hexdigest()[:16]


@st.cache_resource(show_spinner=False, max_entries=6)
def _sample(name: str, key: str, n: int, seed: int) -> Sample:
    """`n` random cells in use, scaled with the dataset's ranges (kept: its reference is measured once)."""
    cells = loaders.cells(name).subset(np.asarray(selection.index(name), dtype=np.int64))
    return sample_cells(cells, n, seed, ranges=loaders.ranges(name))


@st.cache_data(show_spinner=False, max_entries=64)
def table(name: str, key: str, recipe_yaml: str, n: int, seed: int) -> pd.DataFrame:
    """The `explain` table of one recipe (cached by its YAML text)."""
    return explain(Recipe.from_yaml(recipe_yaml), _sample(name, key, n, seed), seed=seed)


@st.cache_data(show_spinner=False, max_entries=16)
def effects(name: str, key: str, recipe_yaml: str, n: int, seed: int) -> pd.DataFrame:
    """`attribution.step_effects` of one recipe on the preview's cells."""
    return step_effects(Recipe.from_yaml(recipe_yaml), _sample(name, key, n, seed), seed=seed)


@st.cache_data(show_spinner=False, max_entries=32)
def fix_for(name: str, key: str, recipe_yaml: str, factor: str, n: int, seed: int) -> Fix:
    """The smallest change of one recipe that keeps `factor`."""
    recipe = Recipe.from_yaml(recipe_yaml)
    eff = effects(name, key, recipe_yaml, n, seed)
    return smallest_change(recipe, factor, _sample(name, key, n, seed), seed=seed, effects=eff)


def chart(tables: dict[str, pd.DataFrame]) -> alt.LayerChart:
    """How much of each factor each recipe keeps (bars; one colour per recipe), the bootstrap interval
    of the views' agreement (whiskers), the reference of near-identical views (ticks), the verdict at
    the end of each bar and the verdict bands (dashed); factors in the tables' order."""
    frames = []
    for label, t in tables.items():
        f = t[["words", "agreement", "shown", "kept", "low", "high", "reference", "verdict", "hidden"]].copy()
        f["recipe"] = label
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    df["kept"] = df["kept"].clip(lower=0.0)
    scrambled = ~df["hidden"].astype(bool)  # the interval is the agreement's: drawn where that is what counts
    df["low"] = df["low"].clip(lower=0.0).where(scrambled)
    df["high"] = df["high"].where(scrambled)
    df["end"] = df[["kept", "high"]].max(axis=1)
    df["label"] = np.where(df["hidden"].astype(bool), df["verdict"] + " (hidden)", df["verdict"])
    order = list(dict.fromkeys(df["words"]))
    y = alt.Y("words:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    offset = alt.YOffset("recipe:N", sort=list(tables))
    colour = alt.Color("recipe:N", scale=alt.Scale(domain=list(tables), range=charts.PAIR),
                       legend=alt.Legend(orient="top", direction="vertical", title=None, labelLimit=600)
                       if len(tables) > 1 else None)
    tip = ["recipe:N", alt.Tooltip("words:N", title="factor"), alt.Tooltip("kept:Q", format=".2f"),
           alt.Tooltip("agreement:Q", format=".2f", title="views agree"),
           alt.Tooltip("shown:Q", format=".2f", title="views show the cell's value"),
           alt.Tooltip("reference:Q", format=".2f"), "label:N"]
    base = alt.Chart(df).encode(y=y, yOffset=offset)
    bars = base.mark_bar(height={"band": 0.8}).encode(
        x=alt.X("kept:Q", scale=alt.Scale(domain=[0, 1.2]), axis=alt.Axis(values=[0, 0.2, 0.4, 0.6, 0.8, 1.0]),
                title="kept (0 = scrambled or hidden, 1 = kept)"),
        color=colour, tooltip=tip)
    whiskers = base.mark_rule(color="#333").encode(x="low:Q", x2="high:Q")
    ref = base.mark_tick(color="black", thickness=2, size=10).encode(x="reference:Q")
    label = base.mark_text(align="left", dx=4, fontSize=11).encode(
        x=alt.X("end:Q"), text="label:N", color=alt.Color("verdict:N", scale=alt.Scale(
            domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values())), legend=None))
    rules = alt.Chart(pd.DataFrame({"x": [PARTLY, KEEPS]})).mark_rule(strokeDash=[4, 3], color="#888").encode(x="x:Q")
    height = 22 * len(order) * max(1, len(tables)) + 70
    return alt.layer(rules, bars, whiskers, ref, label).resolve_scale(color="independent").properties(height=height)


def preview(name: str, cells, recipes: dict[str, tuple[str, Recipe]]) -> dict[str, pd.DataFrame]:
    """Draw the invariance preview of `recipes` ({title: (slot, recipe)}); return their tables."""
    st.subheader("What does each recipe teach the encoder to ignore?")
    st.caption("Before any training: readable factors are measured on both views of each sampled cell. Where "
               "the two views agree (near 1) the recipe keeps the factor, so the encoder may use it; where "
               "they disagree (near 0) the recipe teaches the encoder to drop it; *hidden*: the views agree "
               "but no longer show the cell's own value (a centre crop cuts the neighbours away), so the "
               "encoder cannot learn it. Ticks: two near-identical views (the measurement's own limit). "
               "Dashed lines: the verdict bands (drops below 0.5 of the tick, keeps from 0.9).")
    state.setdefault("w.aug.inv_cells", 256)
    n = int(st.select_slider("Cells measured", [64, 128, 256, 512], key="w.aug.inv_cells",
                             help="More cells: steadier numbers, slower (256 cells take a few seconds)."))
    key = cells_key(name)[1]
    seed = int(state.get(state.PREVIEW_SEED, 0))
    tables: dict[str, pd.DataFrame] = {}
    with plain_errors("The preview could not be measured"), st.spinner(f"Measuring {n} cells…"):
        for title, (slot, recipe) in recipes.items():
            tables[f"{title}: {recipe.name}"] = table(name, key, recipe.to_yaml(), n, seed)
    if not tables:
        return {}
    st.altair_chart(chart(tables), width="stretch")
    for label, t in tables.items():
        st.markdown(explain_words(t, subject=f"**{label}**"))
    return tables


def which_step(name: str, title: str, slot: str, recipe: Recipe, tab: pd.DataFrame) -> None:
    """Which steps scramble which factor, and the smallest change that keeps one, applied in one click."""
    n = int(state.get("w.aug.inv_cells", 256))
    key, seed = cells_key(name)[1], int(state.get(state.PREVIEW_SEED, 0))
    scrambled = tab.loc[tab["verdict"].isin(["drops", "partly"])]
    if scrambled.empty:
        st.caption(f"{title} scrambles none of the measured factors.")
        return
    words = dict(zip(tab["factor"], tab["words"]))
    args = (name, key, recipe.to_yaml(), min(n, 256), seed)
    asked = state.setdefault(state.AUG_STEPS_ASKED, set())
    if args not in asked:
        if st.button("Find the steps responsible", key=f"w.aug.{slot}.steps",
                     help="Leaves each step out, and keeps each step alone, on the same cells (a few seconds)"):
            asked.add(args)
        else:
            return
    with plain_errors("The steps could not be measured"), st.spinner("Trying the recipe without each step…"):
        eff = effects(*args)
    resp = eff.loc[eff["responsible"]]
    grid = eff.loc[eff["factor"].isin(scrambled["factor"])].assign(words=lambda d: d["factor"].map(words))
    grid["responsible"] = np.where(grid["responsible"], "yes", "")
    steps = list(dict.fromkeys(grid["title"]))
    heat = alt.Chart(grid).mark_rect().encode(
        x=alt.X("title:N", sort=steps, title="each step alone", axis=alt.Axis(
            labelAngle=-30, labelLimit=170, labelOverlap=False, orient="top")),
        y=alt.Y("words:N", sort=list(dict.fromkeys(grid["words"])), title=None,
                axis=alt.Axis(labelLimit=260, labelOverlap=False)),
        color=alt.Color("alone:Q", scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen"),
                        title=["kept with", "only this step"]),
        tooltip=["words:N", "title:N", alt.Tooltip("alone:Q", format=".2f"), alt.Tooltip("without:Q", format=".2f"),
                 "responsible:N"]).properties(height=alt.Step(22), width=alt.Step(64))
    st.altair_chart(heat)
    lines = [f"- **{words[f]}**: " + " + ".join(part.sort_values("alone")["title"])
             for f, part in resp.groupby("factor", sort=False)]
    st.markdown("Scrambled by:\n" + "\n".join(lines))
    factor = st.selectbox("Keep this factor", list(scrambled["factor"]), format_func=words.get,
                          key=f"w.aug.{slot}.keep", index=None, placeholder="Choose a factor to keep…")
    if factor is None:
        return
    with plain_errors("No change could be found"), st.spinner("Trying smaller versions of those steps…"):
        fix = fix_for(name, key, recipe.to_yaml(), factor, min(n, 256), seed)
    st.info(explain_fix(fix, words[factor]))
    if fix.changes and st.button(f"Apply this change to {title}", key=f"w.aug.{slot}.apply", type="primary"):
        recipe_editor.replace(slot, apply_changes(recipe, fix.changes))
        st.rerun()
