"""What every page does first: run through app.py, show its title, find the current dataset.

`current_cells()` returns the dataset chosen in the sidebar and its cells, or stops the page
with a plain sentence (no dataset chosen, or one that cannot be read). `representations()` lists
what Explore and Bias can embed with: the checkpoint in use, shipped checkpoints, finished runs
and the baselines.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ssrl_app.shell import analysis, loaders, selection, state
from ssrl_app.shell.entry import through_app
from ssrl_app.shell.errors import plain_errors

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


def selected(name: str) -> np.ndarray:
    """Positions of the cells in use (the Data page's filters); stops the page when none match."""
    index = selection.index(name)
    if len(index) == 0:
        st.info("No cell matches the filters chosen on the Data page: change them there, or press "
                "*Use all cells* in the sidebar.")
        st.stop()
    return index


ALL_CELLS_UP_TO = 3000  # by default every selected cell, up to this many (the same cells as the docs' numbers)


def cells_input(label: str, key: str, n: int, low: int = 10, default: int = ALL_CELLS_UP_TO, **kw) -> int:
    """A number box for how many of the `n` selected cells to use (its kept value clamped to n); by
    default all of them up to `ALL_CELLS_UP_TO`, so a selection's numbers match `ssrl` and the docs."""
    low = min(low, n)
    state.put(key, int(min(max(int(state.get(key)), low), n)) if state.has(key) else min(default, n))
    return int(st.number_input(label, low, n, key=key, **kw))


def runs() -> list[dict]:
    """Every training run (`ssrl_core.train.jobs.list_runs`), newest first."""
    from ssrl_core.train import jobs
    return jobs.list_runs()


def representations(cells=None) -> dict[str, str]:
    """Label -> encoder: the checkpoint in use, shipped ones, finished runs, then the baselines.
    With `cells`, only those that fit them (channels, crop size); the others are listed apart,
    each with the reason, in a collapsed box."""
    choices = analysis.encoder_choices(state.get(state.CHECKPOINT), runs())
    if cells is None:
        return choices
    h, _, c = cells.shape
    good, bad = analysis.split_by_fit(choices, c, h)
    if bad:
        with st.expander(f"{len(bad)} checkpoint(s) do not fit these cells"):
            st.markdown("\n".join(f"- **{label}**: {why}" for label, why in bad.items()))
    return good


def default_presets(name: str) -> tuple[str, str]:
    """The paper's two recipes for this kind of data: MNIST digits or microscopy cells."""
    if str(name).lower().startswith("mnist"):
        return "mnist-set1", "mnist-set2"
    return "microscopy-set-b", "microscopy-set-a"
