"""The Augment page's advisor: mark what the encoder should keep and ignore, rank the recipes, train one.

Reads the wishes (factors to keep / to ignore, optionally a metadata column whose groups matter),
calls `ssrl_core.augment.advisor` (`group_effects`, `suggestions`, `rank_recipes`) and draws the
ranking; the chosen recipe goes into Recipe A, or straight into a short fine-tune of `cells_base`
(`ssrl_app.augment.finetune`, the Train page's job launcher).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.augment import finetune, invariance_view, recipe_editor
from ssrl_app.shell import loaders, selection, state
from ssrl_app.shell.errors import plain_errors
from ssrl_core.augment import Recipe
from ssrl_core.augment.advisor import group_effects, presets_for, rank_recipes, suggestions
from ssrl_core.augment.measures import factors

MAX_GROUPS = 20


@st.cache_data(show_spinner=False, max_entries=16)
def effects_of(name: str, key: str, column: str) -> pd.DataFrame:
    """`advisor.group_effects` of a metadata column on the cells in use."""
    cells = loaders.cells(name).subset(np.asarray(selection.index(name), dtype=np.int64))
    return group_effects(cells, column, ranges=loaders.ranges(name), max_groups=MAX_GROUPS)


def _columns(meta: pd.DataFrame) -> list[str]:
    return [c for c in meta.columns if 2 <= meta[c].nunique() <= MAX_GROUPS]


def candidates(name: str, cells, recipes: dict[str, tuple[str, Recipe]], keep: list[str], n: int,
               seed: int) -> dict[str, Recipe]:
    """The page's recipes, the presets that fit these cells (MNIST ones only for MNIST), and the
    smallest change of Recipe A that keeps each wanted factor it scrambles."""
    out = {f"{title}: {r.name}": r for title, (_, r) in recipes.items()}
    mnist = str(name).lower().startswith("mnist")
    out.update({f"preset: {k}": r for k, r in presets_for(cells.shape[2]).items() if k.startswith("mnist") == mnist})
    if keep and recipes:
        title, (_, first) = next(iter(recipes.items()))
        sample = invariance_view._sample(name, invariance_view.cells_key(name)[1], n, seed)
        out.update({f"{title} changed: {k.split(' with ', 1)[-1]}": r
                    for k, r in suggestions(first, sample, keep, seed=seed).items()})
    return out


def section(name: str, cells, recipes: dict[str, tuple[str, Recipe]]) -> None:
    """Draw the advisor."""
    st.subheader("Advisor: which recipe keeps what you need?")
    fs = factors(list(cells.channels))
    words = {f.name: f.words for f in fs}
    column = st.selectbox("Groups that matter (optional)", ["(none)"] + _columns(cells.meta), key="w.aug.groups",
                          help="A metadata column (e.g. compound, phenotype): the factors that differ between its "
                               "groups are candidates to keep.")
    if column != "(none)":
        with plain_errors("The groups could not be compared"), st.spinner("Measuring the groups…"):
            eff = effects_of(name, invariance_view.cells_key(name)[1], column)
            shown = eff.assign(factor=eff["factor"].map(words), d=eff["d"].round(2),
                               p=eff["p"].map(lambda v: "< 0.001" if v < 0.001 else f"{v:.3f}"))
            st.dataframe(shown[["factor", "d", "size", "group", "p"]].rename(columns={
                "d": "Cohen's d", "size": "effect", "group": "group most apart"}),
                hide_index=True, height=min(35 * len(shown) + 38, 320))
            big = eff.loc[eff["size"] == "large", "factor"].tolist()
            if big and st.button(f"Keep the {len(big)} factor(s) with a large difference", key="w.aug.keep_big"):
                state.put("w.aug.keep", list(dict.fromkeys([*(state.get("w.aug.keep") or []), *big])))
                state.put("w.aug.ignore", [f for f in (state.get("w.aug.ignore") or []) if f not in big])
                st.rerun()
    keep = st.multiselect("Keep (the encoder may use it)", list(words), format_func=words.get, key="w.aug.keep")
    ignore = st.multiselect("Ignore (teach the encoder to drop it)", [f for f in words if f not in keep],
                            format_func=words.get, key="w.aug.ignore")
    n = int(state.get("w.aug.inv_cells", 256))
    seed = int(state.get(state.PREVIEW_SEED, 0))
    args = (name, invariance_view.cells_key(name)[1], tuple(keep), tuple(ignore), n, seed)  # kept when a recipe is used
    if st.button("Rank the recipes", key="w.aug.rank", disabled=not (keep or ignore),
                 help="Every preset, your recipes and the smallest changes of Recipe A, measured on the same cells"):
        with plain_errors("The recipes could not be ranked"), st.spinner("Measuring every candidate recipe…"):
            cands = candidates(name, cells, recipes, keep, min(n, 256), seed)
            sample = invariance_view._sample(name, args[1], n, seed)
            ranking = rank_recipes(cands, sample, keep, ignore, seed=seed)
            state.put(state.ADVISOR, {"args": args, "table": ranking,
                                      "recipes": {k: r.to_dict() for k, r in cands.items()}})
    result = state.get(state.ADVISOR)
    if not result or result["args"] != args:
        st.caption("Mark factors to keep or to ignore, then press *Rank the recipes*.")
        return
    ranking = result["table"]
    shown = ranking.assign(misses=ranking["misses"].apply(lambda m: ", ".join(m) or "none"),
                           fits=np.where(ranking["fits"], "yes", "no"))
    st.dataframe(shown[["fits", "score", "recipe", "misses"]].rename(columns={
        "fits": "all wishes met", "score": "match (1 = perfect)", "misses": "not as wished"}).round(3),
        hide_index=True)
    pick = st.selectbox("Recipe", list(ranking["recipe"]), key="w.aug.pick")
    chosen = Recipe.from_dict(result["recipes"][pick])
    row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
    if row.button("Use it as Recipe A", key="w.aug.use"):
        recipe_editor.replace(state.RECIPE_A, chosen)
        st.rerun()
    fields, why = finetune.base_start(cells.shape[2], cells.shape[0])
    minutes = row.number_input("Minutes", 0.5, 120.0, 3.0, 0.5, key="w.aug.minutes")
    if row.button("Fine-tune cells_base with it", key="w.aug.train", type="primary", disabled=fields is None,
                  help=why or "A short SSL fine-tune of the base encoder on the cells in use (Train page's launcher)"):
        with plain_errors("The fine-tune could not start"):
            run_dir = finetune.start(name, chosen, float(minutes), cells.shape[2], cells.shape[0])
            st.success(f"Started {run_dir.name}: follow it on the Train page.")
            st.page_link("pages/train.py", label="Open the Train page", icon=":material/model_training:")
