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

from ssrl_app.shell import analysis, charts, checkpoints, estimate, figures, loaders, page, selection, state
from ssrl_app.shell import labels as plain
from ssrl_app.shell.errors import message
from ssrl_core import augment
from ssrl_core import evaluate as ev
from ssrl_core.models import BACKBONES
from ssrl_core.sweeps import jobs as sweep_jobs
from ssrl_core.sweeps import runner as sweep_runner
from ssrl_core.train.defaults import short_run_defaults

page.open_page("Bias: what has the representation learned to see?")
# A sweep that fits a demo on this machine: the measured short-run backbone, 500 cells, 1 seed.
DEMO = {"backbone": short_run_defaults()["backbone"], "cells": 500}
name, cells = page.current_cells()
within = page.selected(name)
st.caption(f"Cells in use: {selection.summary(name)} (choose them on the Data page).")
choices = page.representations(cells)

st.subheader("Factor probe")
c = st.columns([3, 2, 1], vertical_alignment="bottom")
enc_label = c[0].selectbox("Representation", list(choices), key="w.bias.encoder")
with c[1]:
    n_cells = page.cells_input("Cells", "w.bias.cells", len(within), low=20, step=100)
go = c[2].button("Measure", type="primary")
index = analysis.subset_index(name, int(n_cells), within=within)
shipped_item = next((i for i in checkpoints.shipped() if i["path"] == choices[enc_label]), None)
if shipped_item is not None:
    selection.scored_button(shipped_item, st, "bias.scored")
key = hashlib.sha1(f"{name}|{choices[enc_label]}|{index.tobytes().hex()}".encode()).hexdigest()[:16]

if go:
    bar = st.progress(0.0, text="Embedding the cells…")
    try:
        feats = analysis.embed(name, index, choices[enc_label],
                               progress=lambda f: bar.progress(min(float(f), 1.0) * 0.7, text=f"Embedding… {f:.0%}"))
        bar.progress(0.6, text="Measuring size, brightness and nuclei on the images…")
        sel_meta = cells.meta.iloc[index].reset_index(drop=True)
        table = ev.factor_table(feats, sel_meta, cells, index, ranges=loaders.ranges(name))
        random_name, random_table = analysis.random_twin(choices[enc_label]), None
        if random_name:  # the same network with random weights: what the training added
            bar.progress(0.8, text="The same network with random weights, for comparison…")
            random_table = ev.factor_table(analysis.embed(name, index, random_name), sel_meta, cells, index,
                                           ranges=loaders.ranges(name))
        state.put(state.BIAS_RESULT, {"key": key, "dataset": name, "label": enc_label, "table": table,
                                       "encoder": choices[enc_label], "random": random_table,
                                       "random_name": random_name})
    except Exception as exc:  # a checkpoint that does not fit, too few cells: say it plainly
        st.error(f"The factor probe could not run: {message(exc)}")
    bar.empty()

