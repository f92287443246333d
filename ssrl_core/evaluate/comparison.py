"""Compare two representations of the same cells under the one evaluation protocol.

Used to ask, for instance, whether a recipe with strong rotations separates a phenotype better
than one with random crops, or whether a trained encoder beats ImageNet VGG16 (Bendidi et al.
2024, tables 3 and 4 compare exactly so). Both embeddings go through `protocol.evaluate_cells`
(per-plate normalisation, K-Means runs, held-out probes), and the verdict calls a difference only
when it exceeds the spread over K-Means runs and the chance level (`verdicts.compare_words`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.evaluate.protocol import evaluate_cells
from ssrl_core.evaluate.verdicts import compare_words

ROWS = (("ami", "cluster", "ami"), ("ari", "cluster", "ari"), ("silhouette", "cluster", "silhouette"),
        ("probe balanced accuracy", "probe", "balanced_accuracy"), ("probe top-1", "probe", "top1"),
        ("k-NN balanced accuracy", "probe", "knn"))


def compare(features_a: np.ndarray, features_b: np.ndarray, meta: pd.DataFrame, column: str,
            k: int | None = None, seed: int = 0, names: tuple[str, str] = ("A", "B"),
            results: tuple[dict, dict] | None = None) -> dict:
    """Two embeddings of the same cells (same rows of `meta`) scored against `meta[column]`.

    Returns a dict with `metrics` (DataFrame: metric, A, B, difference B - A), `per_class`
    (DataFrame: class, cells, A, B, difference of the held-out probe's recall), `verdicts`
    (plain sentences for the AMI and the probe), `results` (both `evaluate_cells` dicts), `k`
    and `names`.
    """
    a, b = np.asarray(features_a, np.float32), np.asarray(features_b, np.float32)
    if len(a) != len(b) or len(a) != len(meta):
        raise ValueError(f"both embeddings must describe the same cells: {len(a)}, {len(b)} and "
                         f"{len(meta)} metadata rows")
    na, nb = names if names[0] != names[1] else ("A", "B")
    # `results`: both `evaluate_cells(x, meta, column, k=k, seed=seed)` results, already computed (the app's
    # cached ones), so a comparison does not score the same embedding twice.
    ra, rb = results if results is not None else (evaluate_cells(x, meta, column, k=k, seed=seed, raw=False)
                                                  for x in (a, b))
    rows = []
    for label, part, key in ROWS:
        pa, pb = ra.get(part) or {}, rb.get(part) or {}
        if key in pa and key in pb:
            rows.append({"metric": label, na: float(pa[key]), nb: float(pb[key])})
    metrics = pd.DataFrame(rows, columns=["metric", na, nb])
    metrics["difference"] = metrics[nb] - metrics[na]
    ca, cb = ra["cluster"], rb["cluster"]
    verdicts = [compare_words(na, ca["ami"], nb, cb["ami"], f"agreement with {column} (AMI)", ca["ami_spread"],
                              cb["ami_spread"], max(ca["chance95"], cb["chance95"]))]
    per_class = pd.DataFrame(columns=["class", "cells", na, nb, "difference"])
    if ra["probe"] and rb["probe"]:
        pa, pb = ra["probe"], rb["probe"]
        verdicts.append(compare_words(na, pa["balanced_accuracy"], nb, pb["balanced_accuracy"],
                                      f"the held-out probe for {column}", chance=max(pa["chance95"], pb["chance95"])))
        per_class = pa["per_class"][["class", "cells", "probe"]].rename(columns={"probe": na}).merge(
            pb["per_class"][["class", "probe"]].rename(columns={"probe": nb}), on="class", how="outer")
        per_class["difference"] = per_class[nb] - per_class[na]
        per_class = per_class.sort_values("difference").reset_index(drop=True)
    return {"metrics": metrics, "per_class": per_class, "verdicts": verdicts, "results": {na: ra, nb: rb},
            "k": ca["k"], "names": [na, nb]}
