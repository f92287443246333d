"""Importers writing to cell stores give the same cells as their in-memory paths (real fields)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import tifffile

from ssrl_core.cli import main
from ssrl_core.data import bbbc021
from ssrl_core.data.fields import nuclei_to_store, nucleus_crops
from ssrl_core.data.npz import load_npz
from ssrl_core.data.plate import import_plate, scan_plate
from ssrl_core.data.store import StoreWriter, open_store, read_manifest

CROP = 32


@pytest.fixture(scope="module")
def dna_fields(shared_data):
    paths = sorted(p for p in (shared_data / "fields" / "bbbc007").glob("*.tif") if "_labels" not in p.name)
    return [tifffile.imread(p) for p in paths[:4]]


def test_nuclei_to_store_equals_nucleus_crops_field_by_field(dna_fields, tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_STORE_CHUNK_BYTES", str(64 * CROP * CROP))  # 64 crops a chunk
    items = [(f"f{i}", (lambda f=f: f), {"field": f"f{i}"}) for i, f in enumerate(dna_fields)]
    path, rep = nuclei_to_store(items, tmp_path / "n.cells", size=CROP)
    ref = [nucleus_crops(f, size=CROP, meta={"field": f"f{i}"}) for i, f in enumerate(dna_fields)]
    got = open_store(path, lazy=True)
    assert rep["cells"] == len(got) == sum(len(r) for r in ref) and len(read_manifest(path)["chunks"]) > 2
    np.testing.assert_array_equal(got.images[:], np.concatenate([r.images for r in ref]))
    pd.testing.assert_frame_equal(got.meta, pd.concat([r.meta for r in ref], ignore_index=True))
    assert got.channels == ["DNA"]
    # run again on the finished store: refused, nothing rewritten
    with pytest.raises(ValueError, match="finished"):
        nuclei_to_store(items, tmp_path / "n.cells", size=CROP)


def test_cli_nuclei_and_import_plate_write_stores(shared_data, dna_fields, tmp_path):
    field = sorted((shared_data / "fields" / "bbbc007").glob("*.tif"))[0]
    assert main(["data", "nuclei", str(field), "--crop", str(CROP), "--out", str(tmp_path / "one.npz")]) == 0
    assert main(["data", "nuclei", str(field), "--crop", str(CROP), "--out", str(tmp_path / "one.cells")]) == 0
    a, b = load_npz(tmp_path / "one.npz"), open_store(tmp_path / "one.cells", lazy=True)
    np.testing.assert_array_equal(a.images, b.images[:])
    assert list(a.meta["y"]) == list(b.meta["y"])
    folder = tmp_path / "plate"
    folder.mkdir()
    for i, dna in enumerate(dna_fields):
        tifffile.imwrite(folder / f"B{i + 2:02d}_s1_w1.tif", dna)
        tifffile.imwrite(folder / f"B{i + 2:02d}_s1_w2.tif", (255 - dna).astype(np.uint8))
    scan = scan_plate(folder)
    mem, rep_mem = import_plate(scan, crop=CROP)
    disk, rep_disk = import_plate(scan, crop=CROP, out=tmp_path / "plate.cells")
    assert disk.name == "plate" and rep_disk["out"].endswith("plate.cells") and not rep_disk["resumed"]
    assert rep_disk["cells_per_well"] == rep_mem["cells_per_well"]
    np.testing.assert_array_equal(np.asarray(disk.images), mem.images)
    pd.testing.assert_frame_equal(disk.meta, mem.meta)


def test_bbbc021_crops_to_store_equals_crops_from_zips(shared_data, tmp_path):
    dna = tifffile.imread(shared_data / "fields" / "stardist_dsb2018" / "img2d.tif")
    rows = []
    with zipfile.ZipFile(tmp_path / bbbc021.plate_zip_name("Week1_22123"), "w") as zf:
        for s in range(1, 4):
            names = {c: f"Week1_150607_B02_s{s}_w{w}.tif" for c, w in (("dapi", 1), ("tubulin", 2), ("actin", 4))}
            shifted = np.roll(dna, 37 * s, axis=1)  # three different fields
            for c, plane in (("dapi", shifted), ("tubulin", shifted // 2), ("actin", shifted // 3)):
                b = io.BytesIO()
                tifffile.imwrite(b, plane)
                zf.writestr(f"Week1_22123/{names[c]}", b.getvalue())
            rows.append({"plate": "Week1_22123", "well": "B02", "site": s, "replicate": 1, "compound": "taxol",
                         "concentration": 0.3, "moa": "Microtubule stabilizers",
                         **{f"{c}_file": n for c, n in names.items()}})
    fields = pd.DataFrame(rows)
    ref = bbbc021.crops_from_zips(fields, tmp_path, size=48)
    out = bbbc021.crops_to_store(fields, tmp_path, tmp_path / "b.cells", size=48, name="b")
    got = open_store(out, lazy=True)
    assert len(got) == len(ref) > 50 and got.channels == ["DAPI", "Actin", "Tubulin"]
    np.testing.assert_array_equal(got.images[:], ref.images)
    pd.testing.assert_frame_equal(got.meta, ref.meta)
    assert sorted(read_manifest(out)["units_done"]) == sorted(f"Week1_22123/{r['dapi_file']}" for r in rows)


def test_writer_refuses_crops_that_do_not_fit(tmp_path):
    w = StoreWriter(tmp_path / "x.cells", ["a"])
    w.add(np.zeros((3, 16, 16, 1), np.uint8))
    with pytest.raises(ValueError, match="do not fit"):
        w.add(np.zeros((3, 16, 16, 1), np.uint16))
    with pytest.raises(ValueError, match="metadata rows"):
        w.add(np.zeros((3, 16, 16, 1), np.uint8), pd.DataFrame({"a": [1]}))
