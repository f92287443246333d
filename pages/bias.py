"""Bias: which factors does the representation encode, and how does one recipe parameter shift it?

Factor probe: for every metadata column (class, compound, plate…) and every factor measured on
the images (size, brightness, number of nuclei), how well a linear probe predicts it from the
embedding. Sweep (Bendidi et al. 2024, section 3.1): vary one augmentation parameter, train
short runs, and follow each class's probe accuracy; classes whose curves move in opposite
directions reveal the inter-class bias of that augmentation.
"""

from __future__ import annotations

import hashlib

import altair as alt
import streamlit as st

from ssrl_app import analysis, figures, loaders, page, state
from ssrl_app.core import message
from ssrl_core import augment, evaluate as ev
from ssrl_core.evaluate import sweep_jobs
from ssrl_core.models import BACKBONES

page.open_page("Bias: what has the representation learned to see?")
name, cells = page.current_cells()
choices = page.representations()

st.subheader("Factor probe")
c = st.columns([3, 2, 1], vertical_alignment="bottom")
enc_label = c[0].selectbox("Representation", list(choices), key="w.bias.encoder")
st.session_state.setdefault("w.bias.cells", min(1000, len(cells)))
n_cells = c[1].number_input("Cells", 20, len(cells), step=100, key="w.bias.cells")
go = c[2].button("Measure", type="primary")
index = analysis.subset_index(name, int(n_cells))
key = hashlib.sha1(f"{name}|{choices[enc_label]}|{index.tobytes().hex()}".encode()).hexdigest()[:16]

if go:
    bar = st.progress(0.0, text="Embedding the cells…")
    try:
        feats = analysis.embed(name, index, choices[enc_label],
                               progress=lambda f: bar.progress(min(float(f), 1.0) * 0.7, text=f"Embedding… {f:.0%}"))
        bar.progress(0.75, text="Measuring size, brightness and nuclei on the images…")
        sub = cells.subset(index)
        lo, hi = loaders.ranges(name)
        nuisance = ev.nuisance_factors(sub, lo=lo, hi=hi)
        bar.progress(0.85, text="Probing each factor…")
        table = ev.factor_probe(feats, sub.meta, nuisance)
        state.put("ssrl.bias_result", {"key": key, "dataset": name, "label": enc_label, "table": table,
                                       "encoder": choices[enc_label]})
    except Exception as exc:  # a checkpoint that does not fit, too few cells: say it plainly
        st.error(f"The factor probe could not run: {message(exc)}")
    bar.empty()

res = state.get("ssrl.bias_result")
if res and res["dataset"] == name:
    table = res["table"]
    st.caption(f"Representation: **{res['label']}**. Probe score: accuracy for categories, R² for "
               "measurements. Chance: always guessing the commonest value.")
    show = table.copy()
    st.dataframe(show.round(3), hide_index=True)
    chart = alt.Chart(show).mark_bar().encode(
        x=alt.X("probe_score:Q", title="how well the representation predicts it"),
        y=alt.Y("factor:N", sort="-x", title=None), color=alt.Color("kind:N", title="factor kind"),
        tooltip=["factor", "kind", "probe_metric", alt.Tooltip("probe_score:Q", format=".3f"),
                 alt.Tooltip("chance:Q", format=".3f"), alt.Tooltip("ami:Q", format=".3f")])
    ticks = alt.Chart(show).mark_tick(color="black", thickness=2, size=14).encode(
        x="chance:Q", y=alt.Y("factor:N", sort="-x"))
    st.altair_chart(chart + ticks, width="stretch")
    if st.toggle("Figure for slides", key="w.bias.figs", help="PNG and SVG of this chart, titled with the "
                 "dataset, representation and recipe"):
        figures.download_buttons(st, lambda: figures.factor_figure(show, figures.title_for(
            "Factor probe: what the representation encodes", str(name), res["label"],
            figures.recipe_of(str(res.get("encoder", ""))))), "factor-probe", "w.bias.fig_factors")
    st.caption("Black ticks: chance level. A batch factor (plate, well) far above chance means the "
               "representation sees the batch effect.")
else:
    st.info("Choose a representation and press **Measure**.")

st.divider()
st.subheader("Sweep one augmentation parameter")
recipe = state.get(state.RECIPE_A) or augment.get_preset(page.default_presets(name)[0])
numeric = [(s.name, p) for s in recipe.steps for p, spec in getattr(augment.CATALOG.get(s.name), "params", {}).items()
           if spec.kind in ("float", "int")]
if not numeric:
    st.info("The recipe has no numeric parameter to sweep: add a step on the Augment page.")
