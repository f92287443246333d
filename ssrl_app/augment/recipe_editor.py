"""The recipe editor widget: add, remove, reorder, enable/disable steps, one control per parameter.

A recipe is plain data (`ssrl_core.augment.Recipe` of `Step`s). Each control takes its valid
range from the catalog's `Param`, so the editor cannot produce an invalid recipe. The recipe
lives in the session state under `slot` (`state.RECIPE_A` or `RECIPE_B`); widgets are keyed by
a version number that changes whenever the recipe changes shape (a preset, an import, a step
added/removed/moved), so they pick up the new values.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ssrl_app.shell import state
from ssrl_core.augment import CATALOG, PRESETS, Step, get_preset


def recipe_in(slot: str, default_preset: str):
    """The recipe stored in `slot`, starting from `default_preset` the first time."""
    if not state.has(slot):
        state.put(slot, get_preset(default_preset))
    return state.get(slot)


def replace(slot: str, recipe) -> None:
    """Store a new recipe in `slot` and re-key the editor's widgets (`state.put_recipe`)."""
    state.put_recipe(slot, recipe)


def _steps(slot: str) -> list:
    import copy
    return [copy.deepcopy(s) for s in state.get(slot).steps]


def _with_steps(slot: str, steps: list) -> None:
    new = state.get(slot).copy()
    new.steps = steps
    replace(slot, new)


def _move(slot: str, i: int, delta: int) -> None:
    steps = _steps(slot)
    j = i + delta
    if 0 <= j < len(steps):
        steps[i], steps[j] = steps[j], steps[i]
        _with_steps(slot, steps)


def _remove(slot: str, i: int) -> None:
    steps = _steps(slot)
    del steps[i]
    _with_steps(slot, steps)


def _add(slot: str, picker_key: str) -> None:
    name = state.get(picker_key)
    if name not in CATALOG:
        return
    spec = CATALOG[name]
    _with_steps(slot, _steps(slot) + [Step(name=name, params=spec.defaults(), p=float(spec.default_p),
                                           enabled=True)])


def param_control(spec, label: str, value: Any, key: str, container) -> Any:
    """One widget for one parameter, limited to the Param's valid range."""
    kind = spec.kind
    helptext = spec.help or None
    low, high = spec.low, spec.high
    value = spec.default if value is None else value
    if kind == "bool":
        return container.checkbox(label, value=bool(value), key=key, help=helptext)
    if kind == "choice":
        choices = list(spec.choices or [value])
        index = choices.index(value) if value in choices else 0
        return container.selectbox(label, choices, index=index, key=key, help=helptext)
    if kind == "int":
        lo, hi = int(low if low is not None else 0), int(high if high is not None else max(int(value), 1) * 4)
        return int(container.slider(label, lo, hi, min(max(int(value), lo), hi), key=key, help=helptext))
    if kind == "range":
        lo, hi = float(low), float(high)
        a, b = (float(value[0]), float(value[1])) if isinstance(value, (list, tuple)) else (lo, hi)
        got = container.slider(label, lo, hi, (min(max(a, lo), hi), min(max(b, lo), hi)),
                               step=_step(lo, hi), key=key, help=helptext)
        return [float(got[0]), float(got[1])]
    if low is None or high is None:
        return float(container.number_input(label, value=float(value), key=key, help=helptext))
    lo, hi = float(low), float(high)
    return float(container.slider(label, lo, hi, min(max(float(value), lo), hi), step=_step(lo, hi),
                                  key=key, help=helptext))


def _step(lo: float, hi: float) -> float:
    """A slider step giving about 100 positions, rounded to a readable number."""
    span = max(hi - lo, 1e-6)
    for s in (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0):
        if span / s <= 200:
            return s
    return span / 100


def _differs(a, b) -> bool:
    """Whether two recipes differ in anything but their name."""
    da, db = a.to_dict(), b.to_dict()
    da.pop("name", None)
    db.pop("name", None)
    return da != db


