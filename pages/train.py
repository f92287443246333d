"""Train: launch a short self-supervised training as a background job and follow it.

The page writes a run configuration and calls `ssrl_core.train.jobs.launch`; the job runs in its
own process and writes status.json / metrics.jsonl, which a fragment polls every 2 seconds. The
run folder is the source of truth: leave the page, come back, and the run is still followed.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st
import torch

from ssrl_app import checkpoints, loaders, page, state
from ssrl_app.core import message, plain_errors
from ssrl_app.uploads import sanitise, save_uploads
from ssrl_core.augment import PRESETS
from ssrl_core.methods import METHODS
from ssrl_core.models import BACKBONES
from ssrl_core.train import jobs
from ssrl_core.train.config import RunConfig
from ssrl_core.train.defaults import short_run_defaults

page.open_page("Train: teach a network what to ignore")
name = page.current_dataset()
METHOD_NAMES = sorted(METHODS)
BACKBONE_NAMES = sorted(BACKBONES, key=lambda b: b != "resnet18")  # the paper's default first
# Measured defaults (benchmarks/train_quality.md): on a CPU a small encoder, on a GPU ResNet18.
DEFAULTS = short_run_defaults("cuda" if torch.cuda.is_available() else "cpu")


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


sources = recipe_sources()
default_recipe = next((k for k in sources if k.startswith("Recipe A")),
                      f"preset: {page.default_presets(name)[0]}")
st.session_state.setdefault("w.train.recipes", [default_recipe] if default_recipe in sources else list(sources)[:1])
chosen = st.multiselect("Augmentation recipe(s)", list(sources), key="w.train.recipes",
                        help="With two recipes, each gets its own loss and the run minimises their weighted "
                             "sum (the paper's section 3.4).")

# Defaults live in session state (never as widget defaults), so values kept across pages
# (state.KEEP) never clash with a default.
for key, default in (("w.train.method", "moco_v2" if "moco_v2" in METHOD_NAMES else METHOD_NAMES[0]),
                     ("w.train.backbone", DEFAULTS["backbone"]), ("w.train.minutes", 3.0), ("w.train.freeze", 0),
                     ("w.train.epochs", 50), ("w.train.batch", DEFAULTS["batch_size"]),
                     ("w.train.crop", min(64, cells_hw())), ("w.train.lr", DEFAULTS["lr"]), ("w.train.seed", 0),
                     ("w.train.subset", 0)):
    st.session_state.setdefault(key, default)

starts = checkpoints.start_options(jobs.list_runs())
start_from = st.selectbox("Start from", list(starts), key="w.train.start",
                          help="Random weights learn everything from these cells. A shipped encoder or one of "
                               "your runs is fine-tuned: a few CPU-minutes then shift what it encodes.")
parent = starts.get(start_from, {})

with st.form("train_form"):
    st.caption(f"Training on **{Path(str(name)).name}**. Short runs are enough to see an effect.")
    c = st.columns(3)
    method = c[0].selectbox("Method", METHOD_NAMES, key="w.train.method")
    if parent.get("init"):
        backbone = parent["backbone"]
        c[1].text_input("Backbone (from the starting encoder)", value=f"{backbone}"
                        + (" per channel" if parent.get("per_channel") else ""), disabled=True)
    else:
        backbone = c[1].selectbox("Backbone", BACKBONE_NAMES, key="w.train.backbone")
    device = c[2].selectbox("Device", ["auto", "cpu", "cuda"], key="w.train.device",
                            help="auto uses the GPU when there is one")
    c = st.columns(3)
    minutes = c[0].number_input("Time budget (minutes, 0 = no limit)", 0.0, 10080.0, step=1.0, key="w.train.minutes",
                                help="The run ends after this many minutes of training (the learning rate decays "
                                     "over the budget), or after the epochs below, whichever comes first.")
    freeze = c[1].number_input("Keep the first stages fixed", 0, 8, key="w.train.freeze",
                               disabled=not parent.get("init"),
                               help="When fine-tuning: the first N stages of the encoder keep their weights, so "
                                    "a CPU run trains only the later ones (faster, keeps low-level features).")
    c = st.columns(4)
    epochs = c[0].number_input("Epochs", 1, 100000, key="w.train.epochs")
    batch = c[1].number_input("Batch size", 4, 4096, step=16, key="w.train.batch")
    crop = c[2].number_input("Crop size (px)", 16, 512, step=8, key="w.train.crop")
    lr = c[3].number_input("Learning rate", 1e-6, 1.0, format="%.5f", key="w.train.lr")
    c = st.columns(3)
    seed = c[0].number_input("Seed", 0, 10**6, key="w.train.seed")
    max_cells = c[1].number_input("Use at most this many cells (0 = all)", 0, 10**7, step=500,
                                  key="w.train.subset")
    run_name = c[2].text_input("Run name", value=f"{method}-{Path(str(name)).stem}", key="w.train.name")
    weights = {}
    if len(chosen) > 1:
        wc = st.columns(len(chosen))
        for col, label in zip(wc, chosen):
            weights[label] = col.number_input(f"Weight of {label.split(': ')[-1]}", 0.0, 10.0, 1.0, 0.1,
                                              key=f"w.train.weight.{label}")
    start = st.form_submit_button("Start training", type="primary")

if start:
    raw = {"name": run_name or "run", "data": {"name": str(name), "max_cells": int(max_cells) or None},
           "recipes": [dict(sources[k], weight=float(weights.get(k, 1.0))) for k in chosen if k in sources],
           "method": {"name": method, "params": DEFAULTS["method"]["params"] if method == DEFAULTS["method"]["name"]
                      else {}},
           "backbone": backbone, "crop_size": int(parent.get("crop_size") or crop), "epochs": int(epochs),
           "batch_size": int(batch), "lr": float(lr), "seed": int(seed), "device": device,
           "weight_decay": DEFAULTS["weight_decay"], "warmup_epochs": DEFAULTS["warmup_epochs"],
           "max_minutes": float(minutes) or None, **{k: v for k, v in parent.items() if k != "crop_size"}}
    if parent.get("init"):
        raw["freeze"] = int(freeze)
    with plain_errors("The run could not start"):
        if not raw["recipes"]:
            raise ValueError("choose at least one augmentation recipe.")
        run_dir = jobs.launch(RunConfig.from_dict(raw))
        state.put(state.ACTIVE_RUN, str(run_dir))
        st.toast(f"Started {Path(run_dir).name}")


def follow() -> None:
    """Progress, ETA, live loss chart and a stop button for the followed run."""
    run = state.get(state.ACTIVE_RUN)
    if not run:
        st.caption("No run followed yet: start one above, or pick one in the list below.")
        return
    status = jobs.read_status(run) or {}
    st.markdown(f"**{Path(run).name}**: {status.get('state', 'starting')}")
    done = float(status.get("progress") or 0.0)
    eta = status.get("eta") or status.get("eta_seconds")
    text = f"epoch {status.get('epoch', 0)} of {status.get('epochs', '?')}"
    if eta is not None and status.get("state") == "running":
        text += f" · about {int(float(eta)) // 60} min {int(float(eta)) % 60} s left"
    st.progress(min(max(done, 0.0), 1.0), text=text)
    if status.get("error"):
        st.error(f"The run failed: {status['error']}")
    metrics = jobs.read_metrics(run)
    if isinstance(metrics, pd.DataFrame) and not metrics.empty and "loss" in metrics.columns:
        x = "step" if "step" in metrics.columns else metrics.index.name or "index"
        df = metrics.reset_index() if x not in metrics.columns else metrics
        st.altair_chart(alt.Chart(df).mark_line().encode(x=alt.X(f"{x}:Q"), y=alt.Y("loss:Q", title="loss")),
                        width="stretch")
    c1, c2 = st.columns(2)
    if status.get("state") in ("running", "queued"):
        if c1.button("Stop this run", key="train.stop"):
            jobs.stop(run)
            st.toast("Asked the run to stop after the current step.")
    elif (Path(run) / "checkpoint.pt").is_file():
        if c1.button("Use this checkpoint", key="train.use"):
            state.put(state.CHECKPOINT, str(Path(run) / "checkpoint.pt"))
            st.rerun()


def _running() -> bool:
    run = state.get(state.ACTIVE_RUN)
    return bool(run) and (jobs.read_status(run) or {}).get("state") in ("running", "queued", None)


st.subheader("Progress")
st.fragment(run_every=2 if _running() else None)(follow)()

st.subheader("Runs")
runs = jobs.list_runs()
if runs:
    cols = ("name", "state", "epoch", "epochs", "loss", "method", "backbone", "dataset", "started")
    table = pd.DataFrame([{k: r.get(k) for k in cols} for r in runs])
    st.dataframe(table, hide_index=True, height=min(300, 40 + 35 * len(table)))
    pick = st.selectbox("Follow a run", [str(r.get("path") or r.get("run_dir")) for r in runs],
                        format_func=lambda p: Path(p).name, key="train.pick")
    if st.button("Follow this run"):
        state.put(state.ACTIVE_RUN, pick)
        st.rerun()
else:
    st.caption("No runs yet.")

st.subheader("Checkpoint in use")
t1, t2, t3 = st.tabs(["Shipped checkpoints", "From a run", "Upload a checkpoint"])
with t1:
    items = checkpoints.shipped()
    if not items:
        st.caption("No checkpoint ships with this installation yet (pretrained/index.json is empty).")
    for item in items:
        c1, c2 = st.columns([4, 1])
        c1.write(f"**{item['name']}**: {item['description']}")
        if c2.button("Use", key=f"train.ship.{item['path']}"):
            state.put(state.CHECKPOINT, item["path"])
            st.rerun()
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
        path = folder / sanitise(up.name)
        try:
            info = checkpoints.check(path)
            state.put(state.CHECKPOINT, str(path))
            st.success(f"Loaded: {checkpoints.describe(info)}.")
        except Exception as exc:  # a bad or foreign file: plain sentence
            st.error(f"This file cannot be used as a checkpoint: {message(exc)}")
