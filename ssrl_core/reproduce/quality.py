"""How good is an encoder on cells it never saw: the scores behind `benchmarks/train_quality.py`
and the bars of the shipped encoders.

Held-out cells per group (`plan.py`):
- `mitocheck`: the 25 held-out plates (1,001 cells, 16 phenotypes): linear-probe top-1 and
  k-NN top-1 (a stratified 70/30 split of those cells), K-Means AMI with k = 16;
- `bbbc021`: cycloheximide vs DMSO on sites 3-4 of plate Week4_27801 (the training runs see
  sites 1-2; held out by SITE, because cycloheximide is on one plate only): k = 2 K-Means AMI
  against treated / control, and the probe's top-1 on the same two groups;
- `mnist`: all 5,000 digits (SSL never sees a label): digit top-1 (70/30) and AMI with k = 10.
Every number is computed the same way for every encoder, baselines included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet
from ssrl_core.reproduce.plan import (BBBC021, BBBC021_TRAIN_SITES, MITOCHECK, MITOCHECK_HELDOUT_PLATES, MNIST,
                                      TRAIN_PLATE, TREATMENT)

GROUP_DATASET = {"mitocheck": MITOCHECK, "bbbc021": BBBC021, "mnist": MNIST}
SPLIT = {"mitocheck": "held-out plates (25 plates, 1,001 cells)",
         "bbbc021": "held-out sites (sites 3-4 of Week4_27801: cycloheximide vs DMSO)",
         "mnist": "all 5,000 digits (labels never used by SSL)"}


def heldout(group: str) -> tuple[CellSet, np.ndarray]:
    """The held-out cells of a group and the labels they are scored against."""
    from ssrl_core.data.registry import load_dataset

    cells = load_dataset(GROUP_DATASET[group])
    meta = cells.meta.reset_index(drop=True)
    if group == "mitocheck":
        keep = meta["plate"].astype(str).isin(MITOCHECK_HELDOUT_PLATES).to_numpy()
    elif group == "bbbc021":
        site = pd.to_numeric(meta["site"], errors="coerce")
        keep = ((meta["plate"].astype(str) == TRAIN_PLATE) & ~site.isin(BBBC021_TRAIN_SITES)
                & meta["compound"].astype(str).isin([TREATMENT, "DMSO"])).to_numpy()
    elif group == "mnist":
        keep = np.ones(len(cells), dtype=bool)
    else:
        raise ValueError(f"unknown group {group!r}; use mitocheck, bbbc021 or mnist")
    out = cells.subset(np.flatnonzero(keep))
    out.meta = out.meta.reset_index(drop=True)
    labels = out.meta["compound" if group == "bbbc021" else "label"].astype(str).to_numpy()
    return out, labels


def knn_top1(features: np.ndarray, labels: np.ndarray, k: int = 20, seed: int = 0) -> float:
    """Cosine k-NN (majority of k) top-1 on a stratified 70/30 split, as in SSL evaluations (Wu et al. 2018)."""
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    xtr, xte, ytr, yte = train_test_split(x, labels, test_size=0.3, stratify=labels, random_state=seed)
    model = KNeighborsClassifier(n_neighbors=min(k, len(ytr)), metric="cosine").fit(xtr, ytr)
    return float((model.predict(xte) == yte).mean())


def score_features(features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Probe top-1, k-NN top-1 and K-Means AMI (k = number of labels) of one embedding."""
    from ssrl_core.evaluate.cluster import cluster_metrics
    from ssrl_core.evaluate.probe import linear_probe

    x = np.nan_to_num(np.asarray(features, dtype=np.float32))
    std = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)  # AMI on standardised features: no unit dominates
    k = int(pd.Series(labels).nunique())
    return {"top1": round(linear_probe(x, labels, max_iter=1000)["top1"], 4),
            "knn_top1": round(knn_top1(x, labels), 4),
            "ami": round(cluster_metrics(z, labels, k=k)["ami"], 4), "cells": int(len(x))}


def score(encoder: str, group: str, device: str = "auto") -> dict[str, Any]:
    """Scores of `encoder` (a checkpoint, run folder or baseline name) on a group's held-out cells."""
    from ssrl_core.evaluate.embedding import embed

    cells, labels = heldout(group)
    feats = embed(cells, encoder, device=device)
    return {"group": group, "encoder": str(encoder), "split": SPLIT[group], **score_features(feats, labels)}
