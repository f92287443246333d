"""The Train page's live views of runs: the followed run's progress and the table of runs.

Both are drawn inside `st.fragment(run_every=2)` while a run is going. When the followed run
changes state (starting -> running -> finished or stopped) the whole app is redrawn once, so the
sidebar's job list and the runs table never disagree with the progress bar. One run is in focus:
the box above the progress bar chooses it, the runs table marks it. The app's runs log every
step, so the step count, the time left and the loss curve show from the first step. A stop is a
normal end ("Stopped after step 12 of 250 (epoch 1 of 2); the last checkpoint is usable"), not a
failure.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from ssrl_app.shell import sidebar, state
from ssrl_core import jobs as job_layer
from ssrl_core.train import jobs
from ssrl_core.train import rundir as rd


def unique_name(wanted: str, runs: list[dict], exact: bool = False) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`… when a run already has that name: two runs never share
    a name. `exact=False` (the form's suggestion) numbers from the runs whose name starts alike."""
    taken = {str(r.get("name") or "") for r in runs}
    if wanted not in taken:
        return wanted
    stem = re.sub(r"-\d+$", "", wanted) if exact else wanted
    n = 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def run_labels(runs: list[dict]) -> dict[str, str]:
    """Each run's line in the focus box: its name, with its folder when two runs share a name.

    The line never holds the run's state: Streamlit (1.67) sends back the line the browser shows,
    and a line that changed since (running -> stopped) would come back as text, not as a run."""
    names = [str(r.get("name") or Path(str(r["path"])).name) for r in runs]
    return {str(r["path"]): n if names.count(n) == 1 else f"{n} ({Path(str(r['path'])).name})"
            for r, n in zip(runs, names)}


def focus_picker(runs: list[dict]) -> None:
    """The run in focus: a box listing every run, set to the followed run; choosing another
    follows it at once (the progress bar, the loss curve and the runs table's mark agree)."""
    if not runs:
        return
    paths = [str(r["path"]) for r in runs]
    active = state.get(state.ACTIVE_RUN)
    if active in paths:
        state.put("train.pick", active)
    elif state.get("train.pick") not in paths:
        state.pop("train.pick")
    labels = run_labels(runs)

    def chosen() -> None:
        if state.get("train.pick") in paths:  # anything else is not a run: keep following the current one
            state.put(state.ACTIVE_RUN, state.get("train.pick"))
    st.selectbox("Run in focus", paths, key="train.pick", format_func=labels.get, index=None,
                 placeholder="Choose a run to follow", on_change=chosen)


def progress_words(status: dict, now: str) -> str:
    """The progress bar's text: preparing (with the seconds so far), then step, epoch and the time
    left from the first step on."""
    if now == "queued" or (now == "running" and not status.get("step")):
        since = _seconds_since(status.get("started") or status.get("queued"))
        return ("preparing: loading the cells and the network" + (f" ({since} s)" if since is not None else "")
                + "; the first step's time comes next…")
    step, steps = status.get("step") or 0, status.get("total_steps")
    epoch, total = status.get("epoch") or 1, status.get("epochs", "?")
    text = f"step {step} of {steps}" if steps else f"step {step}"
    text += f" · epoch {epoch} of {total}"
    eta = status.get("eta_seconds")
    if eta is not None and now == "running":
        secs = int(round(float(eta)))
        text += f" · about {secs // 60} min {secs % 60} s left" if secs >= 60 else f" · about {secs} s left"
    return text


def _seconds_since(iso: str | None) -> int | None:
    from datetime import datetime
    try:
        t = datetime.fromisoformat(str(iso))
    except (TypeError, ValueError):
        return None
    return max(0, int(time.time() - t.timestamp())) if t.tzinfo else None


def stopped_words(status: dict) -> str:
    """"Stopped after step 12 of 250 (epoch 1 of 2); the last checkpoint is usable"."""
    step, steps = status.get("step"), status.get("total_steps")
    epoch, total = status.get("epoch"), status.get("epochs")
    where = f"after step {step}" + (f" of {steps}" if steps else "") if step is not None else ""
    if epoch and total:
        where += f" (epoch {epoch} of {total})" if where else f"in epoch {epoch} of {total}"
    usable = "the last checkpoint is usable" if status.get("has_checkpoint") else "no checkpoint was saved yet"
    return f"Stopped {where}; {usable}."


