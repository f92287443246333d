"""Probes that are trained on some plates (or wells) and tested on others.

A linear probe tested on other cells of the wells it was trained on learns the well as much as
the biology: the cells of one well share a plate, a position, a staining and a focus. The
profiling field therefore holds out whole plates (or, when the treatment is on one plate only,
whole wells) and asks whether what was learnt there carries over. This module builds such folds
from the metadata and scores two probes on them, out of fold (every cell is predicted once, by a
model that never saw its plate or well):

- a logistic regression on standardised features (the paper's "linear evaluation");
- a cosine k-NN (k = 20; Wu et al. 2018), which needs no training at all. Each neighbour's vote
  counts 1 / (cells of its group in the training part), so a group with 10 times more cells does
  not win every vote: when the training plates hold 1,000 controls and 100 treated cells, a plain
  majority vote calls every cell a control.

Both are reported as balanced accuracy (the mean of the per-class recalls: 0.5 is chance for two
groups, whatever their sizes) with a permutation chance level: the 95th percentile of the same
score after shuffling the true labels against the predictions.

Folds, in order of preference (`held_out_by`):
1. "plate": two or more plates, and at least two groups each seen on two plates or more;
2. "well": the same with wells (plate + well);
3. "cell": stratified folds of cells (no plate or well to hold out; said in words).
When every plate (or well) holds one group only (a compound's wells against DMSO wells), the
plates of each group are dealt round-robin to the folds, so every fold trains on every group.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssrl_core.evaluate.threads import compute_threads

MAX_FOLDS = 5
KNN_K = 20
PERMUTATIONS = 200


@dataclass
class Folds:
    """Fold ids per cell and what they hold out."""

    fold: np.ndarray  # (N,) fold id of each cell
    held_out_by: str  # "plate" | "well" | "cell"
    groups: int  # plates / wells / cells held out in total
    single: list[str]  # groups of labels seen in one plate (or well) only

    @property
    def n_folds(self) -> int:
        return int(len(np.unique(self.fold)))

    def words(self) -> str:
        unit = {"plate": "plates", "well": "wells", "cell": "cells"}[self.held_out_by]
        text = f"trained on some {unit}, tested on the other {unit} ({self.n_folds} folds)"
        if self.held_out_by == "cell":
            text += "; no plate or well could be held out, so this is optimistic"
        if self.single:
            text += f"; seen in one {self.held_out_by} only: {', '.join(self.single[:6])}"
        return text


def _group_keys(meta: pd.DataFrame, level: str) -> np.ndarray | None:
    if level == "plate":
        return meta["plate"].astype(str).to_numpy() if "plate" in meta.columns else None
    if "well" not in meta.columns:
        return None
    wells = meta["well"].astype(str)
    return (meta["plate"].astype(str) + "/" + wells if "plate" in meta.columns else wells).to_numpy()


def make_folds(meta: pd.DataFrame, labels: np.ndarray, max_folds: int = MAX_FOLDS, seed: int = 0) -> Folds:
    """Folds that hold out whole plates, else whole wells, else cells (see the module docstring)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    y = np.asarray(labels).astype(str)
    meta = meta.reset_index(drop=True)
    for level in ("plate", "well"):
        keys = _group_keys(meta, level)
        if keys is None or len(set(keys)) < 2:
            continue
        table = pd.crosstab(pd.Series(y, name="label"), pd.Series(keys, name="group"))
        spread = (table > 0).sum(axis=1)
        if int((spread >= 2).sum()) < 2:
            continue
        single = sorted(spread.index[spread < 2].astype(str).tolist())
        pure = bool(((table > 0).sum(axis=0) == 1).all())
        fold = np.zeros(len(y), dtype=np.int64)
        if pure:
            n = int(min(max_folds, spread[spread >= 2].min()))
            for label in table.index:
                groups = sorted(table.columns[table.loc[label] > 0])
                for i, g in enumerate(groups):
                    fold[keys == g] = i % n
        else:
            n = int(min(max_folds, len(set(keys))))
            splitter = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # classes smaller than n: folds still valid
                for i, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, keys)):
                    fold[test] = i
        return Folds(fold, level, int(len(set(keys))), single)
    counts = pd.Series(y).value_counts()
    n = int(max(2, min(max_folds, counts.min())))
    fold = np.zeros(len(y), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (_, test) in enumerate(StratifiedKFold(n_splits=n, shuffle=True, random_state=seed).split(
                np.zeros(len(y)), y)):
            fold[test] = i
    return Folds(fold, "cell", len(y), [])


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean recall over the true groups."""
    classes = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in classes]))


def _chance95(y: np.ndarray, pred: np.ndarray, seed: int, permutations: int = PERMUTATIONS) -> float:
    rng = np.random.default_rng(seed)
    codes, yi = np.unique(y, return_inverse=True)
    pi = np.searchsorted(codes, pred)
    pi = np.where((pi < len(codes)) & (codes[np.minimum(pi, len(codes) - 1)] == pred), pi, -1)
    sizes = np.bincount(yi, minlength=len(codes))
    null = []
    for _ in range(permutations):
        perm = rng.permutation(yi)
        hits = np.bincount(perm[perm == pi], minlength=len(codes))
        null.append(float(np.mean(hits / sizes)))
    return float(np.percentile(null, 95))


def balanced_knn(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, k: int = KNN_K,
                 chunk: int = 2048) -> np.ndarray:
    """Cosine k-NN whose votes are weighted by 1 / (training cells of the neighbour's group)."""
    classes, yi = np.unique(train_y, return_inverse=True)
    weight = 1.0 / np.bincount(yi)
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)  # noqa: E731
    tr, k = unit(np.asarray(train_x, np.float32)), int(min(k, len(train_y)))
    out = np.empty(len(test_x), dtype=object)
    for start in range(0, len(test_x), chunk):
        sim = unit(np.asarray(test_x[start:start + chunk], np.float32)) @ tr.T
        near = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(sim), len(classes)))
        voter = yi[near].ravel()
        np.add.at(votes, (np.repeat(np.arange(len(sim)), k), voter), weight[voter])
        out[start:start + len(sim)] = classes[votes.argmax(axis=1)]
    return out


