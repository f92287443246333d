"""Per-compound check and factor probe on real BBBC021 crops (a small subset)."""

from __future__ import annotations

import numpy as np
import pytest

from ssrl_core.evaluate.compound import check_compound
from ssrl_core.evaluate.embedding import embed
from ssrl_core.evaluate.factors import factor_chart_frame, factor_probe, nuisance_factors


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def crops(shared_data):
    """300 crops: 100 DMSO from each plate and 100 cycloheximide (plate 27801)."""
    from ssrl_core.data.registry import load_dataset

    # by path through the registry: the shared file stores no channel names, its source gives them
    cells = load_dataset(shared_data / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz")
    m = cells.meta
    rng = np.random.default_rng(0)
    parts = [rng.choice(np.flatnonzero(((m["compound"] == c) & (m["plate"] == p)).to_numpy()), 100, replace=False)
             for c, p in (("DMSO", "Week4_27481"), ("DMSO", "Week4_27801"), ("cyclohexamide", "Week4_27801"))]
    return cells.subset(np.sort(np.concatenate(parts)))


def test_check_compound_gives_sane_numbers(crops) -> None:
    feats = embed(crops, "hand-features")
    r = check_compound(feats, crops.meta, "cyclohexamide", control="DMSO")
    assert r["n_treated"] == 100 and r["n_control"] == 200 and r["k"] == 2
    for key in ("compound_ami", "plate_ami"):
        assert -0.05 <= r[key] <= 1.0
    assert r["normalisation"]["scope"] == "per plate" and r["probe"]["held_out_by"] == "well"
    assert r["probe"]["balanced_accuracy"] > r["probe"]["chance95"]  # hand features see cycloheximide on unseen wells
    for key in ("compound_silhouette", "cluster_silhouette", "plate_silhouette"):
        assert -1.0 <= r[key] <= 1.0
    assert set(r["plates"]) == {"Week4_27481", "Week4_27801"}
    assert sum(sum(v.values()) for v in r["composition"].values()) == 300
    assert r["compound_ami"] > 0.05  # hand features do see cycloheximide-treated cells
    assert isinstance(r["verdict"], str) and "AMI" in r["verdict"] and "probe trained on other wells" in r["verdict"]
    dosed = check_compound(feats, crops.meta, "cyclohexamide", dose=50)
    assert 0 < dosed["n_treated"] < 100
    with pytest.raises(ValueError, match="doses present"):
        check_compound(feats, crops.meta, "cyclohexamide", dose=7)
    with pytest.raises(ValueError, match="no cell has compound"):
        check_compound(feats, crops.meta, "taxol")
    with pytest.raises(ValueError, match="both"):
        check_compound(feats, crops.meta, "DMSO", control="dmso")


def test_factor_probe_measures_nuclei_and_intensity(crops) -> None:
    nuisance = nuisance_factors(crops)
    assert {"n_nuclei", "nucleus_area", "nucleus_offset", "total_intensity_DAPI"} <= set(nuisance.columns)
    assert (nuisance["n_nuclei"] >= 1).mean() > 0.9  # crops are centred on a nucleus
    assert nuisance["nucleus_area"].median() > 100  # 68 px crops of MCF-7 nuclei
    assert nuisance["nucleus_offset"].median() < 10  # ... and centred
    feats = embed(crops, "random-tiny_cnn")
    table = factor_probe(feats, crops.meta, nuisance)
    by = table.set_index("factor")
    assert {"compound", "plate", "n_nuclei", "total_intensity_DAPI", "nucleus_area"} <= set(by.index)
    assert by.loc["plate", "kind"] == "batch" and by.loc["n_nuclei", "kind"] == "nuisance"
    assert by.loc["total_intensity_DAPI", "probe_metric"] == "r2"
    assert by.loc["total_intensity_DAPI", "levels"] == 4  # quartile bins for the AMI
    assert by.loc["compound", "probe_metric"] == "balanced accuracy" and by.loc["compound", "held_out_by"] == "well"
    assert table["ami"].between(-0.1, 1).all()
    assert by.loc["total_intensity_DAPI", "probe_score"] > 0.3  # even random conv features see brightness
    chart = factor_chart_frame(table)
    assert len(chart) == 2 * len(table) and set(chart["measure"]) >= {"AMI", "probe R^2", "probe balanced accuracy"}