def editor(slot: str, title: str, default_preset: str, per_row: int = 2, steps_px: int | None = None):
    """Draw the editor for the recipe in `slot`; return the recipe the widgets describe now.

    `per_row` controls side by side (1 in Compare mode: the editor is then a quarter of a 1024-px
    screen). Step titles and buttons sit on their own rows so no label is ever cut. With `steps_px`
    the steps scroll inside a box that high, so what is beside or under the editor stays on screen."""
    recipe = recipe_in(slot, default_preset)
    v = state.get(state.RECIPE_VERSION, 0)
    base = f"w.aug.{slot}.{v}"
    st.subheader(title)
    pick = f"w.aug.{slot}.preset"
    if state.get(f"{pick}.for") != v:  # the recipe changed (a preset, a file, an opened session): the box follows
        shown = recipe.name.removesuffix(" (edited)")
        if shown in PRESETS:
            state.put(pick, shown)
        elif not state.has(pick):
            state.put(pick, default_preset if default_preset in PRESETS else list(PRESETS)[0])
        state.put(f"{pick}.for", v)
    # Choosing a preset applies it at once (one click); the button puts it back after edits.
    preset = st.selectbox("Start from a preset of the paper", list(PRESETS), key=pick,
                          on_change=lambda: replace(slot, get_preset(state.get(pick))))
    about = PRESETS[preset].description if preset in PRESETS else ""  # the preset's own words (ssrl_core)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Apply preset", key=f"{base}.apply", help="Start again from this preset (undoes your edits)",
                  on_click=lambda: replace(slot, get_preset(state.get(pick))))
        if about and per_row == 1:  # Compare mode: two editors share the screen; the whole text on hover
            st.caption(about.split(":")[0], help=about)
        elif about:
            st.caption(about)
    st.caption(f"Recipe **{recipe.name}**: {sum(s.enabled for s in recipe.steps)} of "
               f"{len(recipe.steps)} steps on. Steps run from top to bottom.")
    steps = []
    box = st.container(height=steps_px, border=False) if steps_px else st.container()
    for i, step in enumerate(recipe.steps):
        spec = CATALOG.get(step.name)
        with box.container(border=True):
            title = spec.title if spec is not None else step.name
            on = st.toggle(f"**{i + 1}. {title}**", value=bool(step.enabled), key=f"{base}.{i}.on",
                           help=spec.description if spec is not None else None)
            params = dict(step.params)
            p = float(step.p)
            draw = step.draw
            with st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center",
                              gap="small"):
                if on:
                    same = st.checkbox("Same for both views", value=step.draw == "pair", key=f"{base}.{i}.draw",
                                       help="On: this step's random draw is made once per pair, so both views get "
                                            "the same one (e.g. both inverted or neither). Off: a new draw per view.")
                    draw = "pair" if same else "view"
                with st.container(horizontal=True, horizontal_alignment="right", gap="small", width="content"):
                    st.button(":material/arrow_upward:", key=f"{base}.{i}.up", on_click=_move,
                              args=(slot, i, -1), disabled=i == 0, help="Move this step up", type="tertiary")
                    st.button(":material/arrow_downward:", key=f"{base}.{i}.down", on_click=_move,
                              args=(slot, i, 1), disabled=i == len(recipe.steps) - 1, help="Move this step down",
                              type="tertiary")
                    st.button(":material/delete:", key=f"{base}.{i}.rm", on_click=_remove, args=(slot, i),
                              help="Remove this step", type="tertiary")
            if on:
                n_ctl = 1 + (len(spec.params) if spec is not None else 0)
                cols = st.columns(min(per_row, n_ctl))
                p = cols[0].slider("how often", 0.0, 1.0, float(step.p), 0.05, key=f"{base}.{i}.p",
                                   help="The share of views this step is applied to")
                items = list((spec.params if spec is not None else {}).items())
                grid = [(n, ps) for n, ps in items if ps.kind != "bool"]
                ticks = [(n, ps) for n, ps in items if ps.kind == "bool"]
                for j, (pname, pspec) in enumerate(grid + ticks):  # check boxes on full rows: never cut
                    label = pspec.label or pname.replace("_", " ")
                    where = cols[(j + 1) % len(cols)] if j < len(grid) else st
                    params[pname] = param_control(pspec, label, params.get(pname), f"{base}.{i}.{pname}", where)
            steps.append(Step(name=step.name, params=params, p=float(p), enabled=bool(on), draw=draw))
    a1, a2 = st.columns([2, 1], vertical_alignment="bottom")
    a1.selectbox("Add a step", sorted(CATALOG), key=f"{base}.addpick",
                 format_func=lambda n: CATALOG[n].title or n)
    a2.button("Add", key=f"{base}.add", on_click=_add, args=(slot, f"{base}.addpick"))
    current = recipe.copy()
    current.steps = steps
    if current.name in PRESETS and _differs(current, get_preset(current.name)):
        current.name = f"{current.name} (edited)"  # an edited preset is no longer the paper's recipe
    state.put(slot, current)
    return current
