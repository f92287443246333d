"""Train: launch a short self-supervised training as a background job and follow it.

The page writes a run configuration and calls `ssrl_core.train.jobs.launch`; the job runs in its
own process and writes status.json / metrics.jsonl, which a fragment polls every 2 seconds. The
run folder is the source of truth: leave the page, come back, and the run is still followed.

The form is drawn from the declared run fields (`ssrl_core.train.fields`: caption, range, help)
and each method's own settings (`method_params`, under *Method settings*); it starts from the
short run (`ssrl_core.train.defaults`), the same run `ssrl train` starts without a config file.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ssrl_app.shell import checkpoints, estimate, loaders, page, selection, sidebar, state
from ssrl_app.shell import labels as plain
from ssrl_app.shell.errors import message, plain_errors
from ssrl_app.shell.uploads import save_uploads
from ssrl_app.train import run_view
from ssrl_core.augment import PRESETS
from ssrl_core.data.names import safe_filename
from ssrl_core.devices import resolve_device
from ssrl_core.methods import default_params, method_params
from ssrl_core.params import Param
from ssrl_core.train import jobs
from ssrl_core.train.config import RunConfig
from ssrl_core.train.defaults import short_run_defaults
from ssrl_core.train.fields import FIELDS, value_in

page.open_page("Train: teach a network what to ignore")
name, cells = page.current_cells()
within = page.selected(name)
METHOD_NAMES = sorted(FIELDS["method.name"].choices)
BACKBONE_NAMES = sorted(FIELDS["backbone"].choices, key=lambda b: b != "resnet18")  # the paper's default first
# The short run `ssrl train` starts without a config file (measured: on a CPU a small encoder, on
# a GPU ResNet18; benchmarks/train_quality.md): the page shows it first.
SHORT = short_run_defaults(resolve_device("auto")[0].type)


def cells_hw() -> int:
    """The crop side of the current dataset (64 when unknown)."""
    info = next((d for d in loaders.dataset_list() if d["name"] == name), {})
    return int(info.get("height") or 64)


def recipe_sources() -> dict[str, dict]:
    """Recipes the user can train with: the Augment page's recipes, then the paper's presets."""
    out: dict[str, dict] = {}
    for key, label in ((state.RECIPE_A, "Recipe A (Augment page)"), (state.RECIPE_B, "Recipe B (Augment page)")):
        r = state.get(key)
        if r is not None:
            out[f"{label}: {r.name}"] = {"recipe": r.to_dict()}
    for preset in PRESETS:
        out[f"preset: {preset}"] = {"preset": preset}
    return out


def number(box, path: str, key: str, **kw):
    """A number box for the run field `path`, with its declared range, caption and help (a field that
    may be left out starts at 0, meaning "left out")."""
    spec = FIELDS[path]
    low = type(spec.low)(0) if spec.optional else spec.low
    return box.number_input(spec.label or path, low, spec.high, key=key, help=spec.help, **kw)


def setting(box, pname: str, spec: Param, key: str):
    """One widget for a method parameter, limited to its declared range."""
    label = spec.label or pname.replace("_", " ")
    if spec.kind == "bool":
        return box.checkbox(label, key=key, help=spec.help)
    kind = int if spec.kind == "int" else float
    low, high = (None if v is None else kind(v) for v in (spec.low, spec.high))
    return box.number_input(label, low, high, key=key, help=spec.help, format=None if kind is int else "%g")


sources = recipe_sources()
default_recipe = next((k for k in sources if k.startswith("Recipe A")),
                      f"preset: {page.default_presets(name)[0]}")
state.setdefault("w.train.recipes", [default_recipe] if default_recipe in sources else list(sources)[:1])
chosen = st.multiselect("Augmentation recipe(s)", list(sources), key="w.train.recipes",
                        help="With two recipes, each gets its own loss and the run minimises their weighted "
                             "sum (the paper's section 3.4).")

# Defaults live in session state (never as widget defaults), so values kept across pages
# (state.KEEP) never clash with a default.
for key, path in (("w.train.method", "method.name"), ("w.train.backbone", "backbone"), ("w.train.device", "device"),
                  ("w.train.freeze", "freeze"), ("w.train.epochs", "epochs"), ("w.train.batch", "batch_size"),
                  ("w.train.lr", "lr"), ("w.train.seed", "seed")):
    state.setdefault(key, value_in(SHORT, path))
state.setdefault("w.train.minutes", value_in(SHORT, "max_minutes") or 0.0)
state.setdefault("w.train.subset", value_in(SHORT, "data.max_cells") or 0)
state.setdefault("w.train.crop", min(value_in(SHORT, "crop_size"), cells_hw()))

starts = checkpoints.start_options(jobs.list_runs())
misfits = {k: why for k, v in starts.items() if (why := checkpoints.start_misfit(v, cells.shape[2], cells.shape[0]))}
starts = {k: v for k, v in starts.items() if k not in misfits}
if state.get("w.train.start") not in starts:
    state.pop("w.train.start")
start_from = st.selectbox("Start from", list(starts), key="w.train.start",
                          help="Random weights learn everything from these cells. A shipped encoder or one of "
                               "your runs is fine-tuned: a few CPU-minutes then shift what it encodes.")
parent = starts.get(start_from, {})
if misfits:
    with st.expander(f"{len(misfits)} encoder(s) cannot start a run on these cells"):
        st.markdown("\n".join(f"- **{k}**: {why}" for k, why in misfits.items()))
method = st.selectbox(FIELDS["method.name"].label, METHOD_NAMES, key="w.train.method",
                      help=plain.help_for("method", METHOD_NAMES), format_func=plain.short_method)
SPECS = method_params(method)
starting = {**default_params(method), **(SHORT["method"]["params"] if method == SHORT["method"]["name"] else {})}
for pname, spec in SPECS.items():
    state.setdefault(f"w.train.mp.{method}.{pname}",
                     float(starting[pname]) if spec.kind == "float" else starting[pname])

with st.form("train_form"):
    st.caption(f"Training on **{Path(str(name)).name}**: {selection.summary(name)} (choose them on the Data "
               "page). Short runs are enough to see an effect.")
    c = st.columns(3)
    if parent.get("init"):
        backbone = parent["backbone"]
        c[0].text_input("Backbone (from the starting encoder)", value=f"{backbone}"
                        + (" per channel" if parent.get("per_channel") else ""), disabled=True)
    else:
        backbone = c[0].selectbox(FIELDS["backbone"].label, BACKBONE_NAMES, key="w.train.backbone",
                                  help=plain.help_for("backbone", BACKBONE_NAMES), format_func=plain.short_backbone)
    device = c[1].selectbox(FIELDS["device"].label, FIELDS["device"].choices, key="w.train.device",
                            help=FIELDS["device"].help)
    run_name = c[2].text_input(FIELDS["name"].label, value=run_view.unique_name(f"{method}-{Path(str(name)).stem}",
                                                                             jobs.list_runs()),
                               key="w.train.name", help="Each run gets its own name (a number is added to a name "
                                                        "already used)")
    c = st.columns(3)
    minutes = number(c[0], "max_minutes", "w.train.minutes", step=1.0)
    freeze = number(c[1], "freeze", "w.train.freeze", disabled=not parent.get("init"))
    c = st.columns([1, 1, 1, 1.3])  # the learning rate (0.00030) needs the widest box
    epochs = number(c[0], "epochs", "w.train.epochs")
    batch = number(c[1], "batch_size", "w.train.batch", step=16)
    crop = number(c[2], "crop_size", "w.train.crop", step=8)
    lr = number(c[3], "lr", "w.train.lr", format="%.5f")
    c = st.columns(3)
    seed = number(c[0], "seed", "w.train.seed")
    max_cells = number(c[1], "data.max_cells", "w.train.subset", step=500)
    with st.expander(f"Method settings ({plain.short_method(method)})"):
        mc = st.columns(3)
        params = {p: setting(mc[i % 3], p, spec, f"w.train.mp.{method}.{p}")
                  for i, (p, spec) in enumerate(SPECS.items())}
    weights = {}
    if len(chosen) > 1:
        wc = st.columns(len(chosen))
        for col, label in zip(wc, chosen):
            weights[label] = number(col, "recipes.weight", f"w.train.weight.{label}", step=0.1,
                                    value=FIELDS["recipes.weight"].default)
    b = st.container(horizontal=True, gap="small")
    start = b.form_submit_button("Start training", type="primary")
    check_time = b.form_submit_button("Estimate the time", help="Trains 4 steps of this set-up in the "
                                         "background to measure this machine's speed (10-15 s once per set-up "
                                         "and machine; it starts by itself when this page opens)")


def run_config() -> dict:
    """The run configuration the form describes: the short run, with the form's settings and the
    cells in use (method settings only where they differ from the method's defaults)."""
    changed = {p: v for p, v in params.items() if v != SPECS[p].default}
    raw = {**SHORT, "name": run_name or "run",
           "data": {"name": str(name), "max_cells": int(max_cells) or None, "filter": selection.train_filter(name)},
           "recipes": [dict(sources[k], weight=float(weights.get(k, FIELDS["recipes.weight"].default)))
                       for k in chosen if k in sources],
           "method": {"name": method, "params": changed},
           "backbone": backbone, "crop_size": int(parent.get("crop_size") or crop), "epochs": int(epochs),
           "batch_size": int(batch), "lr": float(lr), "seed": int(seed), "device": device,
           "max_minutes": float(minutes) or None, **{k: v for k, v in parent.items() if k != "crop_size"}}
    if parent.get("init"):
        raw["freeze"] = int(freeze)
    if not raw["recipes"]:
        raise ValueError("choose at least one augmentation recipe.")
    return raw


def time_line(raw: dict, measure: bool) -> None:
    """The estimated time of this run on this machine (measuring the speed when asked)."""
    rate = estimate.known_rate(raw, jobs.list_runs())
    if rate is None and measure:
        bar = st.progress(0.0, text="Measuring this machine's speed…")
        try:
            rate = estimate.measure(raw, progress=lambda share, words: bar.progress(share, text=words))
        finally:
            bar.empty()
    elif rate is None:
        estimate.warm(raw)  # measured in the background now, so the click on Estimate is short
    if rate is None:
        st.caption(f"Time: at most {minutes:g} min (the budget). Press *Estimate the time* for a measured "
                   "estimate." if minutes else "Press *Estimate the time* for a measured estimate.")
        return
    n = min(len(within), int(max_cells) or len(within))
    secs = estimate.run_seconds(n, int(epochs), int(batch), rate, float(minutes) or None)
    st.info(f"Estimated time on this machine: **{estimate.words(secs)}** ({n:,} cells × {int(epochs)} passes at "
            f"a measured {rate:.0f} cell pairs per second" + (f"; the {minutes:g}-minute budget ends it first"
                                                               if minutes and secs - estimate.STARTUP_S >= minutes * 60
                                                               else "") + ").")


if selection.HELDOUT in selection.filters(name):
    st.warning("The cells in use are the held-out cells a shipped checkpoint was scored on: training on them "
               "would spoil that check. Choose other cells on the Data page (or *Use all cells* in the sidebar).")
else:
    with plain_errors("The time could not be estimated"):
        time_line(run_config(), check_time)
if start:
    with plain_errors("The run could not start"):
        raw = run_config()
        raw["name"] = run_view.unique_name(str(raw["name"]), jobs.list_runs(), exact=True)
        run_dir = jobs.launch(RunConfig.from_dict(raw))
        state.put(state.ACTIVE_RUN, str(run_dir))
        state.put("train.pick", str(run_dir))  # the list below shows the run in focus
        sidebar.running_jobs.clear()
        st.toast(f"Started {Path(run_dir).name}")


st.subheader("Progress")
runs = jobs.list_runs()
run_view.focus_picker(runs)  # one run in focus: the one below, marked in the runs table
st.fragment(run_every=2 if run_view.running() else None)(run_view.follow)()

st.subheader("Runs")
if runs:
    st.fragment(run_every=2 if any(r.get("state") in ("queued", "running") for r in runs) else None)(run_view.runs_table)()
else:
    st.caption("No runs yet.")

st.subheader("Checkpoint in use")
t1, t2, t3 = st.tabs(["Shipped checkpoints", "From a run", "Upload a checkpoint"])
with t1:
    items = checkpoints.shipped()
    if not items:
        st.caption("No checkpoint ships with this installation yet (pretrained/index.json is empty).")
    fit = {i["path"]: checkpoints.misfit(checkpoints.facts(i["path"]), cells.shape[2], cells.shape[0]) for i in items}
    for item in sorted(items, key=lambda i: fit[i["path"]] is not None):
        why = fit[item["path"]]
        st.write(f"**{item['name']}**: {item['description']}" + (f"  \n:orange[Does not fit these cells: {why}.]"
                                                                  if why else ""))
        row = st.container(horizontal=True, gap="small")
        if row.button("Use", key=f"train.ship.{item['path']}", disabled=why is not None):
            state.put(state.CHECKPOINT, item["path"])
            st.rerun()
        selection.scored_button(item, row, f"train.scored.{item['name']}")
with t2:
    done_runs = checkpoints.finished_runs(runs)
    if done_runs:
        sel = st.selectbox("Run", [r["path"] for r in done_runs],
                           format_func=lambda p: next(r["name"] for r in done_runs if r["path"] == p))
        if st.button("Use this run's checkpoint"):
            state.put(state.CHECKPOINT, sel)
            st.rerun()
    else:
        st.caption("No run has saved a checkpoint yet.")
with t3:
    up = st.file_uploader("A checkpoint file (.pt)", type=["pt", "pth", "ckpt"], key="train.upload")
    if up is not None and st.button("Check and use it"):
        folder = save_uploads([up], state.session_id(), "checkpoints")
        path = folder / safe_filename(up.name)
        try:
            info = checkpoints.check(path)
            state.put(state.CHECKPOINT, str(path))
            st.success(f"Loaded: {checkpoints.describe(info)}.")
        except Exception as exc:  # a bad or foreign file: plain sentence
            st.error(f"This file cannot be used as a checkpoint: {message(exc)}")
