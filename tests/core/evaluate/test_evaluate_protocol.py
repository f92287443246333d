"""The one evaluation protocol: per-plate normalisation, K-Means runs, held-out probes, honest mAP.

Synthetic plates and wells with a known structure, so each rule can fail: a plate shift that
normalisation must remove, treatments on one plate only (wells held out), identical embeddings
that must never be significant, a one-well treatment that gets no p-value, and copairs run
directly on the same profiles.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ssrl_core.cli import main
from ssrl_core.evaluate.heldout_probe import heldout_probe, make_folds
from ssrl_core.evaluate.map_copairs import activity_map, compound_map
from ssrl_core.evaluate.normalise import find_controls, normalise
from ssrl_core.evaluate.protocol import PROTOCOL, evaluate_cells, summary
from ssrl_core.evaluate.verdicts import compare_words, differs, factor_level


def plate_layout(cells_per_well: int = 12, seed: int = 0, effect: float = 2.0, shift: float = 4.0):
    """Two plates x (3 DMSO wells + 3 drug wells); plate P2 is shifted and scaled (a batch effect)."""
    rng = np.random.default_rng(seed)
    rows = []
    for plate in ("P1", "P2"):
        for w in range(6):
            rows += [{"plate": plate, "well": f"{'ABCDEF'[w]}01", "compound": "DMSO" if w < 3 else "drug"}] * cells_per_well
    meta = pd.DataFrame(rows)
    x = rng.normal(size=(len(meta), 10)).astype(np.float32)
    x[:, 0] += effect * (meta["compound"] == "drug").to_numpy()
    p2 = (meta["plate"] == "P2").to_numpy()
    x[p2] = x[p2] * 3.0 + shift
    return x, meta


def test_normalise_removes_the_plate_shift_per_plate_to_controls():
    x, meta = plate_layout()
    norm = normalise(x, meta, clip=None)
    assert norm.per_plate and norm.reference == "controls" and norm.control == "DMSO"
    for plate in ("P1", "P2"):
        ctrl = norm.features[((meta["plate"] == plate) & (meta["compound"] == "DMSO")).to_numpy()]
        assert np.allclose(ctrl.mean(axis=0), 0, atol=1e-4) and np.allclose(ctrl.std(axis=0), 1, atol=1e-3)
    assert "2 plates" in norm.note
    # one plate without controls: one reference for all, named in the note
    meta2 = meta.assign(compound=np.where((meta["plate"] == "P2") & (meta["compound"] == "DMSO"), "other",
                                          meta["compound"]))
    n2 = normalise(x, meta2)
    assert not n2.per_plate and n2.reference == "controls" and "P2" in n2.note
    # no controls at all (a phenotype atlas): all cells, and clipped at the protocol's 5 SD
    n3 = normalise(x * 100, pd.DataFrame({"label": meta["compound"]}))
    assert n3.reference == "all cells" and np.abs(n3.features).max() <= PROTOCOL.clip
    mask, value, column = find_controls(pd.DataFrame({"control_type": ["negcon", "trt"]}))
    assert value == "negcon" and column == "control_type" and mask.tolist() == [True, False]


def test_plate_normalisation_recovers_the_treatment_the_plate_hid():
    x, meta = plate_layout(effect=3.0, shift=6.0)
    res = evaluate_cells(x, meta, "compound")
    assert res["cluster"]["ami"] > 0.5 and res["raw"]["ami"] < 0.2  # the raw clusters follow the plate
    assert res["plate"]["plate_ami_raw"] > 0.9 and abs(res["plate"]["plate_ami"]) < 0.1
    assert res["probe"]["held_out_by"] == "plate" and res["probe"]["balanced_accuracy"] > 0.9
    s = summary(res)
    assert s["ami"] == res["cluster"]["ami"] and s["probe_held_out_by"] == "plate"
    json.dumps(s)  # JSON-ready


def test_clusters_that_follow_the_plate_are_called_so():
    x, meta = plate_layout(effect=0.0, shift=6.0)
    meta = meta.assign(compound=np.where(meta.index % 2 == 0, "a", "b"))  # no controls, no effect
    res = evaluate_cells(x, meta, "compound")
    assert res["cluster"]["ami"] <= res["cluster"]["chance95"] + 0.02
    assert any("the plate, not the biology" in w for w in res["warnings"]), res["warnings"]
    assert "do not follow" in res["words"]


def test_folds_hold_out_plates_else_wells_else_cells():
    _, meta = plate_layout()
    y = meta["compound"].to_numpy()
    folds = make_folds(meta, y)
    assert folds.held_out_by == "plate"
    for f in np.unique(folds.fold):  # a fold never mixes the plates it tests with those it trains on
        assert not set(meta["plate"][folds.fold == f]) & set(meta["plate"][folds.fold != f])
    one_plate = meta.assign(plate=np.where(meta["compound"] == "drug", "P1", meta["plate"]))
    folds = make_folds(one_plate, y)
    assert folds.held_out_by == "well" and folds.n_folds >= 2
    wells = one_plate["plate"] + "/" + one_plate["well"]
    for f in np.unique(folds.fold):
        train = folds.fold != f
        assert not set(wells[~train]) & set(wells[train])
        assert set(y[train]) == {"DMSO", "drug"}  # every fold trains on both groups
    assert make_folds(pd.DataFrame(index=range(len(y))), y).held_out_by == "cell"
    assert "optimistic" in make_folds(pd.DataFrame(index=range(len(y))), y).words()


def test_probe_on_noise_is_at_chance_and_knn_is_not_fooled_by_group_sizes():
    rng = np.random.default_rng(1)
    meta = pd.DataFrame({"plate": np.repeat(["P1", "P2", "P3"], 110),
                         "g": np.tile(["big"] * 100 + ["small"] * 10, 3)})
    noise = heldout_probe(rng.normal(size=(330, 6)), meta["g"], meta)
    assert noise["balanced_accuracy"] <= noise["chance95"] + 0.05
    signal = rng.normal(size=(330, 6))
    signal[:, 0] += 4 * (meta["g"] == "small").to_numpy()
    res = heldout_probe(signal, meta["g"], meta)
    assert res["balanced_accuracy"] > 0.9 and res["knn"] > 0.8  # a plain majority vote says about 0.6


def test_kmeans_runs_make_ami_stable_and_report_the_spread():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.2, size=(12, 6))
    y = np.repeat(np.arange(12), 40)
    x = (centres[y] + rng.normal(size=(len(y), 6))).astype(np.float32)
    from sklearn.metrics import adjusted_mutual_info_score

    from ssrl_core.evaluate.cluster import cluster_metrics, kmeans

    single = [adjusted_mutual_info_score(y, kmeans(x, 12, seed=s)) for s in range(6)]
    medians = [cluster_metrics(x, y, seed=s)["ami"] for s in range(3)]
    res = cluster_metrics(x, y)
    print(f"single runs {min(single):.3f}-{max(single):.3f}; protocol {min(medians):.3f}-{max(medians):.3f}")
    assert max(single) - min(single) > max(medians) - min(medians)
    assert max(medians) - min(medians) < 0.02
    assert res["ami_spread"] == pytest.approx(max(res["ami_runs"]) - min(res["ami_runs"])) and res["ami_spread"] > 0
    assert len(res["ami_runs"]) == 10 and res["chance95"] < 0.05


@pytest.mark.parametrize("kind", ["identical", "zeros"])
def test_identical_embeddings_never_get_a_significant_map(kind):
    _, meta = plate_layout()
    x = np.ones((len(meta), 8), np.float32) if kind == "identical" else np.zeros((len(meta), 8), np.float32)
    for level in ("well", "cell"):
        table = activity_map(x, meta, meta["compound"], level=level, null_size=1000)
        row = table.iloc[0]
        assert not bool(row["significant"]) and row["p_value"] >= 0.05, row.to_dict()
        assert row["mean_average_precision"] < 0.8  # chance level, not the 1.0 of positives-first ties
    r = compound_map(x, meta, (meta["compound"] == "drug").to_numpy(), (meta["compound"] == "DMSO").to_numpy(),
                     levels=("well",), null_size=1000)
    assert r["levels"]["well"]["p_value"] == 1.0 and "identical" in r["levels"]["well"]["note"]


def test_one_well_treatment_gets_no_p_value_and_cells_are_exploratory():
    x, meta = plate_layout(effect=4.0)
    meta = meta.copy()
    meta.loc[(meta["plate"] == "P1") & (meta["well"] == "D01"), "compound"] = "lonely"
    table = activity_map(x, meta, meta["compound"], level="well", null_size=1000).set_index("treatment")
    assert np.isnan(table.loc["lonely", "p_value"]) and not table.loc["lonely", "significant"]
    assert "1 well only" in table.loc["lonely", "note"]
    assert table.loc["drug", "significant"] and table.loc["drug", "profiles"] == 5
    cells = activity_map(x, meta, meta["compound"], level="cell", null_size=1000).set_index("treatment")
    assert cells.loc["drug", "mean_average_precision"] > 0.5 and not cells["significant"].any()
    assert "exploratory" in cells.loc["drug", "note"]


def test_map_matches_copairs_run_directly_on_the_same_profiles():
    from copairs import map as cmap
    from copairs.matching import assign_reference_index

    x, meta = plate_layout(effect=1.0, cells_per_well=1)  # one profile per well: profiles as they are
    meta = meta.assign(compound=np.where(meta["compound"] == "drug", np.where(meta.index % 2, "d1", "d2"), "DMSO"))
    ours = activity_map(x, meta, meta["compound"], level="profile", null_size=2000, seed=3).set_index("treatment")
    m = meta.assign(Metadata_treatment=meta["compound"]).reset_index(drop=True)
    m = assign_reference_index(m, list(m.index[m["compound"] == "DMSO"]), reference_col="Metadata_Reference_Index")
    key = ["Metadata_treatment", "Metadata_Reference_Index"]
    ap = cmap.average_precision(m, x / np.linalg.norm(x, axis=1, keepdims=True), pos_sameby=key, pos_diffby=[],
                                neg_sameby=[], neg_diffby=key, progress_bar=False)
    ref = cmap.mean_average_precision(ap[ap["Metadata_treatment"] != "DMSO"], ["Metadata_treatment"],
                                      null_size=2000, threshold=0.05, seed=3, progress_bar=False)
    for _, r in ref.iterrows():
        mine = ours.loc[r["Metadata_treatment"]]
        assert mine["mean_average_precision"] == pytest.approx(r["mean_average_precision"], abs=1e-6)
        assert mine["p_value"] == pytest.approx(r["p_value"], abs=1e-9)


def test_map_command_reads_a_pycytominer_profile_table(tmp_path, capsys):
    x, meta = plate_layout(effect=3.0, cells_per_well=1)
    table = pd.concat([meta.rename(columns={"plate": "Metadata_Plate", "well": "Metadata_Well",
                                            "compound": "Metadata_compound"}),
                       pd.DataFrame(x, columns=[f"Cells_AreaShape_{i}" for i in range(x.shape[1])])], axis=1)
    path = tmp_path / "wells_normalized_feature_select.csv"
    table.to_csv(path, index=False)
    assert main(["map", str(path), "--by", "compound", "--null-size", "1000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["level"] == "profile" and "profile table" in out["input"]
    assert out["treatments"][0]["treatment"] == "drug" and out["treatments"][0]["profiles"] == 6


def test_verdict_words_have_margins():
    assert not differs(0.54, 0.52, 0.04, 0.01)
    assert "No clear difference" in compare_words("set A", 0.54, "set B", 0.52, "AMI", 0.04, 0.01)
    assert compare_words("set A", 0.70, "set B", 0.52, "AMI", 0.04, 0.01).startswith("set A scores higher")
    assert "below chance" in compare_words("a", 0.03, "b", 0.01, "AMI", 0, 0, chance=0.05) or \
        "at or below chance" in compare_words("a", 0.03, "b", 0.01, "AMI", 0, 0, chance=0.05)
    # 0.83 accuracy on 16 classes is not "almost perfectly"
    assert factor_level(0.83, 1 / 16, 0.08, "balanced accuracy") == "well"
    assert factor_level(0.07, 1 / 16, 0.08, "balanced accuracy").startswith("not at all")
    assert len(PROTOCOL.lines()) == 5
