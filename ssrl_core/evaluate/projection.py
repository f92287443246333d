"""2-D maps of embeddings with t-SNE (scikit-learn) or UMAP (umap-learn), seeded.

Both first reduce the embedding to `pca_dims` dimensions with PCA (a standard speed-up that keeps
the neighbourhood structure) and are seeded, so the same call gives the same map.

Large sets (more than `FIT_MAX[method]` cells): the map is fitted on a seeded random sample and
the other cells are placed on it. UMAP and PCA place them with their own `transform` (McInnes et
al. 2018: new points are embedded against the fitted graph); t-SNE has no transform, so each
other cell goes to the distance-weighted mean position of its 10 nearest sampled cells (in the
PCA space). `project_with_info` says which happened, so a page can tell the user.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from ssrl_core.evaluate.threads import compute_threads
from ssrl_core.evaluate.umap_jit import umap_module

METHODS = ("umap", "tsne", "pca")
FIT_MAX = {"umap": 20_000, "tsne": 5_000, "pca": 200_000}  # cells a map is fitted on; the rest are placed
PLACE_NEIGHBOURS = 10


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
    return project_with_info(features, method, seed, pca_dims, perplexity, n_neighbors, min_dist, max_iter)[0]


def project_with_info(features: np.ndarray, method: str = "umap", seed: int = 0, pca_dims: int | None = 50,
                      perplexity: float = 30.0, n_neighbors: int = 15, min_dist: float = 0.1,
                      max_iter: int = 500, fit_max: int | None = None) -> tuple[np.ndarray, dict]:
    """`(N, 2)` coordinates (as `project`) and how they were made.

    The info has `method`, `cells`, `fitted_on` (cells the map was fitted on), `placed` (cells
    placed afterwards), `placement` ("none", "transform" or "nearest-neighbours") and `note`, a
    plain sentence for the page ("" when every cell was fitted). `fit_max` overrides `FIT_MAX`.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"need at least 3 cells with embeddings to draw a map; got shape {x.shape}")
    if method not in METHODS:
        raise ValueError(f"unknown map {method!r}; choose one of {', '.join(METHODS)}")
    limit = int(fit_max if fit_max is not None else FIT_MAX[method])
    n = len(x)
    info = {"method": method, "cells": n, "fitted_on": n, "placed": 0, "placement": "none", "note": ""}
    if n <= limit:
        with compute_threads(n):
            return _project(x, method, seed, pca_dims, perplexity, n_neighbors, min_dist, max_iter), info
    rng = np.random.default_rng(seed)
    fit = np.sort(rng.choice(n, limit, replace=False))
    rest = np.setdiff1d(np.arange(n), fit, assume_unique=True)
    with compute_threads(limit):
        xy, place = _fit_and_place(x, fit, rest, method, seed, pca_dims, perplexity, n_neighbors, min_dist, max_iter)
    how = {"transform": f"placed on it with {method.upper()}'s own transform",
           "nearest-neighbours": f"placed at the mean position of their {PLACE_NEIGHBOURS} most similar "
                                 "sampled cells (t-SNE cannot place new cells itself)"}[place]
    info.update(fitted_on=limit, placed=int(len(rest)), placement=place,
                note=f"The map was fitted on a random sample of {limit:,} of the {n:,} cells; the other "
                     f"{len(rest):,} were {how}.")
    return xy, info


def _fit_and_place(x: np.ndarray, fit: np.ndarray, rest: np.ndarray, method: str, seed: int,
                   pca_dims: int | None, perplexity: float, n_neighbors: int, min_dist: float,
                   max_iter: int) -> tuple[np.ndarray, str]:
    out = np.empty((len(x), 2), dtype=np.float32)
    if pca_dims is not None and x.shape[1] > pca_dims and method != "pca":
        pca = PCA(n_components=pca_dims, random_state=seed).fit(x[fit])
        z = np.empty((len(x), pca_dims), dtype=np.float32)
        for s in range(0, len(x), 65536):  # in blocks: no second full-size float64 copy
            z[s:s + 65536] = pca.transform(x[s:s + 65536])
    else:
        z = x
    if method == "pca":
        pca2 = PCA(n_components=2, random_state=seed).fit(z[fit])
        for s in range(0, len(x), 65536):
            out[s:s + 65536] = pca2.transform(z[s:s + 65536])
        return out, "transform"
    if method == "umap":
        umap = umap_module()
        nn = int(min(n_neighbors, len(fit) - 1))
        reducer = umap.UMAP(n_components=2, n_neighbors=max(nn, 2), min_dist=min_dist, random_state=seed, n_jobs=1)
        out[fit] = np.asarray(reducer.fit_transform(z[fit]), dtype=np.float32)
        out[rest] = np.asarray(reducer.transform(z[rest]), dtype=np.float32)
        return out, "transform"
    from sklearn.manifold import TSNE
    from sklearn.neighbors import NearestNeighbors

    perp = float(min(perplexity, max(1.0, (len(fit) - 1) / 3.0)))
    out[fit] = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed,
                    max_iter=max_iter).fit_transform(z[fit]).astype(np.float32)
    k = min(PLACE_NEIGHBOURS, len(fit))
    index = NearestNeighbors(n_neighbors=k).fit(z[fit])
    for s in range(0, len(rest), 65536):
        part = rest[s:s + 65536]
        dist, nbr = index.kneighbors(z[part])
        w = 1.0 / np.maximum(dist, 1e-6)
        out[part] = (out[fit][nbr] * w[..., None]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    return out, "nearest-neighbours"


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
    umap = umap_module()  # imported when needed: it takes seconds to load (numba)
    nn = int(min(n_neighbors, len(x) - 1))
    reducer = umap.UMAP(n_components=2, n_neighbors=max(nn, 2), min_dist=min_dist, random_state=seed, n_jobs=1)
    return np.asarray(reducer.fit_transform(x), dtype=np.float32)
