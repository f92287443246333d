"""A linear probe on a random stratified split: the "linear evaluation" of Bendidi et al. 2024.

A logistic regression on standardised features predicts a metadata column from the embedding;
its held-out accuracy says how much of that information the representation holds in a linearly
readable form. The parameter sweeps (paper section 3.1) use it for per-class accuracies; everything
that scores cells from plates uses `heldout_probe` instead, which holds out whole plates or wells.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ssrl_core.evaluate.threads import compute_threads


def linear_probe(features: np.ndarray, labels: np.ndarray | pd.Series, test_fraction: float = 0.3,
                 seed: int = 0, max_iter: int = 300, C: float = 1.0) -> dict:
    """Logistic-regression probe with a stratified held-out split (fixed seed).

    Classes with fewer than 2 cells cannot be split and are left out (listed in `dropped`).

    Returns:
        dict with top1 (held-out accuracy), chance (share of the commonest class in the test
        part), per_class (DataFrame: class, n_test, accuracy), confusion (DataFrame, rows = true
        class, columns = predicted), classes, n_train, n_test, dropped.
    """
    x = np.asarray(features, dtype=np.float32)
    y = pd.Series(np.asarray(labels, dtype=object)).astype(str).to_numpy()
    if len(x) != len(y):
        raise ValueError(f"{len(x)} embeddings but {len(y)} labels")
    counts = pd.Series(y).value_counts()
    dropped = sorted(counts[counts < 2].index.tolist())
    keep = ~np.isin(y, dropped)
    x, y = x[keep], y[keep]
    classes = sorted(np.unique(y).tolist())
    if len(classes) < 2:
        raise ValueError("the probe needs at least two groups with 2 or more cells each")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"the held-out fraction must be between 0 and 1; got {test_fraction}")
    n_test = max(int(round(test_fraction * len(y))), len(classes))
    if len(y) - n_test < len(classes):
        raise ValueError(f"too few cells ({len(y)}) for {len(classes)} groups and a held-out part")
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=n_test, stratify=y, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=C))
    with warnings.catch_warnings(), compute_threads(len(x)):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(xtr, ytr)
    pred = model.predict(xte)
    cm = confusion_matrix(yte, pred, labels=classes)
    per_class = pd.DataFrame({"class": classes, "n_test": cm.sum(axis=1),
                              "accuracy": np.diag(cm) / np.maximum(cm.sum(axis=1), 1)})
    return {"top1": float((pred == yte).mean()),
            "chance": float(pd.Series(yte).value_counts(normalize=True).iloc[0]),
            "per_class": per_class,
            "confusion": pd.DataFrame(cm, index=classes, columns=classes),
            "classes": classes, "n_train": int(len(ytr)), "n_test": int(len(yte)), "dropped": dropped}


def split_probe(x_train: np.ndarray, y_train: Any, x_test: np.ndarray, y_test: Any, max_iter: int = 300,
                C: float = 1.0) -> dict[str, Any]:
    """Linear evaluation with given parts (paper: probe trained on the training split, scored on the
    test split): logistic regression on standardised features. Returns top1 and per_class
    (class, n_test, accuracy), like `linear_probe`."""
    ytr = np.asarray(y_train, dtype=object).astype(str)
    yte = np.asarray(y_test, dtype=object).astype(str)
    if len(np.unique(ytr)) < 2:
        raise ValueError("the probe's training part needs at least two classes")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=C))
    with warnings.catch_warnings(), compute_threads(len(ytr)):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np.asarray(x_train, np.float32), ytr)
    pred = model.predict(np.asarray(x_test, np.float32))
    classes = sorted(np.unique(yte).tolist())
    per_class = pd.DataFrame({"class": classes, "n_test": [int((yte == c).sum()) for c in classes],
                              "accuracy": [float((pred[yte == c] == c).mean()) for c in classes]})
    return {"top1": float((pred == yte).mean()), "per_class": per_class, "n_train": int(len(ytr)),
            "n_test": int(len(yte))}
