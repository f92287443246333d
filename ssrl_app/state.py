"""Session-state keys shared by the pages, in one place.

Streamlit forgets a widget's value when its page is not shown. Keys listed in `KEEP` are
re-assigned at the top of every script run (app.py calls `keep_widget_state()`), so a choice made
on one page is still there after a visit to another.

Plain keys (not widgets):
    DATASET          name of the dataset in use (str)
    CHECKPOINT       checkpoint path or baseline name used by Explore and Bias (str | None)
    RECIPE_A/B       the two recipes of the Augment page, as `Recipe.to_dict()` dicts
    RECIPE_VERSION   counter bumped when a recipe changes shape (widgets are re-keyed)
    PREVIEW_SEED     seed of the preview grid (int); "Reshuffle" changes it
    SESSION_ID       a short random id naming this browser session's upload folder
    ACTIVE_RUN       run directory the Train page follows (str | None)
    EMBED_RESULT     last Explore result (dict) so coming back to the page is instant
    SWEEP_RUN        folder of the last bias sweep job (str | None)
    EXTRA_DATASETS   folders imported in this session (list[str]), shown in the sidebar
    PENDING_DATASET  a dataset to select at the next run (set by imports)
    FILTERS          the cell selection: {dataset: {column: [values]}} (ssrl_app/selection.py)
    BIAS_RESULT      last factor-probe result of the Bias page (dict)
    COMPARE_RESULT   last "compare two representations" result of Explore (dict), kept until
                     the choice changes
    RUN_SEEN         {run folder: last state seen by the Train page's progress fragment}
    STEP_RATE        {(backbone, crop, channels, batch): measured training pairs per second}
    PINNED           the cell pinned on the Explore map: {"key": embedding key, "cell": int}
    RESTORED         True once this browser session was restored from its session file
"""

from __future__ import annotations

import secrets
from typing import Any

import streamlit as st

DATASET = "ssrl.dataset"
CHECKPOINT = "ssrl.checkpoint"
RECIPE_A = "ssrl.recipe_a"
RECIPE_B = "ssrl.recipe_b"
RECIPE_VERSION = "ssrl.recipe_version"
PREVIEW_SEED = "ssrl.preview_seed"
SESSION_ID = "ssrl.session_id"
ACTIVE_RUN = "ssrl.active_run"
EMBED_RESULT = "ssrl.embed_result"
SWEEP_RUN = "ssrl.sweep_run"
EXTRA_DATASETS = "ssrl.extra_datasets"
PENDING_DATASET = "ssrl.pending_dataset"
FILTERS = "ssrl.filters"
BIAS_RESULT = "ssrl.bias_result"
COMPARE_RESULT = "ssrl.compare_result"
RUN_SEEN = "ssrl.run_seen"
STEP_RATE = "ssrl.step_rate"
RESTORED = "ssrl.restored"
PINNED = "ssrl.pinned"

# Widget keys whose values must survive page changes (never buttons or file uploaders).
KEEP = (
    DATASET,
    "w.data.filters", "w.data.n_gallery", "w.data.columns",
    "w.aug.compare", "w.aug.n_views", "w.aug.n_cells", "w.aug.cells", "w.aug.sample",
    "w.train.method", "w.train.backbone", "w.train.epochs", "w.train.batch", "w.train.crop",
    "w.train.lr", "w.train.seed", "w.train.device", "w.train.subset",
    "w.explore.encoder", "w.explore.k", "w.explore.column", "w.explore.proj", "w.explore.color",
    "w.explore.cells", "w.bias.encoder", "w.bias.column",
)


def keep_widget_state() -> None:
    """Re-assign kept widget values so Streamlit does not drop them on another page."""
    for key in KEEP:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def get(key: str, default: Any = None) -> Any:
    """`st.session_state[key]`, or `default` when unset."""
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    """Set a plain (non-widget) key."""
    st.session_state[key] = value


def session_id() -> str:
    """A short random id for this browser session (stable while the tab is open)."""
    if SESSION_ID not in st.session_state:
        st.session_state[SESSION_ID] = secrets.token_hex(6)
    return st.session_state[SESSION_ID]