else:
    st.caption(f"Recipe: **{recipe.name}** (from the Augment page). Each value × seed trains one short run.")
    target = st.selectbox("Parameter", [f"{s} · {p}" for s, p in numeric], key="w.bias.param")
    step_name, param = target.split(" · ")
    spec = augment.CATALOG[step_name].params[param]
    suggested = ev.even_values(spec.low, spec.high, spec.default, integer=spec.kind == "int")
    with st.form("sweep_form"):
        c = st.columns(2)
        values_text = c[0].text_input("Values (comma separated)", ", ".join(f"{v:g}" for v in suggested),
                                      key=f"w.bias.values.{target}",
                                      help=f"Valid range: {spec.low:g} to {spec.high:g}"
                                      if spec.low is not None and spec.high is not None else None)
        meta_cols = analysis.label_columns(cells.meta)
        column = c[1].selectbox("Classes from column", meta_cols or ["label"], key="w.bias.column")
        c = st.columns(4)
        seeds = c[0].number_input("Seeds per value", 1, 10, 2, key="w.bias.seeds")
        epochs = c[1].number_input("Epochs per run", 1, 200, 2, key="w.bias.epochs")
        max_cells = c[2].number_input("Cells per run", 50, max(50, len(cells)), min(1000, len(cells)), step=100,
                                      key="w.bias.max_cells")
        backbones = list(BACKBONES)
        backbone = c[3].selectbox("Backbone", backbones, index=backbones.index("resnet18") if "resnet18" in backbones
                                  else 0, key="w.bias.backbone")
        submitted = st.form_submit_button("Start the sweep", type="primary")
    if submitted:
        try:
            values = ev.parse_values(values_text, integer=spec.kind == "int")
            sweep = ev.recipe_sweep(name, recipe.to_dict(), step_name, param, values, seeds=int(seeds),
                                    epochs=int(epochs), max_cells=int(max_cells), backbone=backbone,
                                    probe_column=column, image_size=cells.shape[0])
            state.put(state.SWEEP_RUN, str(sweep_jobs.launch(sweep, f"{step_name}-{param}")))
        except Exception as exc:  # bad values, bad config: plain words
            st.error(f"The sweep could not start: {message(exc)}")

sweeps = sweep_jobs.list_sweeps()
if sweeps:
    current = state.get(state.SWEEP_RUN) or str(sweeps[0])
    pick = st.selectbox("Sweep", [str(p) for p in sweeps], index=[str(p) for p in sweeps].index(current)
                        if current in [str(p) for p in sweeps] else 0, format_func=lambda p: p.rsplit("/", 1)[-1])
    state.put(state.SWEEP_RUN, pick)

    def follow() -> None:
        """The sweep's progress and, once there are results, its curves."""
        status = sweep_jobs.read_status(pick)
        prog = status.get("progress")
        st.progress(min(max(float(prog or 0.0), 0.0), 1.0), text=f"{status.get('state')}: {status.get('message', '')}")
        if status.get("error"):
            st.error(f"The sweep failed: {status['error']}")
        if status.get("state") in sweep_jobs.ACTIVE and st.button("Stop the sweep"):
            sweep_jobs.stop(pick)
            st.toast("Asked the sweep to stop after the current training step; finished points are kept.")
        elif status.get("state") in ("stopped", "failed") and st.button("Resume the sweep"):
            try:
                sweep_jobs.resume(pick)
            except (FileNotFoundError, RuntimeError) as exc:  # gone, or already running again
                st.error(f"The sweep could not resume: {message(exc)}")
            else:
                st.rerun()
        results = ev.read_results(pick)
        if results.empty or results["value"].nunique() < 2:
            st.caption("Curves appear once two values are done.")
            return
        report = ev.bias_report(results)
        st.metric("Classes with an opposite partner", f"{report['opposite_ratio']:.0%}",
                  help="Share of classes whose accuracy curve goes the opposite way to another class's "
                       "(correlation below -0.3, p < 0.05): the augmentation helps one at the other's expense.")
        curves = report["curves"]
        ycol = "mean" if "mean" in curves.columns else "accuracy"
        st.altair_chart(alt.Chart(curves).mark_line(point=True).encode(
            x=alt.X("value:Q", title="parameter value"), y=alt.Y(f"{ycol}:Q", title="probe accuracy"),
            color=alt.Color("class:N")), width="stretch")
        sweep_name = pick.rsplit("/", 1)[-1]
        figures.download_buttons(st, lambda: figures.curves_figure(curves, ycol, figures.sweep_title(pick)),
                                 f"sweep-{sweep_name}", f"w.bias.fig_sweep.{sweep_name}")
        st.dataframe(report["slopes"].round(3), hide_index=True)

    running = sweep_jobs.read_status(pick).get("state") in sweep_jobs.ACTIVE
    st.fragment(run_every=3 if running else None)(follow)()
