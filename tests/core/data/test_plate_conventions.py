"""The profiling field's conventions (issue 24 items 2-5): a JUMP-style plate map kept under its own
column names with negcon controls and blank DMSO wells, Cellomics file names recognised, the
nucleus check against CellProfiler's own nuclei on ExampleHuman, and Metadata_ names that
pycytominer and AnnData read the same way. Real pixels: CellProfiler's ExampleHuman DNA field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from app_support import ROOT

from ssrl_core.cli import main
from ssrl_core.data.patterns import detect_pattern, get_pattern, match_table
from ssrl_core.data.plate import import_plate, read_plate_map, scan_plate
from ssrl_core.data.seg_qc import (
    compare_with_cellprofiler,
    match_centres,
    segmentation_report,
)

DATA = ROOT / "tests" / "data" / "pycytominer"
DNA = "AS_09125_050116030001_D03f00d0.tif"
CROP = 24


def jump_map() -> pd.DataFrame:
    """A JUMP-Target-style map joined with its compound metadata (JUMP column names)."""
    return pd.DataFrame({
        "Metadata_Plate": ["AS_09125_050116030001"] * 4, "Metadata_Well": ["D03", "D04", "E03", "E04"],
        "Metadata_broad_sample": ["BRD-K18895904-001-16-1", "", "BRD-K81473043-001-01-9", ""],
        "Metadata_solvent": ["DMSO"] * 4, "Metadata_pert_iname": ["nocodazole", "DMSO", "taxol", ""],
        "Metadata_control_type": ["trt", "negcon", "poscon_orf", ""],
        "Metadata_mmoles_per_liter": [3.0, 0.0, 1.0, np.nan]})


def test_jump_map_keeps_its_columns_and_marks_controls(tmp_path):
    jump_map().to_csv(tmp_path / "map.csv", index=False)
    m = read_plate_map(tmp_path / "map.csv", treatment="broad_sample", controls="control_type == negcon")
    assert {"broad_sample", "pert_iname", "solvent", "control_type", "mmoles_per_liter"} <= set(m.columns)
    by_well = m.set_index("well")["compound"]
    assert by_well["D04"] == "DMSO"  # a blank broad_sample in a negcon well is the control, not ''
    assert by_well["D03"] == "BRD-K18895904-001-16-1" and by_well["E04"] == "(none)"
    assert len(m.attrs["notes"]) == 1 and "E04" in m.attrs["notes"][0]  # said, not silent
    assert list(m["concentration"].iloc[:3]) == [3.0, 0.0, 1.0]  # the dose column, under both names
    by_name = read_plate_map(tmp_path / "map.csv")  # default treatment: pert_iname, whatever is in the map
    assert m.attrs["treatment"] == "broad_sample" and by_name.attrs["treatment"] == "pert_iname"
    assert list(by_name["compound"]) == ["nocodazole", "DMSO", "taxol", "(none)"]
    as_value = read_plate_map(tmp_path / "map.csv", treatment="pert_iname", controls="DMSO")
    assert as_value.attrs["control_wells"] == 1
    with pytest.raises(ValueError, match="names no column"):
        read_plate_map(tmp_path / "map.csv", controls="kind == negcon")
    with pytest.raises(ValueError, match="no well .* matches"):
        read_plate_map(tmp_path / "map.csv", controls="control_type == ctrl")


@pytest.fixture(scope="module")
def cellomics_plate(tmp_path_factory) -> Path:
    """ExampleHuman's DNA field under its Cellomics names, a second channel d1, two wells."""
    folder = tmp_path_factory.mktemp("AS_09125")
    dna = tifffile.imread(DATA / DNA)
    for well in ("D03", "D04"):
        field = dna if well == "D03" else dna[:, ::-1].copy()
        tifffile.imwrite(folder / f"AS_09125_050116030001_{well}f00d0.tif", field)
        tifffile.imwrite(folder / f"AS_09125_050116030001_{well}f00d1.tif", (255 - field).astype(np.uint16))
    return folder