def loss_chart(metrics: pd.DataFrame) -> alt.Chart:
    """The loss per step, readable from its first point: points on the line, whole-number steps,
    a loss axis with 3 significant digits that does not start at 0."""
    x = "step" if "step" in metrics.columns else metrics.index.name or "index"
    df = metrics.reset_index() if x not in metrics.columns else metrics
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=30)).encode(
        x=alt.X(f"{x}:Q", title="training step", axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False, nice=True),
                axis=alt.Axis(format=".3~g", tickCount=5, labelOverlap=True)),
        tooltip=[alt.Tooltip(f"{x}:Q", title="step"), alt.Tooltip("loss:Q", format=".4f")]).properties(height=260)


def follow() -> None:
    """Progress, ETA, live loss chart and a stop button for the followed run."""
    run = state.get(state.ACTIVE_RUN)
    if not run:
        st.caption("No run followed yet: start one above, or pick one in the list below.")
        return
    if not Path(run).is_dir():  # the folder was moved or deleted while the page followed it
        state.pop(state.ACTIVE_RUN)
        st.caption(f"The run followed before (`{Path(run).name}`) is no longer in the runs folder: choose "
                   "another one in the box above.")
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
    st.markdown(f"**{status.get('name') or Path(run).name}**: {words.get(now, now)} · `{Path(run).name}`")
    done = float(status.get("progress") or 0.0)
    epoch, total = status.get("epoch") or 0, status.get("epochs", "?")
    st.progress(1.0 if now == "finished" else min(max(done, 0.0), 1.0), text=progress_words(status, now))
    if now == "stopped":
        st.info(stopped_words(status))
    elif now == "finished":
        st.success(f"Finished: {epoch} of {total} epochs" + (" (the time budget ended it)" if epoch and
                   str(epoch) != str(total) else "") + ".")
    elif status.get("error"):
        st.error(f"The run failed: {status['error']}")
    metrics = jobs.read_metrics(run)
    if (not isinstance(metrics, pd.DataFrame) or metrics.empty) and now in ("queued", "running"):
        st.caption("The loss curve appears after the first logged steps (a few seconds after the start).")
    if isinstance(metrics, pd.DataFrame) and not metrics.empty and "loss" in metrics.columns:
        st.altair_chart(loss_chart(metrics), width="stretch")
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
    return bool(run) and Path(run).is_dir() and job_layer.is_active(jobs.read_status(run))


def runs_table() -> None:
    """Every run with its state, re-read every 2 s while one is going."""
    runs = jobs.list_runs()
    focus = state.get(state.ACTIVE_RUN)

    def done(r: dict) -> str:
        step, steps = r.get("step"), r.get("total_steps")
        return f"{step} / {steps}" if step and steps else ("preparing" if r.get("state") in ("queued",
                                                                                         "running") else "")
    # The columns that fit a 1024-px screen; the rest (backbone, start time…) is in each run's folder.
    table = pd.DataFrame([{"in focus": "yes" if str(r.get("path")) == str(focus) else "", "name": r.get("name"),
                           "state": r.get("state"), "steps": done(r), "loss": r.get("loss"),
                           "method": r.get("method"), "dataset": r.get("dataset")} for r in runs])
    table["state"] = table["state"].replace({"queued": "starting"})
    table["loss"] = pd.to_numeric(table["loss"], errors="coerce").round(3)
    st.dataframe(table, hide_index=True, height=min(300, 40 + 35 * len(table)), column_config=RUNS_COLUMNS)


# Fixed widths (px) that add up to the main column at 1024 px (562 px beside the sidebar): sized by
# content, the table grew wider than the screen as the step count and the loss gained digits. Longer
# names end in "…"; a wider screen shares out the rest.
RUNS_COLUMNS = {"in focus": st.column_config.TextColumn(width=62), "name": st.column_config.TextColumn(width=128),
                "state": st.column_config.TextColumn(width=72),
                "steps": st.column_config.TextColumn(width=88, help="steps done / steps planned"),
                "loss": st.column_config.NumberColumn(width=60), "method": st.column_config.TextColumn(width=72),
                "dataset": st.column_config.TextColumn(width=72)}
