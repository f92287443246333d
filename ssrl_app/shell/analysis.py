"""Cached wrappers around `ssrl_core.evaluate` for the Explore and Bias pages.

Results are keyed by (dataset, cell subset, encoder), so a second look, or a return to the page,
is instant. The numbers themselves come from ssrl_core's one evaluation protocol
(`ssrl_core.evaluate.protocol`: per-plate normalisation, K-Means runs, held-out probes; the same
numbers as the command line and docs/results.md), t-SNE/UMAP maps and the factor probe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.shell import loaders
from ssrl_app.shell.checkpoints import BASELINES, facts, finished_runs, misfit, shipped
from ssrl_app.shell.images import composite, data_url


def subset_index(dataset: str, max_cells: int, seed: int = 0, within: np.ndarray | None = None) -> np.ndarray:
    """A fixed random subset of at most `max_cells` cells (sorted positions in the dataset),
    drawn from the positions `within` (the cell selection) or from all cells."""
    pool = np.arange(len(loaders.cells(dataset))) if within is None else np.asarray(within, dtype=int)
    if max_cells <= 0 or max_cells >= len(pool):
        return pool
    return np.sort(np.random.default_rng(seed).choice(pool, max_cells, replace=False))


def encoder_choices(checkpoint: str | None, runs: list[dict]) -> dict[str, str]:
    """Label -> encoder string: the checkpoint in use, shipped, finished runs, then baselines."""
    out: dict[str, str] = {}
    if checkpoint:
        out[f"checkpoint in use ({Path(checkpoint).parent.name}/{Path(checkpoint).name})"] = checkpoint
    for item in shipped():
        out[f"shipped: {item['name']}"] = item["path"]
    for item in finished_runs(runs):
        out[f"run: {item['name']}"] = item["path"]
    names = {"random-resnet18": "baseline: random ResNet-18 (no training)",
             "imagenet-vgg16": "baseline: ImageNet VGG-16", "hand-features": "baseline: hand-made features"}
    for b in BASELINES:
        out[names[b]] = b
    return out


def random_twin(encoder: str) -> str | None:
    """`random-<backbone>[-per-channel]` of a checkpoint (`ssrl_core.evaluate.encoders.random_twin`);
    None for baselines and unreadable files."""
    from ssrl_core.evaluate.encoders import random_twin as twin_of
    return twin_of(facts(encoder)) if str(encoder).endswith(".pt") else None


def split_by_fit(choices: dict[str, str], n_channels: int, side: int) -> tuple[dict[str, str], dict[str, str]]:
    """(label -> encoder that fits these cells, label -> why it does not). Baselines always fit."""
    good: dict[str, str] = {}
    bad: dict[str, str] = {}
    for label, enc in choices.items():
        why = misfit(facts(enc), n_channels, side) if str(enc).endswith(".pt") else None
        if why:
            bad[label] = why
        else:
            good[label] = enc
    return good, bad


def embed(dataset: str, index: np.ndarray, encoder: str, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Embeddings of cells `index` (ssrl_core.evaluate.embed; cached on disk by the core)."""
    from ssrl_core.evaluate import embed as core_embed
    cells = loaders.cells(dataset)
    sub = cells if len(index) == len(cells) else cells.subset(index)
    return core_embed(sub, encoder, progress=progress)


@st.cache_data(show_spinner=False, max_entries=16)
def evaluate(_features: np.ndarray, key: str, _meta: pd.DataFrame, column: str, k: int | None) -> dict:
    """The evaluation protocol (`ssrl_core.evaluate.protocol.evaluate_cells`) for one embedding
    (identified by `key`: dataset, cells and encoder), column and k (None: one per group)."""
    from ssrl_core.evaluate.protocol import evaluate_cells
    return evaluate_cells(_features, _meta, column, k=k)


@st.cache_data(show_spinner=False, max_entries=16)
def compound_check(_features: np.ndarray, key: str, _meta: pd.DataFrame, compound: str, with_map: bool = False) -> dict:
    """`ssrl_core.evaluate.check_compound` (against DMSO) for one embedding (identified by `key`)."""
    from ssrl_core.evaluate import check_compound
    r = check_compound(_features, _meta, compound, with_map=with_map, null_size=2000)
    r.pop("protocol", None)  # per-cell arrays: not needed by the page
    return r


def projection(features: np.ndarray, key: str, method: str) -> np.ndarray:
    """2-D map of one embedding (t-SNE, UMAP or PCA)."""
    return projection_with_note(features, key, method)[0]


@st.cache_data(show_spinner=False, max_entries=16)
def projection_with_note(_features: np.ndarray, key: str, method: str) -> tuple[np.ndarray, str]:
    """The map and a plain note ("" unless a large set was fitted on a sample and the rest placed)."""
    from ssrl_core.evaluate import project_with_info
    xy, info = project_with_info(_features, method=method)
    return xy, str(info.get("note", ""))


@st.cache_data(show_spinner=False, max_entries=8)
def thumbnails(dataset: str, index: tuple[int, ...], size: int = 48) -> list[str]:
    """PNG data URLs of the cells `index` for image tooltips."""
    cells = loaders.cells(dataset)
    lo, hi = loaders.ranges(dataset)
    return [data_url(composite(cells.images[i], lo, hi, cells.channels), size) for i in index]


def label_columns(meta: pd.DataFrame) -> list[str]:
    """Metadata columns worth comparing clusters with (2..200 distinct values)."""
    prefer = [c for c in ("label", "compound", "moa", "plate", "concentration") if c in meta.columns]
    rest = [c for c in meta.columns if c not in prefer]
    return [c for c in prefer + rest if 1 < meta[c].nunique() <= 200]
