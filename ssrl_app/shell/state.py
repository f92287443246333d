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
    PENDING_EMBED    the Explore result of a restored session ({dataset, encoder, label, cells}), shown
                     again from the embeddings cache when Explore opens
    SWEEP_RUN        folder of the last bias sweep job (str | None)
    EXTRA_DATASETS   folders imported in this session (list[str]), shown in the sidebar
    PENDING_DATASET  a dataset to select at the next run (set by imports)
    FILTERS          the cell selection: {dataset: {column: [values]}} (ssrl_app/shell/selection.py)
    BIAS_RESULT      last factor-probe result of the Bias page (dict)
    COMPARE_RESULT   last "compare two representations" result of Explore (dict), kept until
                     the choice changes
    RUN_SEEN         {run folder: last state seen by the Train page's progress fragment}
    STEP_RATE        {(backbone, crop, channels, batch): measured training pairs per second}
    PINNED           the cell pinned on the Explore map: {"key": embedding key, "cell": int}
    RESTORED         True once this browser session was restored from its session file
    SESSION_SAVED    the session file's text last written (so an unchanged session is not rewritten)
    DEMO_ON          True once the home page's demo was started (it then stays shown)
    AUG_MEASURED     the (recipe, cells, seed) previews whose distances the Augment page measured (set)
    AUG_STEPS_ASKED  the (dataset, cells, recipe, n, seed) whose responsible steps the Augment page measured (set)
    ADVISOR          the Augment page advisor's last ranking: {"args", "table", "recipes" {label: recipe dict}}
    IMPORT_MSG       a success message of a data import, shown once on the Data page
    IMPORT_ERROR     the problem of the last folder import, shown once on the Data page
    EXPLORE_K_FOR    [dataset, column] the Explore page's k box was last set for (a new one resets k)
    GALLERY_SEED     which random cells the Data page's gallery shows (*Show others* adds 1)
    PLATE_SCAN       the plate import's scan (files, plate map) waiting for "Import"
    PLATE_ERROR      the plate import's last problem, shown once
    CP_READ          the CellProfiler import's tables (ssrl_app/data/cp_import.py) waiting for "Import"
    CP_ERROR         the CellProfiler import's last problem, shown once
    recipe_error(slot)  the problem of the last recipe read into `slot` (RECIPE_A/B), shown once

Pages and `ssrl_app` modules read and write these through `get`, `put`, `pop`, `setdefault`,
`bump` and `forget` (widget keys `w.*` too, where a page seeds or clamps a widget's value), never
`st.session_state` itself: the names a page uses are then the names listed here.
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
PENDING_EMBED = "ssrl.pending_embed"
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
SESSION_SAVED = "ssrl.session_saved"
DEMO_ON = "ssrl.demo_on"
AUG_MEASURED = "ssrl.aug_measured"
AUG_STEPS_ASKED = "ssrl.aug_steps_asked"
ADVISOR = "ssrl.advisor"
IMPORT_MSG = "ssrl.import_msg"
IMPORT_ERROR = "ssrl.import_error"
GALLERY_SEED = "ssrl.gallery_seed"
EXPLORE_K_FOR = "ssrl.explore_k_for"
PLATE_SCAN = "ssrl.plate_scan"
PLATE_ERROR = "ssrl.plate_error"
CP_READ = "ssrl.cp_read"
CP_ERROR = "ssrl.cp_error"


def recipe_error(slot: str) -> str:
    """The key of the last problem reading a recipe into `slot` (RECIPE_A or RECIPE_B)."""
    return f"{slot}.error"


# Widget keys whose values must survive page changes (never buttons or file uploaders).
KEEP = (
    DATASET,
    "w.data.filters", "w.data.n_gallery", "w.data.columns",
    "w.aug.compare", "w.aug.n_views", "w.aug.n_cells", "w.aug.cells", "w.aug.sample", "w.aug.inv_cells",
    "w.aug.keep", "w.aug.ignore", "w.aug.groups",
    "w.train.method", "w.train.backbone", "w.train.epochs", "w.train.batch", "w.train.crop",
    "w.train.lr", "w.train.seed", "w.train.device", "w.train.subset", "w.train.minutes", "w.train.freeze",
    "w.explore.encoder", "w.explore.k", "w.explore.column", "w.explore.proj", "w.explore.color",
    "w.explore.cells", "w.bias.encoder", "w.bias.column",
)


# Widgets kept by the start of their key: each method's own settings on the Train page.
KEEP_PREFIXES = ("w.train.mp.",)


def keep_widget_state() -> None:
    """Re-assign kept widget values so Streamlit does not drop them on another page."""
    keys = [k for k in st.session_state.keys() if isinstance(k, str) and k.startswith(KEEP_PREFIXES)]
    for key in (*KEEP, *keys):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def get(key: str, default: Any = None) -> Any:
    """`st.session_state[key]`, or `default` when unset."""
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    """Set a key (a plain key, or a widget's value before the widget is drawn)."""
    st.session_state[key] = value


def pop(key: str, default: Any = None) -> Any:
    """Remove `key` and return its value (`default` when unset): a message shown once."""
    return st.session_state.pop(key, default)


def setdefault(key: str, default: Any) -> Any:
    """`key`'s value, set to `default` first when unset (a widget's first value)."""
    return st.session_state.setdefault(key, default)


def bump(key: str) -> int:
    """Add 1 to a counter (0 when unset) and return the new value."""
    st.session_state[key] = int(st.session_state.get(key, 0)) + 1
    return st.session_state[key]


def put_recipe(slot: str, recipe: Any) -> None:
    """Store a recipe in `slot` (RECIPE_A or RECIPE_B) and bump RECIPE_VERSION, so the Augment
    page's editor re-keys its widgets (the Home demo and the editor both set recipes this way)."""
    put(slot, recipe)
    bump(RECIPE_VERSION)


def forget(prefix: str) -> None:
    """Remove every key starting with `prefix` (widgets drawn anew with their new defaults)."""
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def has(key: str) -> bool:
    """Whether `key` is set."""
    return key in st.session_state


def session_id() -> str:
    """A short random id for this browser session (stable while the tab is open)."""
    return setdefault(SESSION_ID, secrets.token_hex(6))
