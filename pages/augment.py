"""Augment: compose augmentation recipes, see what each teaches before training, judge the views.

The paper's point (Bendidi et al. 2024): what the two views of a cell differ in is what the
representation learns to ignore. The invariance preview (`ssrl_app.augment.invariance_view`) says which
readable factors each recipe keeps and which it scrambles, which step does it and the smallest
change that keeps a factor; the advisor (`ssrl_app.augment.advisor_view`) ranks recipes against the
factors a biologist wants kept or ignored. Near-identical views teach little; views that destroy
the cell teach the wrong thing. LPIPS (Zhang et al. 2018) measures how different two views look.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.augment import advisor_view, invariance_view, recipe_editor
from ssrl_app.shell import charts, loaders, page, state
from ssrl_app.shell.errors import message, plain_errors
from ssrl_app.shell.images import composite, row_montage
from ssrl_core import augment
from ssrl_core.augment.preview import make_preview, pair_distances
from ssrl_core.devices import resolve_device

page.open_page("Augment: what should two views of a cell differ in?")
name, cells = page.current_cells()
default_a, default_b = page.default_presets(name)


@st.cache_data(show_spinner=False, max_entries=32)
def distribution(dataset: str, recipe_yaml: str, seed: int, n: int, size: int) -> np.ndarray:
    """LPIPS between two views of `n` random cells (cached per recipe text)."""
    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(len(loaders.cells(dataset)), min(n, len(loaders.cells(dataset))), replace=False))
    recipe = augment.Recipe.from_yaml(recipe_yaml)
    return pair_distances(recipe, loaders.unit_images(dataset, idx), seed, loaders.lpips_model(_device()), size)


def _device() -> str:
    """Where LPIPS runs: the one device rule (`ssrl_core.devices`, device: auto)."""
    return resolve_device("auto")[0].type


def lpips_or_none():
    """The LPIPS model, or None with a plain note when its weights are missing."""
    try:
        return loaders.lpips_model(_device())
    except Exception as exc:  # weights unavailable offline: the preview still works
        st.info(f"LPIPS distances are off: {message(exc)}")
        return None


def yaml_box(slot: str) -> None:
    """Download the recipe as YAML, or load one (a bad file shows the RecipeError text)."""
    recipe = state.get(slot)
    row = st.container(horizontal=True, gap="small")  # wraps onto two lines when the column is narrow
    row.download_button("Download recipe (YAML)", recipe.to_yaml(), file_name=f"{recipe.name}.yaml",
                        mime="text/yaml", key=f"w.aug.{slot}.dl")
    with row.popover("Load a recipe (YAML)"):
        up = st.file_uploader("YAML file", type=["yaml", "yml"], key=f"w.aug.{slot}.up")
        text = st.text_area("…or paste YAML", key=f"w.aug.{slot}.text", height=120)
        if st.button("Load", key=f"w.aug.{slot}.load"):
            raw = up.getvalue().decode("utf-8", "replace") if up is not None else text
            try:
                recipe_editor.replace(slot, augment.Recipe.from_yaml(raw))
                st.rerun()
            except ValueError as exc:  # RecipeError lists every problem
                state.put(state.recipe_error(slot), message(exc))
    err = state.pop(state.recipe_error(slot))
    if err:
        st.error(f"This recipe could not be loaded: {err}")


compare = st.toggle("Compare two recipes side by side", key="w.aug.compare")
slots = [(state.RECIPE_A, "Recipe A", default_a)] + ([(state.RECIPE_B, "Recipe B", default_b)] if compare else [])
if compare:
    editor_cols, preview_area = st.columns(2), st.container()
else:  # one recipe: the editor on the left, its preview beside it (no scrolling at a demo)
    left, right = st.columns([6, 5], gap="large")
    editor_cols, preview_area = [left], right
recipes = {}
# The steps scroll inside a box of about half a screen, so the preview beside them (or right under
# both editors in Compare mode) stays on screen while step 3, 4… is edited.
STEPS_PX = 260 if compare else 420
for col, (slot, title, preset) in zip(editor_cols, slots):
    with col:
        recipes[title] = recipe_editor.editor(slot, title, preset, per_row=1 if compare else 2, steps_px=STEPS_PX)
        yaml_box(slot)

with preview_area:
    if compare:
        st.divider()
    st.subheader("Preview")
    state.setdefault(state.PREVIEW_SEED, 0)
    state.setdefault("w.aug.n_views", 4)
    state.setdefault("w.aug.n_cells", 4)
    state.setdefault("w.aug.sample", "random cells")
    c = st.columns(2)
    n_cells = c[0].slider("Cells", 1, 8, key="w.aug.n_cells")
    n_views = c[1].slider("Views per cell", 2, 8, step=2, key="w.aug.n_views")
    c = st.container(horizontal=True, vertical_alignment="bottom", horizontal_alignment="distribute")
    mode = c.radio("Which cells", ["random cells", "chosen cells"], horizontal=True, key="w.aug.sample")
    if c.button("Reshuffle", help="New random cells and new random views"):
        state.bump(state.PREVIEW_SEED)
    seed = int(state.get(state.PREVIEW_SEED))
    if mode == "chosen cells":
        picked = st.multiselect("Cell numbers", list(range(len(cells))), max_selections=8, key="w.aug.cells",
                                default=None, placeholder="Pick cells by number (see the Data page)")
        index = list(picked) or [0]
    else:
        index = sorted(np.random.default_rng(seed).choice(len(cells), min(n_cells, len(cells)), replace=False).tolist())
    images = loaders.unit_images(name, index)
    lpips = lpips_or_none()
    pcols = st.columns(len(recipes))
    for pcol, (title, recipe) in zip(pcols, recipes.items()):
        with pcol:
            if compare:
                st.markdown(f"**{title}** ({recipe.name})")
            with plain_errors(f"{title} could not make views"):
                with st.spinner("Making views…"):
                    prev = make_preview(recipe, images, n_views, seed, lpips, size=64)
                for w in prev.warnings:
                    st.warning(w)
                for i, cell_index in enumerate(index):
                    tiles = [composite(images[i], channel_names=cells.channels)]
                    tiles += [composite(v, channel_names=cells.channels) for v in prev.views[i]]
                    cap = f"cell {cell_index}"
                    if prev.lpips is not None:
                        cap += " · LPIPS " + ", ".join(f"views {2 * k + 1}–{2 * k + 2}: {d:.2f}"
                                                       for k, d in enumerate(prev.lpips[i]))
                    st.image(row_montage(tiles), caption=cap, width="stretch", output_format="PNG")  # fits its column
                st.caption("Each row: the cell, then its views in pairs (1–2, 3–4…). LPIPS says how "
                           "different the two views of a pair look (0 = the same).")

st.divider()
tables = invariance_view.preview(name, cells, {title: (slot, recipes[title]) for slot, title, _ in slots})
for (slot, title, _), label in zip(slots, tables):
    with st.expander(f"Which step does it? ({title})"):
        invariance_view.which_step(name, title, slot, recipes[title], tables[label])
st.divider()
advisor_view.section(name, cells, {title: (slot, recipes[title]) for slot, title, _ in slots})
st.divider()

if lpips is not None:
    st.subheader("How different are the two views, over many cells?")
    d1, d2 = st.columns([3, 1], vertical_alignment="bottom")
    n_sample = d1.slider("Cells in the sample", 8, 256, 32, step=8, key="w.aug.n_sample")
    measure = d2.button("Measure", help="Two views of each sampled cell, LPIPS between them, per recipe")
    frames, stale = [], False
    for title, recipe in recipes.items():
        args = (name, recipe.to_yaml(), seed, n_sample, 64)
        done = state.setdefault(state.AUG_MEASURED, set())
        if not measure and args not in done:
            stale = True
            continue
        with plain_errors(f"{title} could not be measured"), st.spinner(f"Measuring {title} on {n_sample} cells…"):
            d = distribution(*args)
            done.add(args)
            frames.append(pd.DataFrame({"recipe": f"{title}: {recipe.name}", "LPIPS": d}))
    if stale:
        st.caption("Press **Measure** to see the distribution for the current recipe(s).")
    if frames:
        df = pd.concat(frames)
        # Side-by-side bars in each bin (never overlapping, so no third, unlisted colour): A blue, B orange.
        chart = alt.Chart(df).mark_bar().encode(
            alt.X("LPIPS:Q", bin=alt.Bin(maxbins=20), title="LPIPS between two views (0 = identical)"),
            alt.XOffset("recipe:N"),
            alt.Y("count():Q", title="cells", axis=charts.WHOLE),
            alt.Color("recipe:N", scale=alt.Scale(domain=sorted(df["recipe"].unique()), range=charts.PAIR),
                      legend=alt.Legend(orient="bottom", labelLimit=300)))
        st.altair_chart(chart, width="stretch")
        summary = df.groupby("recipe")["LPIPS"].describe()[["mean", "25%", "50%", "75%"]].round(3)
        st.dataframe(summary.rename(columns={"50%": "median"}))
