"""2-D maps of embeddings with t-SNE (scikit-learn) or UMAP (umap-learn), seeded.

Both first reduce the embedding to `pca_dims` dimensions with PCA (a standard speed-up that keeps
the neighbourhood structure) and are seeded, so the same call gives the same map.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from ssrl_core.evaluate.threads import compute_threads

METHODS = ("umap", "tsne", "pca")


def _pca(x: np.ndarray, dims: int | None, seed: int) -> np.ndarray:
    if dims is None or x.shape[1] <= dims or len(x) <= dims:
        return x
    return PCA(n_components=dims, random_state=seed).fit_transform(x).astype(np.float32)


def project(features: np.ndarray, method: str = "umap", seed: int = 0, pca_dims: int | None = 50,
            perplexity: float = 30.0, n_neighbors: int = 15, min_dist: float = 0.1,
            max_iter: int = 500) -> np.ndarray:
    """Map `(N, D)` embeddings to `(N, 2)` coordinates.

    Args:
        method: "umap", "tsne" or "pca".
        pca_dims: PCA pre-reduction (None to skip).
        perplexity: t-SNE's effective number of neighbours (lowered automatically for tiny sets).
        n_neighbors, min_dist: UMAP's neighbourhood size and how tightly it packs points.
        max_iter: t-SNE iterations (500, the first 250 with early exaggeration: about half the
            time of scikit-learn's default 1,000 for a slightly less settled map; raise it for figures).
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"need at least 3 cells with embeddings to draw a map; got shape {x.shape}")
    if method not in METHODS:
        raise ValueError(f"unknown map {method!r}; choose one of {', '.join(METHODS)}")
    with compute_threads(len(x)):
        return _project(x, method, seed, pca_dims, perplexity, n_neighbors, min_dist, max_iter)


def _project(x: np.ndarray, method: str, seed: int, pca_dims: int | None, perplexity: float,
             n_neighbors: int, min_dist: float, max_iter: int) -> np.ndarray:
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x).astype(np.float32)
    x = _pca(x, pca_dims, seed)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perp = float(min(perplexity, max(1.0, (len(x) - 1) / 3.0)))
        tsne = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed, max_iter=max_iter)
        return tsne.fit_transform(x).astype(np.float32)
    import umap  # imported lazily: it takes seconds to load (numba)

    nn = int(min(n_neighbors, len(x) - 1))
    reducer = umap.UMAP(n_components=2, n_neighbors=max(nn, 2), min_dist=min_dist, random_state=seed, n_jobs=1)
    return np.asarray(reducer.fit_transform(x), dtype=np.float32)
