"""Evaluation that scales: mini-batch K-Means above a size threshold, maps fitted on a sample."""

from __future__ import annotations

import numpy as np
import pytest

from ssrl_core.evaluate import cluster
from ssrl_core.evaluate.projection import project, project_with_info


def _blobs(n: int, k: int = 6, d: int = 24, seed: int = 0, spread: float = 3.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * spread
    labels = rng.integers(0, k, n)
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def test_minibatch_kmeans_above_the_threshold_scores_like_kmeans(monkeypatch):
    x, labels = _blobs(6000)
    full = cluster.cluster_metrics(x, labels, seed=0)
    assert full["method"] == "kmeans"
    monkeypatch.setattr(cluster, "MINIBATCH_ABOVE", 5000)
    mini = cluster.cluster_metrics(x, labels, seed=0)
    assert mini["method"] == "minibatch-kmeans" and mini["n"] == 6000 and mini["k"] == 6
    assert mini["ami"] > 0.9 and abs(mini["ami"] - full["ami"]) < 0.05
    assert abs(mini["silhouette"] - full["silhouette"]) < 0.05
    assert sum(mini["sizes"].values()) == 6000 and mini["composition"].to_numpy().sum() == 6000
    noise = np.random.default_rng(1).normal(size=(6000, 24)).astype(np.float32)  # no structure: low AMI
    assert cluster.cluster_metrics(noise, labels, seed=0)["ami"] < 0.05
    again = cluster.cluster_metrics(x, labels, seed=0)
    assert np.array_equal(again["clusters"], mini["clusters"])  # seeded
    with pytest.raises(ValueError, match="unknown clustering method"):
        cluster.kmeans(x, 3, method="dbscan")


@pytest.mark.parametrize("method, placement", [("pca", "transform"), ("tsne", "nearest-neighbours")])
def test_maps_fit_a_sample_and_place_the_rest(method, placement):
    x, labels = _blobs(1500, k=3, spread=6.0)
    xy, info = project_with_info(x, method, fit_max=400)
    assert xy.shape == (1500, 2) and np.isfinite(xy).all()
    assert info["fitted_on"] == 400 and info["placed"] == 1100 and info["placement"] == placement
    assert "400" in info["note"] and "1,500" in info["note"]
    # placed cells land with their own group: nearest group centre on the map is their label's
    centres = np.stack([xy[labels == g].mean(axis=0) for g in range(3)])
    nearest = np.argmin(((xy[:, None, :] - centres[None]) ** 2).sum(axis=-1), axis=1)
    assert (nearest == labels).mean() > 0.95
    small, small_info = project_with_info(x[:300], method)
    assert small_info["placement"] == "none" and small_info["note"] == ""
    assert np.array_equal(small, project(x[:300], method))