res = state.get(state.BIAS_RESULT)
if res and res["dataset"] == name:
    table = res["table"]
    st.success(plain.bias_verdict(table, res.get("random")))
    st.caption(f"Representation: **{res['label']}**. Score: balanced accuracy for categories (chance = 1 / number "
               "of values), R² (share of the variation explained) for measurements, always on plates (or wells) "
               "the probe did not train on, after normalising each plate to its controls."
               + (f" Compared with the same network with random weights (`{res['random_name']}`)."
                  if res.get("random_name") else ""))
    show = table.copy()
    if res.get("random") is not None:
        show = show.merge(res["random"][["factor", "probe_score"]].rename(
            columns={"probe_score": "random weights"}), on="factor", how="left")
    # The columns a biologist reads, short enough for a 1024-px screen (the kind is the charts'
    # colour); no "values" column: for a measurement it was the number of bins of an internal test.
    shown = show.assign(factor=show["factor"].map(plain.factor_name),
                        probe_metric=show["probe_metric"].map(lambda m: "R²" if str(m) == "r2" else "accuracy"))
    words = {"factor": "factor", "probe_score": "score", "probe_metric": "score type", "chance": "chance",
             "random weights": "random weights"}
    st.dataframe(shown[[c for c in words if c in shown.columns]].rename(columns=words).round(3), hide_index=True)
    named = show.assign(factor=show["factor"].map(plain.factor_name),
                        kind=show["kind"].map(lambda v: plain.VALUES.get(str(v), v)))
    domain = charts.domain_of(named["kind"])
    # Accuracy (categories) and R² (measurements) are different scores: one chart each, never one axis.
    for metric, title in (("r2", "measurements: R² (share of the variation explained; 0 = none)"),
                          (None, "categories: balanced accuracy (black tick: chance)")):
        part = named[named["probe_metric"].astype(str).eq("r2") == (metric == "r2")]
        if part.empty:
            continue
        chart = alt.Chart(part).mark_bar().encode(
            x=alt.X("probe_score:Q", title=title, scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("factor:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
            color=alt.Color("kind:N", title="factor kind", scale=charts.category_scale(domain),
                            legend=alt.Legend(orient="bottom")),
            tooltip=["factor", "kind", alt.Tooltip("probe_score:Q", format=".3f", title="score"),
                     alt.Tooltip("chance:Q", format=".3f")])
        ticks = alt.Chart(part).mark_tick(color="black", thickness=2, size=14).encode(
            x="chance:Q", y=alt.Y("factor:N", sort="-x"))
        st.altair_chart((chart + ticks).properties(height=28 * len(part) + 150), width="stretch")
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
    suggested = sweep_runner.even_values(spec.low, spec.high, spec.default, integer=spec.kind == "int")
    with st.form("sweep_form"):
        c = st.columns(2)
        values_text = c[0].text_input("Values (comma separated)", ", ".join(f"{v:g}" for v in suggested),
                                      key=f"w.bias.values.{target}",
                                      help=f"Valid range: {spec.low:g} to {spec.high:g}"
                                      if spec.low is not None and spec.high is not None else None)
        meta_cols = analysis.label_columns(cells.meta)
        column = c[1].selectbox("Classes from column", meta_cols or ["label"], key="w.bias.column")
        c = st.columns(4)
        seeds = c[0].number_input("Repeats per value (seeds)", 1, 10, 1, key="w.bias.seeds",
                                  help="Each repeat trains again with another random seed: more repeats, "
                                       "surer curves, longer sweep")
        epochs = c[1].number_input("Passes per run (epochs)", 1, 200, 2, key="w.bias.epochs")
        n_sel = len(within)
        max_cells = c[2].number_input("Cells per run", min(50, n_sel), max(50, n_sel), min(DEMO["cells"], n_sel),
                                      step=100, key="w.bias.max_cells", help="Drawn from the cells in use")
        backbones = list(BACKBONES)
        backbone = c[3].selectbox("Network (backbone)", backbones, index=backbones.index(DEMO["backbone"])
                                  if DEMO["backbone"] in backbones else 0, key="w.bias.backbone",
                                  format_func=plain.short_backbone, help=plain.help_for("backbone", backbones))
        b = st.container(horizontal=True, gap="small")
        submitted = b.form_submit_button("Start the sweep", type="primary")
        check_time = b.form_submit_button("Estimate the time")
    try:
        values = sweep_runner.parse_values(values_text, integer=spec.kind == "int")
        sweep = sweep_runner.recipe_sweep(name, recipe.to_dict(), step_name, param, values, seeds=int(seeds),
                                epochs=int(epochs), max_cells=int(max_cells), backbone=backbone,
                                probe_column=column, image_size=cells.shape[0])
        sweep["base"]["data"]["filter"] = selection.train_filter(name)
        base = {**sweep["base"], "device": "auto"}
        rate = estimate.known_rate(base, page.runs())
        if rate is None and check_time:
            with st.spinner("Measuring this machine's training speed (4 steps)…"):
                rate = estimate.measure(base)
        if rate is not None:
            one = estimate.run_seconds(min(int(max_cells), len(within)), int(epochs), base["batch_size"], rate)
            n_runs = len(values) * int(seeds)
            st.info(f"Estimated time on this machine: **{estimate.words(n_runs * (one + estimate.PROBE_S))}** "
                    f"({n_runs} short runs of {estimate.words(one)}, at a measured {rate:.0f} cell pairs per second).")
        else:
            st.caption("Press *Estimate the time* for a measured estimate before starting.")
        if submitted:
            state.put(state.SWEEP_RUN, str(sweep_jobs.launch(sweep, f"{step_name}-{param}")))
    except Exception as exc:  # bad values, bad config, held-out cells: plain words
        st.error(f"The sweep {'could not start' if submitted else 'is not ready'}: {message(exc)}")

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
        results = sweep_runner.read_results(pick)
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
            color=alt.Color("class:N", scale=charts.category_scale(charts.domain_of(curves["class"])))),
            width="stretch")
        sweep_name = pick.rsplit("/", 1)[-1]
        figures.download_buttons(st, lambda: figures.curves_figure(curves, ycol, figures.sweep_title(pick)),
                                 f"sweep-{sweep_name}", f"w.bias.fig_sweep.{sweep_name}")
        st.dataframe(report["slopes"].round(3), hide_index=True)

    running = sweep_jobs.read_status(pick).get("state") in sweep_jobs.ACTIVE
    st.fragment(run_every=3 if running else None)(follow)()

from ssrl_app.bias import class_bias_view  # noqa: E402 - the section 3.1 views come last on the page

class_bias_view.show()
