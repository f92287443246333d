"""Compare two representations of the same cells: clustering and probe side by side.

Used to ask, for instance, whether a recipe with strong rotations separates a phenotype better
than one with random crops, or whether a trained encoder beats ImageNet VGG16 (Bendidi et al.
2024, tables 3 and 4 compare exactly so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.evaluate.cluster import cluster_metrics
from ssrl_core.evaluate.probe import linear_probe


def compare(features_a: np.ndarray, features_b: np.ndarray, labels: np.ndarray | pd.Series,
            k: int | None = None, seed: int = 0, names: tuple[str, str] = ("A", "B"),
            test_fraction: float = 0.3) -> dict:
    """Metrics of two embeddings of the same cells against one metadata column.

    Returns a dict with `metrics` (DataFrame: metric, A, B, difference B - A for ami, ari, nmi,
    silhouette, top1) and `per_class` (DataFrame: class, n_test, A, B, difference), both probes
    using the same split (same seed).
    """
    a, b = np.asarray(features_a, np.float32), np.asarray(features_b, np.float32)
    if len(a) != len(b) or len(a) != len(labels):
        raise ValueError(f"both embeddings must describe the same cells: {len(a)}, {len(b)} and "
                         f"{len(labels)} labels")
    na, nb = names if names[0] != names[1] else ("A", "B")
    res = {}
    for name, x in ((na, a), (nb, b)):
        cm = cluster_metrics(x, labels, k=k, seed=seed)
        pr = linear_probe(x, labels, test_fraction=test_fraction, seed=seed)
        res[name] = (cm, pr)
    rows = []
    for m in ("ami", "ari", "nmi", "silhouette"):
        rows.append({"metric": m, na: res[na][0][m], nb: res[nb][0][m]})
    rows.append({"metric": "top1", na: res[na][1]["top1"], nb: res[nb][1]["top1"]})
    metrics = pd.DataFrame(rows)
    metrics["difference"] = metrics[nb] - metrics[na]
    pa = res[na][1]["per_class"].rename(columns={"accuracy": na})
    pb = res[nb][1]["per_class"][["class", "accuracy"]].rename(columns={"accuracy": nb})
    per_class = pa.merge(pb, on="class", how="outer")
    per_class["difference"] = per_class[nb] - per_class[na]
    return {"metrics": metrics, "per_class": per_class.sort_values("difference").reset_index(drop=True),
            "k": res[na][0]["k"], "names": [na, nb]}
