"""How good is an encoder on cells it never saw: the scores behind `benchmarks/train_quality.py`
and the bars of the shipped encoders, under the one evaluation protocol
(`ssrl_core.evaluate.protocol`).

Held-out cells per group are those of `plan.heldout_cells` (the cells the app's "Use the cells it
was scored on" selects):
- `mitocheck`: the 25 held-out plates (1,001 cells, 16 phenotypes): probe and k-NN trained on some
  of those plates and tested on the others, K-Means AMI with k = 16;
- `bbbc021`: cycloheximide vs DMSO on sites 3-4 of plate Week4_27801 and the DMSO plate
  Week4_27481, normalised per plate to its DMSO cells: k = 2 AMI, probe and k-NN trained on other
  wells (cycloheximide is on one plate only, so no plate can be held out for it);
- `mnist`: all 5,000 digits (SSL never sees a label): probe on held-out cells, AMI with k = 10.
Every number is computed the same way for every encoder, baselines included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paper.plan import BBBC021, MITOCHECK, MNIST, heldout_cells
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.registry import load_dataset

GROUP_DATASET = {"mitocheck": MITOCHECK, "bbbc021": BBBC021, "mnist": MNIST}
COLUMN = {"mitocheck": "label", "bbbc021": "compound", "mnist": "label"}
SPLIT = {"mitocheck": "held-out plates (25 plates, 1,001 cells)",
         "bbbc021": "held-out sites 3-4 of Week4_27801 and the DMSO plate Week4_27481: cycloheximide vs DMSO",
         "mnist": "all 5,000 digits (labels never used by SSL)"}


def heldout(group: str) -> tuple[CellSet, np.ndarray]:
    """The held-out cells of a group and the labels they are scored against."""

    if group not in GROUP_DATASET:
        raise ValueError(f"unknown group {group!r}; use mitocheck, bbbc021 or mnist")
    out = heldout_cells(load_dataset(GROUP_DATASET[group]), group)
    return out, out.meta[COLUMN[group]].astype(str).to_numpy()


def knn_top1(features: np.ndarray, labels: np.ndarray, k: int = 20, seed: int = 0) -> float:
    """Cosine k-NN (majority of k) top-1 on a stratified 70/30 split, as in SSL evaluations (Wu et al. 2018)."""
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    xtr, xte, ytr, yte = train_test_split(x, labels, test_size=0.3, stratify=labels, random_state=seed)
    model = KNeighborsClassifier(n_neighbors=min(k, len(ytr)), metric="cosine").fit(xtr, ytr)
    return float((model.predict(xte) == yte).mean())


def score_features(features: np.ndarray, labels: np.ndarray, meta: pd.DataFrame | None = None) -> dict[str, float]:
    """Probe, k-NN (balanced accuracy on held-out plates or wells) and K-Means AMI (k = number of
    labels) of one embedding under the evaluation protocol; `meta` gives plates, wells and controls."""
    from ssrl_core.evaluate.protocol import evaluate_cells

    m = (pd.DataFrame(index=range(len(labels))) if meta is None else meta.reset_index(drop=True)).copy()
    m["_label"] = np.asarray(labels).astype(str)
    res = evaluate_cells(np.nan_to_num(np.asarray(features, dtype=np.float32)), m, "_label", raw=False)
    return {"probe": round(res["probe"]["balanced_accuracy"], 4), "knn": round(res["probe"]["knn"], 4),
            "ami": round(res["cluster"]["ami"], 4), "cells": int(len(m)),
            "held_out_by": res["probe"]["held_out_by"]}


def score(encoder: str, group: str, device: str = "auto") -> dict[str, Any]:
    """Scores of `encoder` (a checkpoint, run folder or baseline name) on a group's held-out cells."""
    from ssrl_core.evaluate.embedding import embed

    cells, labels = heldout(group)
    feats = embed(cells, encoder, device=device)
    return {"group": group, "encoder": str(encoder), "split": SPLIT[group],
            **score_features(feats, labels, cells.meta)}
