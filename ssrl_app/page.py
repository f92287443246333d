"""What every page does first: run through app.py, show its title, find the current dataset.

`current_cells()` returns the dataset chosen in the sidebar and its cells, or stops the page
with a plain sentence (no dataset chosen, or one that cannot be read). `representations()` lists
what Explore and Bias can embed with: the checkpoint in use, shipped checkpoints, finished runs
and the baselines.
"""

from __future__ import annotations

import streamlit as st

from ssrl_app import analysis, loaders, state
from ssrl_app.core import plain_errors
from ssrl_app.entry import through_app

NO_DATASET = "Choose a dataset in the sidebar first."


def open_page(title: str) -> None:
    """Rerun through app.py if needed (`entry.through_app`), then draw the page title."""
    through_app()
    st.title(title)


def current_dataset(missing: str = NO_DATASET) -> str:
    """The dataset name chosen in the sidebar; stops the page with `missing` when there is none."""
    name = state.get(state.DATASET)
    if not name:
        st.info(missing)
        st.stop()
    return str(name)


def current_cells(missing: str = NO_DATASET):
    """(name, CellSet) of the current dataset; a dataset that cannot be read stops the page
    with a plain sentence. The CellSet is shared (cached): never modify it."""
    name = current_dataset(missing)
    with plain_errors("Could not load the dataset", stop=True):
        cells = loaders.cells(name)
    return name, cells


def runs() -> list[dict]:
    """Every training run (`ssrl_core.train.jobs.list_runs`), newest first."""
    from ssrl_core.train import jobs
    return jobs.list_runs()


def representations() -> dict[str, str]:
    """Label -> encoder: the checkpoint in use, shipped ones, finished runs, then the baselines."""
    return analysis.encoder_choices(state.get(state.CHECKPOINT), runs())


def default_presets(name: str) -> tuple[str, str]:
    """The paper's two recipes for this kind of data: MNIST digits or microscopy cells."""
    if str(name).lower().startswith("mnist"):
        return "mnist-set1", "mnist-set2"
    return "microscopy-set-b", "microscopy-set-a"
