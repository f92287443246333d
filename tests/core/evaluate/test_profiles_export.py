"""Profiles and metrics out, on the real BBBC021 crops: pycytominer profiles, AnnData, copairs mAP.

The exports must read back with the ecosystem's own tools (pycytominer, anndata), and the copairs
mAP of the hand-made features must find cycloheximide 50 uM against DMSO far better than the
same cells with shuffled labels.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ssrl_core.cli import main
from ssrl_core.evaluate import check_compound, embed
from ssrl_core.evaluate.export import embedding_frame, write_table
from ssrl_core.evaluate.map_copairs import activity_map, compound_map

NULL = 2000


@pytest.fixture(scope="module")
def bbbc(shared_data):
    """Hand features of cycloheximide 50 uM cells and 300 DMSO cells per plate."""
    from ssrl_core.data.npz import load_npz

    cells = load_npz(shared_data / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz")
    meta = cells.meta
    rng = np.random.default_rng(0)
    treated = np.flatnonzero((meta["compound"] == "cyclohexamide") & np.isclose(meta["concentration"], 50))
    dmso = [rng.choice(np.flatnonzero((meta["compound"] == "DMSO") & (meta["plate"] == p)), 300, replace=False)
            for p in sorted(meta["plate"].unique())]
    index = np.sort(np.concatenate([treated, *dmso]))
    sub = cells.subset(index)
    return embed(sub, "hand-features"), sub.meta, index


def test_copairs_map_cycloheximide_beats_shuffled_labels(bbbc):
    feats, meta, _ = bbbc
    r = check_compound(feats, meta, "cyclohexamide", dose=50, with_map=True, null_size=NULL)
    cell = r["map"]["levels"]["cell"]
    assert not cell["significant"] and "exploratory" in cell["note"]  # cells of one well are not replicates
    treated = (meta["compound"] == "cyclohexamide").to_numpy()
    shuffled = np.random.default_rng(1).permutation(treated)
    control = compound_map(feats, meta, shuffled, ~shuffled, levels=("cell",), null_size=NULL)["levels"]["cell"]
    print(f"cell mAP cycloheximide 50 uM {cell['mean_average_precision']:.3f} (p {cell['p_value']:.2g}); "
          f"shuffled labels {control['mean_average_precision']:.3f} (p {control['p_value']:.2g}); "
          f"same-plate controls {cell['same_plate_map']:.3f}")
    assert cell["mean_average_precision"] > control["mean_average_precision"] + 0.2
    assert cell["p_value"] < 0.01 and control["p_value"] > 0.01
    assert cell["profiles"] == treated.sum() and cell["controls"] == 600
    assert r["map"]["treated"]["plates"] == {"Week4_27801": int(treated.sum())}
    assert set(r["map"]["control"]["plates"]) == {"Week4_27481", "Week4_27801"}
    well = r["map"]["levels"]["well"]  # one treated well: a mAP, but no p-value, and the reason
    assert well["p_value"] is None and "1 well only" in well["note"] and "1 well only" in r["map"]["notes"]["well"]
    assert "Phenotypic activity" in r["verdict"] and "exploratory" in r["verdict"]


def test_well_level_map_and_plate_flag():
    rng = np.random.default_rng(0)
    wells = [f"A{i:02d}" for i in range(1, 9)]
    meta = pd.DataFrame({"well": np.repeat(wells, 10), "plate": np.repeat(["P1", "P2"] * 4, 10)})
    meta["compound"] = np.where(meta["well"].isin(wells[:4]), "drug", "DMSO")
    x = rng.normal(size=(80, 6)) + (meta["compound"] == "drug").to_numpy()[:, None] * 2.0
    r = compound_map(x, meta, (meta["compound"] == "drug").to_numpy(), (meta["compound"] == "DMSO").to_numpy(),
                     levels=("cell", "well"), null_size=500)
    assert r["levels"]["well"]["profiles"] == 4 and r["levels"]["well"]["mean_average_precision"] > 0.9
    assert r["plate_flag"] is None
    table = activity_map(x, meta, meta["compound"], level="well", null_size=500)
    assert list(table["treatment"]) == ["drug"] and bool(table["significant"].iloc[0])
    # treated on one plate, controls on the other: treatment and plate cannot be told apart
    meta2 = meta.assign(plate=np.where(meta["compound"] == "drug", "P1", "P2"))
    r2 = compound_map(x, meta2, (meta2["compound"] == "drug").to_numpy(), (meta2["compound"] == "DMSO").to_numpy(),
                      levels=("cell",), null_size=200)
    assert r2["plate_flag"] and "different plates" in r2["plate_flag"]


def test_profiles_read_back_with_pycytominer(bbbc, tmp_path, capsys):
    from pycytominer import aggregate
    from pycytominer.cyto_utils import infer_cp_features

    feats, meta, index = bbbc
    emb = write_table(embedding_frame(meta, feats, dataset="bbbc021", cell_index=index), tmp_path / "emb.parquet")
    assert main(["profiles", str(emb), "--cells", str(tmp_path / "cells.parquet"),
                 "--wells", str(tmp_path / "wells.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cells"] == len(meta) and out["wells"] == 3  # DMSO on two plates, cycloheximide on one
    cells = pd.read_parquet(tmp_path / "cells.parquet")
    feat_cols = infer_cp_features(cells, compartments=["Embedding"])  # a prefix of its own, named in docs
    assert len(feat_cols) == feats.shape[1] and feat_cols[0] == "Embedding_SSRL_0"
    with pytest.raises(ValueError):  # never taken for CellProfiler's Cells_ / Nuclei_ features
        infer_cp_features(cells)
    assert {"Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_compound"} <= set(infer_cp_features(cells, metadata=True))
    assert np.allclose(cells[feat_cols].to_numpy(), feats, atol=1e-6)
    wells = pd.read_csv(tmp_path / "wells.csv")
    again = aggregate(cells, strata=["Metadata_Plate", "Metadata_Well"], features=feat_cols, operation="median")
    merged = wells.merge(again, on=["Metadata_Plate", "Metadata_Well"], suffixes=("", "_pcm"))
    assert len(merged) == 3
    assert np.allclose(merged[feat_cols].to_numpy(), merged[[f"{c}_pcm" for c in feat_cols]].to_numpy(), atol=1e-5)
    assert set(wells["Metadata_compound"]) == {"DMSO", "cyclohexamide"}
    assert wells["Metadata_Object_Count"].sum() == len(meta)
    # normalised to the DMSO cells of each plate: the controls have mean 0 and unit spread
    assert main(["profiles", str(emb), "--cells", str(tmp_path / "norm.csv"), "--normalize", "DMSO", "--json"]) == 0
    assert "each plate" in json.loads(capsys.readouterr().out)["notes"][0]
    norm = pd.read_csv(tmp_path / "norm.csv")
    ctrl = norm[(norm["Metadata_compound"] == "DMSO") & (norm["Metadata_Plate"] == "Week4_27801")][feat_cols]
    varying = ctrl.std().to_numpy() > 1e-3
    assert np.abs(ctrl.mean().to_numpy()).max() < 1e-3 and np.allclose(ctrl.std(ddof=0).to_numpy()[varying], 1, atol=1e-2)


def test_anndata_export_reads_back(bbbc, tmp_path, capsys):
    import anndata

    feats, meta, index = bbbc
    clusters = np.arange(len(meta)) % 3
    xy = np.random.default_rng(0).normal(size=(len(meta), 2))
    emb = write_table(embedding_frame(meta, feats, dataset="bbbc021", cell_index=index, clusters=clusters, coords=xy),
                      tmp_path / "emb.parquet")
    assert main(["export-anndata", str(emb), "--out", str(tmp_path / "cells.h5ad"), "--map", "tsne", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["obsm"] == ["X_tsne"]
    ad = anndata.read_h5ad(tmp_path / "cells.h5ad")
    assert ad.shape == feats.shape and np.allclose(ad.X, feats, atol=1e-6)
    assert list(ad.obs["Metadata_compound"].astype(str)) == list(meta["compound"].astype(str))
    assert list(ad.obs["cluster"].astype(str)) == [str(c) for c in clusters]
    assert np.allclose(ad.obsm["X_tsne"], xy, atol=1e-5) and ad.uns["ssrl"]["dataset"] == "bbbc021"
    assert list(ad.obs["Metadata_cell_index"]) == list(index)
    # the same Metadata_ names as the profile files, and each cell named by where it is
    assert main(["profiles", str(emb), "--cells", str(tmp_path / "cells.parquet"), "--json"]) == 0
    capsys.readouterr()
    profile_meta = [c for c in pd.read_parquet(tmp_path / "cells.parquet").columns
                    if c.startswith("Metadata_") and c != "Metadata_cluster"]
    assert [c for c in ad.obs.columns if c != "cluster"] == profile_meta
    assert ad.obs_names.is_unique and ad.obs_names[0].startswith(f"{meta['plate'].iloc[0]}_{meta['well'].iloc[0]}_")
    assert list(ad.var_names[:2]) == ["Embedding_SSRL_0", "Embedding_SSRL_1"]


def test_map_command(bbbc, tmp_path, capsys):
    feats, meta, index = bbbc
    emb = write_table(embedding_frame(meta, feats, dataset="bbbc021", cell_index=index), tmp_path / "emb.parquet")
    assert main(["map", str(emb), "--level", "site", "--null-size", "500", "--out", str(tmp_path / "m.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["treatments"]
    assert rows[0]["treatment"] == "cyclohexamide @ 50.0" and rows[0]["level"] == "site"
    assert "each of the 2 plates is standardised" in out["input"]  # embeddings are normalised per plate first
    assert pd.read_csv(tmp_path / "m.csv").shape[0] == 1
    assert main(["check-compound", str(emb), "--compound", "cyclohexamide", "--dose", "50", "--map", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["map"]["levels"]["cell"]["mean_average_precision"] > 0.5
    assert main(["map", str(emb), "--null-size", "500", "--json"]) == 0  # wells by default: one well, no test
    row = json.loads(capsys.readouterr().out)["treatments"][0]
    assert row["level"] == "well" and row["p_value"] is None and not row["significant"]
