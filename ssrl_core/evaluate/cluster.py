"""K-Means clustering of embeddings and its agreement with metadata (Bendidi et al. 2024).

The paper clusters embeddings with K-Means (k = 10 on MNIST, k = 2 for treated vs untreated
cells) and scores the clusters with the Adjusted Mutual Information (AMI) against the known
labels, and with the silhouette score for how well separated the clusters are, whatever they
mean. ARI and NMI are given next to AMI for readers used to them.

One K-Means run lands in one of many nearly equally good solutions, and on 16 phenotypes the
AMI of two runs differs by up to 0.05 (measured on MitoCheck's held-out plates). So
`cluster_metrics` runs K-Means `RUNS` times (each with `N_INIT` k-means++ starts, seeds
`seed * 1000 + i`) and reports the median AMI over the runs, the clusters of the run that gives
it, and the range over the runs (`ami_spread`: what a single seed could have shown). Measured:
changing `seed` moves the median by at most 0.011 where one run moves by 0.046. The
`chance95` is the 95th percentile of the AMI of the same clusters against shuffled labels.

Above `MINIBATCH_ABOVE` cells (a whole plate and more) K-Means runs as `MiniBatchKMeans`
(Sculley 2010: k-means on random mini-batches, the same objective, a small loss in inertia for a
large saving in time and memory); the metrics are the same and computed on every cell, and the
result says which method ran (`method`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    mutual_info_score,
    normalized_mutual_info_score,
    silhouette_score,
)

# scikit-learn's own expected mutual information (pinned in requirements.txt; a test compares the
# whole null distribution with `adjusted_mutual_info_score`, so an upgrade that changes it fails there)
from sklearn.metrics.cluster._expected_mutual_info_fast import expected_mutual_information

from ssrl_core.evaluate.threads import compute_threads

SILHOUETTE_SAMPLE = 3000
MINIBATCH_ABOVE = 50_000  # cells; above this K-Means runs on mini-batches
MINIBATCH_SIZE = 4096
RUNS = 10  # K-Means runs whose median AMI is reported
N_INIT = 3  # k-means++ starts within a run (the best inertia is kept)
LARGE_RUNS = 3  # runs above MINIBATCH_ABOVE cells
PERMUTATIONS = 100


def _check(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"embeddings must be a (cells, dimensions) table; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("the embeddings contain NaN or infinite values; re-embed the cells")
    return x


def kmeans_method(n: int) -> str:
    """"kmeans" or, above `MINIBATCH_ABOVE` cells, "minibatch-kmeans"."""
    return "minibatch-kmeans" if n > MINIBATCH_ABOVE else "kmeans"


def kmeans(features: np.ndarray, k: int, seed: int = 0, method: str | None = None,
           n_init: int = N_INIT) -> np.ndarray:
    """K-Means cluster ids `(N,)` of one run (k-means++, `n_init` starts, fixed seed); mini-batch
    K-Means (batches of 4,096 cells) above `MINIBATCH_ABOVE` cells or with
    `method="minibatch-kmeans"`."""
    x = _check(features)
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be between 1 and the number of cells ({len(x)}); got {k}")
    method = method or kmeans_method(len(x))
    with compute_threads(len(x)):
        if method == "minibatch-kmeans":
            mbk = MiniBatchKMeans(n_clusters=k, batch_size=min(MINIBATCH_SIZE, len(x)), n_init=n_init,
                                  random_state=seed)
            return mbk.fit_predict(x).astype(np.int64)
        if method != "kmeans":
            raise ValueError(f"unknown clustering method {method!r}; use kmeans or minibatch-kmeans")
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x).astype(np.int64)


def silhouette(features: np.ndarray, groups: np.ndarray, seed: int = 0) -> float:
    """Silhouette score (-1..1) of a grouping; NaN with fewer than 2 groups.

    Computed on a seeded sample of at most 3,000 cells for speed.
    """
    x = _check(features)
    g = np.asarray(groups)
    if len(np.unique(g)) < 2 or len(np.unique(g)) >= len(x):
        return float("nan")
    size = SILHOUETTE_SAMPLE if len(x) > SILHOUETTE_SAMPLE else None
    with compute_threads(len(x)):
        return float(silhouette_score(x, g, sample_size=size, random_state=seed))


def agreement(clusters: np.ndarray, labels: np.ndarray | pd.Series) -> dict[str, float]:
    """AMI, ARI and NMI between cluster ids and labels (missing labels are left out)."""
    lab = pd.Series(np.asarray(labels, dtype=object))
    keep = lab.notna().to_numpy()
    c, y = np.asarray(clusters)[keep], lab[keep].astype(str).to_numpy()
    if len(y) == 0:
        raise ValueError("no cell has a value in this metadata column")
    return {"ami": float(adjusted_mutual_info_score(y, c)), "ari": float(adjusted_rand_score(y, c)),
            "nmi": float(normalized_mutual_info_score(y, c))}


def chance_ami(clusters: np.ndarray, labels: np.ndarray, seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """95th percentile of the AMI of `clusters` against `permutations` shuffles of `labels`."""
    return float(np.percentile(shuffled_amis(clusters, labels, seed, permutations), 95))


def _entropy(ids: np.ndarray) -> float:
    """Entropy (natural log) of a labelling given as 0..k-1 ids, as scikit-learn computes it for AMI."""
    pi = np.bincount(ids).astype(np.float64)
    pi = pi[pi > 0]
    if pi.size == 1:
        return 0.0
    total = np.sum(pi)
    return float(-np.sum((pi / total) * (np.log(pi) - np.log(total))))


def shuffled_amis(clusters: np.ndarray, labels: np.ndarray, seed: int = 0,
                  permutations: int = PERMUTATIONS) -> np.ndarray:
    """`adjusted_mutual_info_score(rng.permutation(labels), clusters)` for `permutations` shuffles.

    AMI = (MI - E[MI]) / (mean(H(labels), H(clusters)) - E[MI]) (Vinh, Epps & Bailey 2010). A
    shuffle keeps how many cells each label and each cluster has, and E[MI] and both entropies
    depend on nothing else: they are computed once (E[MI] is most of AMI's time), and only the
    mutual information of each shuffle's contingency table is. The same numbers as calling
    scikit-learn's AMI on every shuffle (tests/core/evaluate/test_evaluate_metrics.py), 15-60x sooner.
    """
    rng = np.random.default_rng(seed)
    _, y = np.unique(np.asarray(labels), return_inverse=True)
    _, c = np.unique(np.asarray(clusters), return_inverse=True)
    ny, nc = (int(v.max()) + 1 if len(v) else 0 for v in (y, c))
    if ny == nc and ny <= 1:
        return np.ones(permutations)  # neither labelling splits the cells: scikit-learn's perfect match
    if ny == 1 or nc == 1:
        return np.zeros(permutations)

    def table(y_shuffled: np.ndarray) -> np.ndarray:
        return np.bincount(y_shuffled * nc + c, minlength=ny * nc).reshape(ny, nc)

    emi = expected_mutual_information(table(y), len(y))
    denominator = float(np.mean([_entropy(y), _entropy(c)])) - emi
    eps = np.finfo("float64").eps
    denominator = min(denominator, -eps) if denominator < 0 else max(denominator, eps)
    null = np.empty(permutations)
    for i in range(permutations):
        numerator = mutual_info_score(None, None, contingency=table(rng.permutation(y))) - emi
        numerator = min(numerator, -eps) if numerator < 0 else max(numerator, eps)
        null[i] = numerator / denominator
    return null


def cluster_metrics(features: np.ndarray, labels: np.ndarray | pd.Series, k: int | None = None,
                    seed: int = 0, clusters: np.ndarray | None = None, method: str | None = None,
                    runs: int | None = None) -> dict:
    """Cluster the embeddings (`RUNS` K-Means runs) and score them against a metadata column.

    The features are used as given: `ssrl_core.evaluate.protocol` normalises them first (per
    plate, to the controls) and is what pages and commands call.

    Args:
        features: `(N, D)` embeddings.
        labels: `(N,)` the metadata column to compare with (phenotype, compound, plate...).
        k: number of clusters; default: the number of distinct labels.
        seed: base seed of the runs.
        clusters: precomputed cluster ids (then `k` and the runs are ignored).
        method: "kmeans" or "minibatch-kmeans" (default: by size, see `MINIBATCH_ABOVE`).
        runs: K-Means runs (default `RUNS`, `LARGE_RUNS` above `MINIBATCH_ABOVE` cells).

    Returns:
        dict with k, n, ami (median over the runs), ami_runs (every run's AMI), ami_spread (max -
        min over the runs), chance95, ari, nmi and silhouette (of the median run's clusters),
        clusters (ids per cell), sizes (cells per cluster), composition (cluster x label counts, a
        DataFrame), runs and method (the clustering that ran, "given" for precomputed clusters).
    """
    x = _check(features)
    labels = np.asarray(labels, dtype=object)
    if len(labels) != len(x):
        raise ValueError(f"{len(x)} embeddings but {len(labels)} labels")
    used = "given"
    if clusters is None:
        k = int(k) if k else int(pd.Series(labels).nunique())
        used = method or kmeans_method(len(x))
        n_runs = runs or (LARGE_RUNS if used == "minibatch-kmeans" else RUNS)
        candidates = [kmeans(x, max(k, 1), seed * 1000 + i, used) for i in range(n_runs)]
        scores = [agreement(c, labels)["ami"] for c in candidates]
        order = np.argsort(scores, kind="stable")
        clusters = candidates[int(order[(len(order) - 1) // 2])]  # the (lower) median run
    else:
        clusters = np.asarray(clusters)
        scores = [agreement(clusters, labels)["ami"]]
        n_runs = 1
    out = {"k": int(len(np.unique(clusters))), "n": int(len(x)), "method": used, "runs": n_runs}
    out.update(agreement(clusters, labels))
    out["ami_runs"] = [float(v) for v in scores]
    out["ami_spread"] = float(max(scores) - min(scores))
    keep = pd.Series(labels).notna().to_numpy()
    out["chance95"] = chance_ami(clusters[keep], pd.Series(labels[keep]).astype(str).to_numpy(), seed)
    out["silhouette"] = silhouette(x, clusters, seed)
    out["clusters"] = clusters
    out["sizes"] = {int(c): int(n) for c, n in zip(*np.unique(clusters, return_counts=True))}
    out["composition"] = composition(clusters, labels)
    return out


def composition(clusters: np.ndarray, labels: np.ndarray | pd.Series) -> pd.DataFrame:
    """Cells per (cluster, label): rows are clusters, columns labels."""
    return pd.crosstab(pd.Series(np.asarray(clusters), name="cluster"),
                       pd.Series(np.asarray(labels, dtype=object), name="label").astype(str))


def nearest_to_centroid(features: np.ndarray, clusters: np.ndarray, n: int = 8) -> dict[int, dict]:
    """For each cluster, the `n` cells closest to its centroid and its `n` farthest members.

    Distances are Euclidean in the embedding. Returns `{cluster: {"nearest": idx, "farthest":
    idx, "nearest_distance": d, "farthest_distance": d}}` with row positions, closest first
    and farthest first. The nearest are the cluster's typical cells; the farthest are boundary
    cells, often ambiguous or damaged.
    """
    x = _check(features)
    clusters = np.asarray(clusters)
    out: dict[int, dict] = {}
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)
        d = np.linalg.norm(x[members] - x[members].mean(axis=0), axis=1)
        order = np.argsort(d, kind="stable")
        near, far = order[:n], order[::-1][:n]
        out[int(c)] = {"nearest": members[near], "farthest": members[far],
                       "nearest_distance": d[near], "farthest_distance": d[far]}
    return out