def test_cellomics_names_are_recognised_and_shown(cellomics_plate, tmp_path, capsys):
    names = sorted(p.name for p in cellomics_plate.iterdir())
    assert detect_pattern(names) == "cellomics"
    rows = match_table(names, "cellomics")
    assert rows[0] == {"file": "AS_09125_050116030001_D03f00d0.tif", "matched": True, "plate": "AS_09125_050116030001",
                       "well": "D03", "site": "0", "channel": "0", "other": ""}
    assert match_table(["notes_A1.tif"], "cellomics")[0]["well"] == "not matched"
    for name, fields in {"W0018_B03_T0001F001L01A01Z01C02.tif": ("cellvoyager", "B03", "1", "02"),
                         "VID1754_phase_A1_2_00d04h00m.tif": ("incucyte", "A01", "2", "phase"),
                         "Plate1_C05_s3_w2.tif": ("bbbc", "C05", "3", "2"),
                         "r02c03f04p01-ch2sk1fk1fl1.tiff": ("operetta", "B03", "4", "2")}.items():
        g = get_pattern(fields[0]).match(name)
        assert g is not None and (g["well"], g["site"], g["channel"]) == fields[1:], (name, g)
    jump_map().to_csv(tmp_path / "map.csv", index=False)
    assert main(["data", "import-plate", str(cellomics_plate), "--plate-map", str(tmp_path / "map.csv"),
                 "--controls", "control_type == negcon", "--treatment", "broad_sample", "--preview", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pattern"] == "cellomics" and out["sites"] == 2 and out["channels"] == ["0", "1"]
    assert out["matches"][1]["channel"] == "1" and out["unmapped_wells"] == []
    check = out["nucleus_check"]
    assert [f["objects"] for f in check["fields"]] == [348, 348] and check["warnings"] == []


def test_nucleus_check_against_cellprofiler_and_on_noise():
    """CellProfiler found 289 nuclei on ExampleHuman's DNA field: how many of them does this tool find?"""
    r = compare_with_cellprofiler(DATA / "examplehuman_joined.parquet", image_root=DATA, radius=5)
    assert r["channel"] == "DNA" and r["reference"] == 289
    assert r["matched_fraction"] >= 0.95 and r["precision"] >= 0.75  # measured: 288/289 and 288/348
    assert match_centres(np.zeros((0, 2)), np.ones((3, 2)))["matched_fraction"] == 0.0
    pairs = match_centres(np.array([[0, 0], [0, 1]]), np.array([[0, 0.5]]), radius=1)
    assert pairs["matched"] == 1 and pairs["precision"] == 0.5  # one to one
    noise = np.random.default_rng(0).normal(100, 10, (256, 256)).astype(np.float32)
    report = segmentation_report([("noise", lambda: noise), ("nuclei", lambda: tifffile.imread(DATA / DNA))])
    assert any("far more than nuclei" in w and "noise" in w for w in report["warnings"])
    assert report["overlays"][1][1].shape[2] == 3 and report["fields"][1]["objects"] == 348


def test_profiles_and_anndata_share_metadata_names(cellomics_plate, tmp_path):
    from pycytominer import aggregate
    from pycytominer.cyto_utils import infer_cp_features

    from ssrl_core.evaluate.anndata_export import to_anndata
    from ssrl_core.evaluate.profiles import FEATURE_PREFIX, cell_profiles

    plate_map = read_plate_map(jump_map(), treatment="broad_sample", controls="control_type == negcon")
    cells, report = import_plate(scan_plate(cellomics_plate), plate_map, crop=CROP)
    feats = np.random.default_rng(0).normal(size=(len(cells), 4)).astype(np.float32)
    prof = cell_profiles(feats, cells.meta)
    for name in ("Metadata_Plate", "Metadata_Well", "Metadata_Site", "Metadata_ObjectNumber",
                 "Metadata_Location_Center_X", "Metadata_Location_Center_Y", "Metadata_broad_sample",
                 "Metadata_control_type", "Metadata_compound"):
        assert name in prof.columns, name
    assert "Metadata_meta_x" not in prof.columns and set(prof["Metadata_compound"]) == {"BRD-K18895904-001-16-1", "DMSO"}
    # merged with CellProfiler's features, pycytominer's inference keeps the two apart
    merged = prof.assign(Cells_AreaShape_Area=1.0, Nuclei_Intensity_MeanIntensity_DNA=2.0)
    assert infer_cp_features(merged) == ["Cells_AreaShape_Area", "Nuclei_Intensity_MeanIntensity_DNA"]
    assert infer_cp_features(merged, compartments=["Embedding"]) == [f"{FEATURE_PREFIX}{i}" for i in range(4)]
    wells = aggregate(prof, strata=["Metadata_Plate", "Metadata_Well"], features=[f"{FEATURE_PREFIX}{i}" for i in range(4)],
                      compute_object_count=True)  # needs Metadata_ObjectNumber
    assert wells["Metadata_Object_Count"].sum() == len(cells)
    ad = to_anndata(feats, cells.meta)
    assert list(ad.obs.columns) == [c for c in prof.columns if c.startswith("Metadata_")]
    assert ad.obs_names[0] == "AS_09125_050116030001_D03_s0_" + str(cells.meta["ObjectNumber"].iloc[0])
    assert ad.obs_names.is_unique and list(ad.var_names) == [f"{FEATURE_PREFIX}{i}" for i in range(4)]


def test_users_own_masks_are_cropped_instead_of_detections(shared_data, tmp_path, capsys):
    """Where a segmentation the user trusts exists (here BBBC007's label masks), its objects are cut."""
    from ssrl_app.data.import_checks import crop_fields

    src = shared_data / "fields" / "bbbc007"
    for name in ("A9__A9_p5d.tif", "A9__A9_p5d_labels.tif", "A9__A9_p7d.tif"):  # p7d has no mask: detected
        (tmp_path / name).write_bytes((src / name).read_bytes())
    labels = tifffile.imread(src / "A9__A9_p5d_labels.tif")
    cells = crop_fields(tmp_path, 16)
    own = cells.meta[cells.meta["field"] == "A9__A9_p5d.tif"]
    assert set(own["objects"]) == {"your mask"} and set(cells.meta.loc[cells.meta["field"] == "A9__A9_p7d.tif",
                                                                      "objects"]) == {"found"}
    rows, cols = np.round(own["y"]).astype(int), np.round(own["x"]).astype(int)
    assert (labels[rows, cols] > 0).mean() > 0.9  # centroids of the mask's objects
    assert len(own) <= len(np.unique(labels)) - 1 and not cells.skipped
    assert main(["data", "nuclei", str(tmp_path / "A9__A9_p5d.tif"), "--masks", str(tmp_path / "A9__A9_p5d_labels.tif"),
                 "--crop", "16", "--out", str(tmp_path / "m.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cells"] == len(own)
