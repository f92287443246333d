"""Clustering, probes, projections, comparison and exports on small synthetic embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from ssrl_core.evaluate.cluster import chance_ami, cluster_metrics, kmeans, nearest_to_centroid, shuffled_amis
from ssrl_core.evaluate.comparison import compare
from ssrl_core.evaluate.export import embedding_frame, read_embeddings, write_table
from ssrl_core.evaluate.probe import linear_probe
from ssrl_core.evaluate.projection import project


def blobs(n_per: int = 30, k: int = 3, dim: int = 8, spread: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, size=(k, dim))
    x = np.concatenate([c + rng.normal(0, spread, size=(n_per, dim)) for c in centres]).astype(np.float32)
    y = np.repeat([f"class{i}" for i in range(k)], n_per)
    return x, y


@pytest.mark.parametrize("n, labels, k", [(300, 4, 4), (257, 16, 9), (90, 2, 30), (50, 1, 3), (40, 3, 1), (30, 1, 1)])
def test_shuffled_amis_are_scikit_learns_ami_of_each_shuffle(n, labels, k) -> None:
    """The chance level computes E[MI] and the entropies once: every shuffle's AMI must still be
    scikit-learn's, the shuffles drawn in the same order, edge cases (one label, one cluster) included."""
    rng = np.random.default_rng(n)
    y = np.array([f"t{v}" for v in rng.integers(0, labels, n)])
    clusters = rng.integers(0, k, n) * 7  # ids need not be 0..k-1
    fast = shuffled_amis(clusters, y, seed=3, permutations=25)
    draw = np.random.default_rng(3)
    slow = [adjusted_mutual_info_score(draw.permutation(y), clusters) for _ in range(25)]
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    assert chance_ami(clusters, y, seed=3, permutations=25) == pytest.approx(np.percentile(slow, 95), abs=1e-12)


def test_cluster_metrics_perfect_and_shuffled() -> None:
    x, y = blobs()
    good = cluster_metrics(x, y, k=3)
    assert good["ami"] == pytest.approx(1.0) and good["ari"] == pytest.approx(1.0)
    assert good["silhouette"] > 0.8
    assert sorted(good["sizes"].values()) == [30, 30, 30]
    assert good["composition"].to_numpy().sum() == 90
    shuffled = cluster_metrics(x, np.random.default_rng(1).permutation(y), k=3)
    assert shuffled["ami"] < 0.1
    assert cluster_metrics(x, y)["k"] == 3  # k defaults to the number of labels


def test_cluster_errors_are_plain() -> None:
    x, y = blobs()
    with pytest.raises(ValueError, match="k must be between"):
        kmeans(x, 0)
    with pytest.raises(ValueError, match="NaN"):
        kmeans(np.full((4, 2), np.nan), 2)
    with pytest.raises(ValueError, match="labels"):
        cluster_metrics(x, y[:10])


def test_nearest_and_farthest_match_brute_force() -> None:
    x, y = blobs(n_per=12)
    clusters = kmeans(x, 3)
    res = nearest_to_centroid(x, clusters, n=4)
    for c, r in res.items():
        members = np.flatnonzero(clusters == c)
        d = np.linalg.norm(x[members] - x[members].mean(0), axis=1)
        assert list(r["nearest"]) == list(members[np.argsort(d)[:4]])
        assert list(r["farthest"]) == list(members[np.argsort(-d)[:4]])
        assert r["nearest_distance"][0] <= r["farthest_distance"][-1]


def test_linear_probe_reports_per_class_and_confusion() -> None:
    x, y = blobs()
    res = linear_probe(x, y, test_fraction=0.3)
    assert res["top1"] == pytest.approx(1.0)
    assert res["confusion"].shape == (3, 3) and res["confusion"].to_numpy().trace() == res["n_test"]
    assert list(res["per_class"]["n_test"]) == [9, 9, 9]  # stratified
    noise = linear_probe(np.random.default_rng(0).normal(size=(90, 8)), y)
    assert noise["top1"] < 0.7
    y2 = y.copy()
    y2[0] = "lonely"
    assert linear_probe(x, y2)["dropped"] == ["lonely"]


def test_projections_are_seeded() -> None:
    x, _ = blobs(n_per=15)
    a = project(x, "tsne", seed=0, perplexity=5, max_iter=250)
    b = project(x, "tsne", seed=0, perplexity=5, max_iter=250)
    assert a.shape == (45, 2) and np.allclose(a, b)
    assert project(x, "pca").shape == (45, 2)
    with pytest.raises(ValueError, match="unknown map"):
        project(x, "mds")


@pytest.mark.slow
def test_umap_is_seeded() -> None:
    x, _ = blobs(n_per=20)
    a, b = project(x, "umap", seed=3), project(x, "umap", seed=3)
    assert a.shape == (60, 2) and np.allclose(a, b)


def test_compare_side_by_side() -> None:
    x, y = blobs()
    noise = np.random.default_rng(0).normal(size=x.shape).astype(np.float32)
    res = compare(noise, x, pd.DataFrame({"label": y}), "label", names=("noise", "blobs"))
    m = res["metrics"].set_index("metric")
    assert m.loc["ami", "blobs"] > m.loc["ami", "noise"] + 0.5
    assert m.loc["probe balanced accuracy", "difference"] > 0.3
    assert set(res["per_class"].columns) >= {"class", "noise", "blobs", "difference"}
    assert res["verdicts"][0].startswith("blobs scores higher")
    same = compare(x, x.copy(), pd.DataFrame({"label": y}), "label", names=("a", "b"))
    assert all(v.startswith("No clear difference") for v in same["verdicts"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_embedding_file_round_trip(tmp_path, suffix) -> None:
    x, y = blobs(n_per=5)
    meta = pd.DataFrame({"label": y, "cell_index": np.arange(15) + 100})
    df = embedding_frame(meta, x, dataset="toy", cell_index=np.arange(15) * 2, clusters=kmeans(x, 3))
    path = write_table(df, tmp_path / f"emb{suffix}")
    feats, back = read_embeddings(path)
    assert np.allclose(feats, x, atol=1e-5)
    assert list(back["cell_index"]) == list(np.arange(15) * 2)
    assert list(back["source_cell_index"]) == list(np.arange(15) + 100)
    assert set(back["dataset"]) == {"toy"} and "cluster" in back.columns
    with pytest.raises(ValueError, match="no embedding columns"):
        read_embeddings(write_table(meta, tmp_path / f"meta{suffix}"))


def test_small_problems_run_single_threaded() -> None:
    from threadpoolctl import threadpool_info

    from ssrl_core.evaluate.threads import SMALL_ROWS, compute_threads

    with compute_threads(100):
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    before = [p["num_threads"] for p in threadpool_info()]
    with compute_threads(SMALL_ROWS):
        assert [p["num_threads"] for p in threadpool_info()] == before