def _predict(x: np.ndarray, y: np.ndarray, fold: np.ndarray, kind: str) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pred = np.empty(len(y), dtype=object)
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        if len(np.unique(y[train])) < 2:
            pred[test] = pd.Series(y[train]).mode().iloc[0] if train.any() else ""
            continue
        if kind == "knn":
            pred[test] = balanced_knn(x[train], y[train], x[test])
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
        with warnings.catch_warnings(), compute_threads(len(y)):
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[train], y[train])
            pred[test] = model.predict(x[test])
    return pred.astype(str)


def heldout_probe(features: np.ndarray, labels: np.ndarray | pd.Series, meta: pd.DataFrame | None = None,
                  seed: int = 0, folds: Folds | None = None) -> dict:
    """Out-of-fold linear-probe and k-NN balanced accuracy, holding out plates or wells.

    Groups with a single cell are left out (`dropped`). Returns balanced_accuracy, top1, knn
    (k-NN balanced accuracy), knn_top1, chance (1 / groups), chance95 and knn_chance95
    (permutation levels), held_out_by, folds, held_out (plain words), per_class (group, cells,
    probe recall, k-NN recall), classes, n and dropped.
    """
    x = np.asarray(features, dtype=np.float32)
    y = pd.Series(np.asarray(labels, dtype=object)).astype(str).to_numpy()
    meta = pd.DataFrame(index=range(len(x))) if meta is None else meta.reset_index(drop=True)
    if not len(x) == len(y) == len(meta):
        raise ValueError(f"{len(x)} embeddings, {len(y)} labels and {len(meta)} metadata rows")
    counts = pd.Series(y).value_counts()
    dropped = sorted(counts[counts < 2].index.tolist())
    keep = ~np.isin(y, dropped)
    x, y, meta = x[keep], y[keep], meta[keep].reset_index(drop=True)
    classes = sorted(np.unique(y).tolist())
    if len(classes) < 2:
        raise ValueError("the probe needs at least two groups with 2 or more cells each")
    folds = folds or make_folds(meta, y, seed=seed)
    lin = _predict(x, y, folds.fold, "linear")
    knn = _predict(x, y, folds.fold, "knn")
    per_class = pd.DataFrame({"class": classes, "cells": [int((y == c).sum()) for c in classes],
                              "probe": [float((lin[y == c] == c).mean()) for c in classes],
                              "knn": [float((knn[y == c] == c).mean()) for c in classes]})
    return {"balanced_accuracy": balanced_accuracy(y, lin), "top1": float((lin == y).mean()),
            "knn": balanced_accuracy(y, knn), "knn_top1": float((knn == y).mean()),
            "chance": 1.0 / len(classes), "chance95": _chance95(y, lin, seed),
            "knn_chance95": _chance95(y, knn, seed + 1), "held_out_by": folds.held_out_by,
            "folds": folds.n_folds, "held_out": folds.words(), "per_class": per_class, "classes": classes,
            "n": int(len(y)), "dropped": dropped}
