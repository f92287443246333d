"""CellProfiler tables and OME-TIFF fields in (ssrl_core.data.cellprofiler, ssrl_core.data.ome).

The CellProfiler Image.csv / Nuclei.csv are written by the test from real BBBC007 fields and
their ground-truth masks (centres = mask centroids), so no detection is involved.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage import measure

from ssrl_core.cli import main
from ssrl_core.data.cellprofiler import import_cellprofiler
from ssrl_core.data.npz import load_npz
from ssrl_core.data.ome import parse_ome_xml, read_field, write_ome_tiff
from ssrl_core.data.plate import import_plate, scan_plate

CROP = 40


@pytest.fixture(scope="module")
def pairs(shared_data):
    folder = shared_data / "fields" / "bbbc007"
    labels = sorted(folder.glob("A9__*_labels.tif"))[:2]
    return [(p.with_name(p.name.replace("_labels", "")), p) for p in labels]


def _tables(pairs, folder):
    img_dir = folder / "images"
    img_dir.mkdir(parents=True)
    images, objects, expected = [], [], 0
    for n, (img, lab) in enumerate(pairs, start=1):
        dna = tifffile.imread(img)
        tifffile.imwrite(img_dir / f"dna_{n}.tif", dna)
        tifffile.imwrite(img_dir / f"actin_{n}.tif", (255 - dna).astype(np.uint8))
        images.append({"ImageNumber": n, "FileName_DNA": f"dna_{n}.tif", "PathName_DNA": "/elsewhere/images",
                       "FileName_Actin": f"actin_{n}.tif", "PathName_Actin": "/elsewhere/images",
                       "Metadata_Plate": "P1", "Metadata_Well": f"B{n}", "Metadata_Compound": ["DMSO", "taxol"][n - 1]})
        h, w = dna.shape
        for k, prop in enumerate(measure.regionprops(tifffile.imread(lab)), start=1):
            r, c = prop.centroid
            objects.append({"ImageNumber": n, "ObjectNumber": k, "Location_Center_X": c, "Location_Center_Y": r})
            rr, cc = int(round(r)) - CROP // 2, int(round(c)) - CROP // 2
            expected += rr >= 0 and cc >= 0 and rr + CROP <= h and cc + CROP <= w
    images.append({"ImageNumber": 3, "FileName_DNA": "gone.tif", "PathName_DNA": "", "FileName_Actin": "gone2.tif",
                   "PathName_Actin": "", "Metadata_Plate": "P1", "Metadata_Well": "B3", "Metadata_Compound": "DMSO"})
    objects.append({"ImageNumber": 3, "ObjectNumber": 1, "Location_Center_X": 50.0, "Location_Center_Y": 50.0})
    pd.DataFrame(images).to_csv(folder / "Image.csv", index=False)
    pd.DataFrame(objects).to_csv(folder / "Nuclei.csv", index=False)
    return img_dir, expected, len(objects)


def test_cellprofiler_crops_at_the_given_centres(pairs, tmp_path, capsys):
    img_dir, expected, n_objects = _tables(pairs, tmp_path)
    out = tmp_path / "cp.npz"
    assert main(["data", "import-cellprofiler", str(tmp_path / "Image.csv"), str(tmp_path / "Nuclei.csv"),
                 "--images", str(img_dir), "--crop", str(CROP), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    print(f"CellProfiler import: {report['cells']} crops of {n_objects} objects")
    assert report["cells"] == expected and report["objects"] == n_objects
    assert len(report["missing_images"]) == 1 and "gone.tif" in report["missing_images"][0]
    cells = load_npz(out)
    assert cells.channels == ["DNA", "Actin"] and cells.images.shape[1:] == (CROP, CROP, 2)
    assert {"plate", "well", "compound", "ImageNumber", "ObjectNumber", "x", "y"} <= set(cells.meta.columns)
    assert set(cells.meta["well"]) == {"B01", "B02"}
    first = cells.meta[cells.meta["ImageNumber"] == 1].index[0]
    field = tifffile.imread(pairs[0][0])
    r, c = int(round(cells.meta.at[first, "y"])), int(round(cells.meta.at[first, "x"]))
    assert np.array_equal(cells.images[first, ..., 0], field[r - CROP // 2:r + CROP // 2, c - CROP // 2:c + CROP // 2])
    # object columns prefixed with the object name, one channel only
    nuclei = pd.read_csv(tmp_path / "Nuclei.csv").add_prefix("Nuclei_")
    only, rep = import_cellprofiler(tmp_path / "Image.csv", nuclei, image_root=img_dir, size=CROP, channels=["DNA"])
    assert rep["cells"] == expected and only.channels == ["DNA"]


def test_cellprofiler_errors(tmp_path):
    (tmp_path / "Image.csv").write_text("ImageNumber,Metadata_Well\n1,A01\n")
    (tmp_path / "Nuclei.csv").write_text("ImageNumber,Location_Center_X,Location_Center_Y\n1,5,5\n")
    assert main(["data", "import-cellprofiler", str(tmp_path / "Image.csv"), str(tmp_path / "Nuclei.csv"),
                 "--out", str(tmp_path / "o.npz")]) == 2


def test_ome_tiff_channel_names_and_pixel_size(pairs, tmp_path):
    dna = tifffile.imread(pairs[0][0])
    folder = tmp_path / "ome_plate"
    folder.mkdir()
    for well in ("C03", "C04"):
        write_ome_tiff(folder / f"{well}_f1.ome.tif", np.stack([(255 - dna).astype(np.uint8), dna], axis=-1),
                       ["Actin", "Hoechst"], pixel_size=0.65)
    f = read_field(folder / "C03_f1.ome.tif")
    assert f.image.shape == dna.shape + (2,) and f.channels == ["Actin", "Hoechst"]
    assert f.physical["physical_size_x"] == pytest.approx(0.65) and f.physical["physical_size_unit"] == "µm"
    assert np.array_equal(f.image[..., 1], dna)
    scan = scan_plate(folder, "{well}_f{site}.ome.tif", plate="P9")
    cells, report = import_plate(scan, crop=CROP, nuclear_channel="hoechst")
    assert cells.channels == ["Actin", "Hoechst"] and report["sites"] == 2
    assert np.allclose(cells.meta["pixel_size"], 0.65) and set(cells.meta["plate"]) == {"P9"}
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, dna)
    assert read_field(plain).channels is None


def test_parse_ome_xml_any_namespace():
    xml = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2013-06"><Image ID="Image:0">'
           '<Pixels PhysicalSizeX="0.32" PhysicalSizeY="0.32" PhysicalSizeXUnit="nm">'
           '<Channel ID="Channel:0:0" Name="DAPI"/><Channel ID="Channel:0:1"/></Pixels></Image></OME>')
    info = parse_ome_xml(xml)
    assert info["channels"] == ["DAPI", "Channel:0:1"] and info["physical_size_unit"] == "nm"
