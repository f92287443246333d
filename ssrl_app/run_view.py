"""The Train page's live views of runs: the followed run's progress and the table of runs.

Both are drawn inside `st.fragment(run_every=2)` while a run is going. When the followed run
changes state (starting -> running -> finished or stopped) the whole app is redrawn once, so the
sidebar's job list and the runs table never disagree with the progress bar. A stop is a normal
end ("Stopped at epoch 3 of 5; the last checkpoint is usable"), not a failure.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from ssrl_app import sidebar, state
from ssrl_core import jobs as job_layer
from ssrl_core.train import jobs
from ssrl_core.train import rundir as rd


def follow() -> None:
    """Progress, ETA, live loss chart and a stop button for the followed run."""
    run = state.get(state.ACTIVE_RUN)
    if not run:
        st.caption("No run followed yet: start one above, or pick one in the list below.")
        return
    status = jobs.read_status(run) or {}
    now = str(status.get("state", "queued"))
    seen = dict(state.get(state.RUN_SEEN) or {})
    if seen.get(run) not in (None, now):  # queued -> running -> finished: redraw the whole page and sidebar
        seen[run] = now
        state.put(state.RUN_SEEN, seen)
        sidebar.running_jobs.clear()
        st.rerun(scope="app")
    seen[run] = now
    state.put(state.RUN_SEEN, seen)
    words = {"queued": "starting", "running": "running", "finished": "finished", "stopped": "stopped",
             "failed": "failed"}
    st.markdown(f"**{Path(run).name}**: {words.get(now, now)}")
    done = float(status.get("progress") or 0.0)
    eta = status.get("eta_seconds")
    epoch, total = status.get("epoch") or 0, status.get("epochs", "?")
    text = "starting (loading the cells and the network)…" if now == "queued" else f"epoch {epoch} of {total}"
    if eta is not None and now == "running":
        text += f" · about {int(float(eta)) // 60} min {int(float(eta)) % 60} s left"
    st.progress(1.0 if now == "finished" else min(max(done, 0.0), 1.0), text=text)
    if now == "stopped":
        usable = "the last checkpoint is usable" if status.get("has_checkpoint") else "no checkpoint was saved yet"
        st.info(f"Stopped at epoch {epoch} of {total}; {usable}.")
    elif now == "finished":
        st.success(f"Finished: {epoch} of {total} epochs" + (" (the time budget ended it)" if epoch and
                   str(epoch) != str(total) else "") + ".")
    elif status.get("error"):
        st.error(f"The run failed: {status['error']}")
    metrics = jobs.read_metrics(run)
    if (not isinstance(metrics, pd.DataFrame) or metrics.empty) and now in ("queued", "running"):
        st.caption("The loss curve appears after the first logged steps (a few seconds after the start).")
    if isinstance(metrics, pd.DataFrame) and not metrics.empty and "loss" in metrics.columns:
        x = "step" if "step" in metrics.columns else metrics.index.name or "index"
        df = metrics.reset_index() if x not in metrics.columns else metrics
        st.altair_chart(alt.Chart(df).mark_line().encode(x=alt.X(f"{x}:Q", title="training step"),
                                                         y=alt.Y("loss:Q", title="loss")), width="stretch")
        if str(status.get("method", "")) == "moco_v2":
            st.caption("MoCo's loss often rises at first: its memory of past cells fills with harder "
                       "comparisons. That is expected; what counts is the Explore and Bias result.")
    c1, c2 = st.columns(2)
    if status.get("state") in ("running", "queued"):
        if c1.button("Stop this run", key="train.stop"):
            jobs.stop(run)
            st.toast("Asked the run to stop after the current step.")
    elif (Path(run) / rd.CHECKPOINT).is_file():
        if c1.button("Use this checkpoint", key="train.use"):
            state.put(state.CHECKPOINT, str(Path(run) / rd.CHECKPOINT))
            st.rerun()


def running() -> bool:
    """Whether the followed run is still starting or running."""
    run = state.get(state.ACTIVE_RUN)
    return bool(run) and job_layer.is_active(jobs.read_status(run))


def runs_table() -> None:
    """Every run with its state, re-read every 2 s while one is going."""
    cols = ("name", "state", "epoch", "epochs", "loss", "method", "backbone", "dataset", "started")
    table = pd.DataFrame([{k: r.get(k) for k in cols} for r in jobs.list_runs()])
    table["state"] = table["state"].replace({"queued": "starting"})
    st.dataframe(table, hide_index=True, height=min(300, 40 + 35 * len(table)))
