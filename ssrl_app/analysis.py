"""Cached wrappers around `ssrl_core.evaluate` for the Explore and Bias pages.

Results are keyed by (dataset, cell subset, encoder), so a second look, or a return to the page,
is instant. The numbers themselves come from ssrl_core (K-Means AMI/ARI/silhouette as in
Bendidi et al. 2024; t-SNE/UMAP maps; the factor probe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app import loaders
from ssrl_app.checkpoints import BASELINES, finished_runs, shipped
from ssrl_app.images import composite, data_url


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


def split_by_fit(choices: dict[str, str], n_channels: int, side: int) -> tuple[dict[str, str], dict[str, str]]:
    """(label -> encoder that fits these cells, label -> why it does not). Baselines always fit."""
    from ssrl_app.checkpoints import facts, misfit
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
def metrics(_features: np.ndarray, key: str, labels: tuple, k: int) -> dict:
    """`cluster_metrics` for one embedding (identified by `key`), column and k."""
    from ssrl_core.evaluate import cluster_metrics
    return cluster_metrics(_features, np.asarray(labels, dtype=object), k=k)


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
