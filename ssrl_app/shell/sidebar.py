"""The sidebar every page shares: dataset, checkpoint in use, device, weights, running jobs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ssrl_app.shell import checkpoints, loaders, selection, state
from ssrl_app.shell.errors import message
from ssrl_core.jobs import ACTIVE
from ssrl_core.paths import data_dir_problem


def dataset_picker() -> str | None:
    """The dataset selectbox (default: the shipped labelled sample `mitocheck_demo`), then the
    cells in use (the Data page's filters); returns the chosen name."""

    problem = data_dir_problem()
    if problem:
        st.sidebar.warning(problem)
    try:
        items = loaders.dataset_list()
    except Exception as exc:  # the registry is broken or missing: say so, keep the app usable
        st.sidebar.warning(f"Could not list datasets: {message(exc)}")
        return None
    names = [d["name"] for d in items] + list(state.get(state.EXTRA_DATASETS, []))
    pending = state.pop(state.PENDING_DATASET)
    if pending in names:
        state.put(state.DATASET, pending)
    if not names:
        st.sidebar.warning("No dataset found. Run `ssrl setup` or import images on the Data page.")
        return None
    if state.get(state.DATASET) not in names:
        state.put(state.DATASET, loaders.default_dataset(names))
    info = {d["name"]: d for d in items}

    def label(name: str) -> str:
        return box_label(f"{Path(name).name} (imported)" if name not in info else name)

    chosen = st.sidebar.selectbox("Dataset", names, key=state.DATASET, format_func=label,
                                  help="The cells every page works on; choose which of them on the Data page.")
    d = info.get(chosen, {})
    facts = f"{d.get('height', '?')}×{d.get('width', '?')} px, {d.get('channels', '?')} channel(s)" if d else ""
    try:
        text = selection.summary(chosen)
    except Exception:  # an unreadable dataset: the page says why
        text = ""
    if text:
        full = f"**{Path(str(chosen)).name}**: " if box_label(str(chosen)) != str(chosen) else ""
        st.sidebar.caption(f"{full}Cells in use: {text}" + (f" · {facts}" if facts else ""))
        if selection.filters(chosen) and st.sidebar.button("Use all cells", key="sidebar.all_cells"):
            selection.use(chosen, {})
            st.rerun()
    return chosen


@st.cache_data(ttl=2, show_spinner=False)
def running_jobs() -> list[dict]:
    """Runs whose state is running or queued (empty when the runs cannot be listed)."""
    from ssrl_core.train import jobs
    try:
        return [r for r in jobs.list_runs() if str(r.get("state", "")) in ACTIVE]
    except Exception:
        return []


def render_status() -> None:
    """Checkpoint in use, device, weights and running jobs (app.py draws these after the page,
    so the page shows before torch is imported for the device line)."""
    sb = st.sidebar
    ckpt = state.get(state.CHECKPOINT)
    sb.caption("Checkpoint in use: " + (f"`{_short(ckpt)}`" if ckpt else "none yet (pick one on Train or Explore)"))
    why = checkpoint_misfit(ckpt, state.get(state.DATASET))
    if why:
        sb.warning(f"The checkpoint in use does not fit {state.get(state.DATASET)}: {why}. Pick another on Train "
                   "or Explore.")
    sb.caption(f"Compute: {loaders.device_text()}")
    status = loaders.weights_status()
    if status:
        missing = [k for k, ok in status.items() if not ok]
        if missing:
            sb.caption("ImageNet/LPIPS weights missing: " + ", ".join(missing) + " (run `ssrl setup`).")
        else:
            sb.caption("ImageNet/LPIPS weights: ready")
    else:
        sb.caption("ImageNet/LPIPS weights: status unknown")
    with sb:  # re-read every 2 s while a job runs: the step count moves with the Train page's bar
        st.fragment(run_every=2 if running_jobs() else None)(job_lines)()


def job_lines() -> None:
    """"Running jobs: 1" and one line per job ("• demo: step 12 of 250 (epoch 1 of 2)")."""
    jobs = running_jobs()
    if jobs:
        st.caption(f"Running jobs: {len(jobs)}")
        for r in jobs[:5]:
            st.caption(f"• {r.get('name', _short(str(r.get('path', ''))))}: {_job_words(r)}")
    else:
        st.caption("Running jobs: none")


BOX_CHARS = 26  # what the sidebar's select box shows uncut (about 200 px at its font)


def box_label(name: str) -> str:
    """A dataset name short enough for the sidebar's box, cut in the middle where it is longer
    ("bbbc021_week4…cycloheximide"); the caption under the box gives it whole."""
    if len(name) <= BOX_CHARS:
        return name
    head = (BOX_CHARS - 1) // 2
    return name[:head] + "…" + name[-(BOX_CHARS - 1 - head):]


def checkpoint_misfit(ckpt: str | None, dataset: str | None) -> str | None:
    """Why the checkpoint in use cannot embed the chosen dataset (channels, crop size), or None
    (also None when either is unknown: a baseline, an unlisted set, an unreadable file)."""
    if not ckpt or not dataset or not str(ckpt).endswith(".pt"):
        return None
    try:
        info = next((d for d in loaders.dataset_list() if d["name"] == dataset), None)
        if not info or not info.get("channels") or not info.get("height"):
            return None
        return checkpoints.misfit(checkpoints.facts(ckpt), int(info["channels"]), int(info["height"]))
    except Exception:  # a listing or file problem: the pages say why when the checkpoint is used
        return None


def _job_words(run: dict) -> str:
    """"preparing" before the first step, then "step 12 of 250 (epoch 1 of 2)"."""
    step, steps = run.get("step"), run.get("total_steps")
    if not step:
        return "preparing"
    words = f"step {step} of {steps}" if steps else f"step {step}"
    return words + (f" (epoch {run['epoch']} of {run['epochs']})" if run.get("epoch") and run.get("epochs") else "")


def _short(path: str) -> str:
    """The last two parts of a path (enough to recognise a run or checkpoint)."""
    parts = str(path).replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:])
