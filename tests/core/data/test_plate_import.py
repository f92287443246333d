"""`ssrl data import-plate` on real fields laid out, by the test, in each file-name pattern.

The fields are real BBBC007 DNA-stain images (../shared/data/fields); each site gets a second,
derived channel so sites are multi-channel. The cell count must equal what `ssrl data nuclei`
cuts from the same fields, and the plate map's metadata must reach every cell.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tifffile

from ssrl_core.cli import main
from ssrl_core.data.npz import load_npz
from ssrl_core.data.patterns import PatternError, get_pattern, normalise_well
from ssrl_core.data.plate import import_plate, read_plate_map, scan_plate

CROP = 32
GUID = "EB868A72-19FC-46BB-BDFA-66B8966A817C"
# (well, site) of the four fields: B02 has two sites, C03 has no plate-map row
SITES = [("B02", 1), ("B02", 2), ("C03", 1), ("D04", 1)]


def _name(pattern: str, well: str, site: int, ch: int) -> str:
    row, col = ord(well[0]) - ord("A") + 1, int(well[1:])
    return {"bbbc": f"{well}_s{site}_w{ch}.tif",
            "imagexpress": f"MyPlate_{well}_s{site}_w{ch}{GUID}.tif",
            "operetta": f"r{row:02d}c{col:02d}f{site:02d}p01-ch{ch}sk1fk1fl1.tiff",
            "custom": f"P7-{well}-f{site}-c{['DNA', 'Actin'][ch - 1]}.tif"}[pattern]


@pytest.fixture(scope="module")
def fields(shared_data):
    paths = sorted(p for p in (shared_data / "fields" / "bbbc007").glob("A9__*.tif") if "_labels" not in p.name)
    assert len(paths) >= 4
    return paths[:4]


@pytest.fixture(scope="module")
def nuclei_count(fields, tmp_path_factory):
    """Cells `ssrl data nuclei` cuts from the four fields, one by one."""
    out, total = tmp_path_factory.mktemp("nuclei"), 0
    for i, f in enumerate(fields):
        assert main(["data", "nuclei", str(f), "--crop", str(CROP), "--out", str(out / f"{i}.npz")]) == 0
        total += len(load_npz(out / f"{i}.npz"))
    return total


def _lay_out(fields, folder, pattern):
    folder.mkdir()
    for f, (well, site) in zip(fields, SITES):
        dna = tifffile.imread(f)
        second = (255 - dna).astype(np.uint8)  # a second stain: any image of the same size
        for ch, img in ((1, dna), (2, second)):
            tifffile.imwrite(folder / _name(pattern, well, site, ch), img)
    (folder / "notes.txt").write_text("not an image")
    tifffile.imwrite(folder / "overview_thumbnail.tif", np.zeros((8, 8), np.uint8))
    plate_map = folder.parent / f"{pattern}_map.csv"
    pd.DataFrame({"Metadata_Well": ["B2", "D04", "E05"], "Compound": ["DMSO", "taxol", "DMSO"],
                  "dose": [0.0, 0.1, 0.0], "moa": ["control", "Microtubule stabilizers", "control"]}
                 ).to_csv(plate_map, index=False)
    return plate_map


@pytest.mark.parametrize("pattern", ["bbbc", "imagexpress", "operetta", "custom"])
def test_import_plate_round_trip_in_each_pattern(fields, nuclei_count, tmp_path, pattern, capsys):
    folder = tmp_path / "plate1"
    plate_map = _lay_out(fields, folder, pattern)
    given = "{plate}-{well}-f{site}-c{channel}.tif" if pattern == "custom" else "auto"
    nuclear = "DNA" if pattern == "custom" else "0"
    out = tmp_path / "crops.npz"
    assert main(["data", "import-plate", str(folder), "--plate-map", str(plate_map), "--pattern", given,
                 "--crop", str(CROP), "--nuclear-channel", nuclear, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    print(pattern, report["cells"], "cells;", nuclei_count, "from ssrl data nuclei")
    assert report["pattern"] == ("{plate}-{well}-f{site}-c{channel}.tif" if pattern == "custom" else pattern)
    assert report["sites"] == 4
    assert report["cells"] == nuclei_count
    assert sorted(report["unmatched"]) == ["notes.txt", "overview_thumbnail.tif"]
    assert [w.split("/")[1] for w in report["unmapped_wells"]] == ["C03"]
    assert report["map_wells_without_images"] == ["E05"]
    cells = load_npz(out)
    assert len(cells) == nuclei_count and cells.images.shape[1:] == (CROP, CROP, 2)
    assert cells.images.dtype == np.uint8
    assert {"plate", "well", "site", "compound", "concentration", "moa", "x", "y"} <= set(cells.meta.columns)
    expected_plate = {"bbbc": "plate1", "imagexpress": "MyPlate", "operetta": "plate1", "custom": "P7"}[pattern]
    assert set(cells.meta["plate"]) == {expected_plate}
    b02 = cells.meta["well"] == "B02"
    assert set(cells.meta.loc[b02, "compound"]) == {"DMSO"}
    assert set(cells.meta.loc[b02, "site"].astype(str)) == {"1", "2"}
    assert set(cells.meta.loc[cells.meta["well"] == "D04", "compound"]) == {"taxol"}
    assert set(cells.meta.loc[cells.meta["well"] == "C03", "compound"]) == {""}  # listed, not dropped
    if pattern == "custom":  # channels named in the file names, DNA found by name
        assert cells.channels == ["Actin", "DNA"]
    # each crop's DNA channel is the field itself around the centre (no re-scaling)
    dna = cells.channels.index("DNA") if pattern == "custom" else 0
    first = cells.meta.index[(cells.meta["well"] == "B02") & (cells.meta["site"].astype(str) == "1")][0]
    f0 = tifffile.imread(fields[0])
    r, c = int(round(cells.meta.at[first, "y"])), int(round(cells.meta.at[first, "x"]))
    assert np.array_equal(cells.images[first, ..., dna], f0[r - CROP // 2:r + CROP // 2, c - CROP // 2:c + CROP // 2])


def test_preview_lists_sites_and_drop_unmapped(fields, tmp_path, capsys):
    folder = tmp_path / "plate1"
    plate_map = _lay_out(fields, folder, "bbbc")
    (folder / "D04_s1_w2.tif").unlink()  # D04 site 1 now lacks channel 2
    assert main(["data", "import-plate", str(folder), "--plate-map", str(plate_map), "--preview", "--json"]) == 0
    prev = json.loads(capsys.readouterr().out)
    assert prev["sites"] == 3 and prev["channels"] == ["1", "2"]
    assert prev["incomplete"] == [{"plate": "plate1", "well": "D04", "site": "1", "missing": ["2"]}]
    assert prev["preview"][0]["channel 1"] == "B02_s1_w1.tif"
    scan = scan_plate(folder)
    cells, report = import_plate(scan, read_plate_map(plate_map), crop=CROP, drop_unmapped=True)
    assert set(cells.meta["well"]) == {"B02"} and report["unmapped_wells"] == ["plate1/C03"]
    two_plates = pd.DataFrame({"plate": ["A", "B"], "well": ["B02", "B02"], "compound": ["DMSO", "taxol"]})
    with pytest.raises(ValueError, match="--plate"):
        import_plate(scan, read_plate_map(two_plates), crop=CROP)
    cells, _ = import_plate(scan_plate(folder, plate="B"), read_plate_map(two_plates), crop=CROP)
    assert set(cells.meta.loc[cells.meta["well"] == "B02", "compound"]) == {"taxol"}


def test_patterns_and_plate_map_errors(tmp_path):
    assert get_pattern("operetta").match("r03c12f04p01-ch2sk1fk1fl1.tiff") == \
        {"well": "C12", "site": "4", "plane": "01", "channel": "2"}
    assert get_pattern("bbbc").match("Week1_22123_B02_s3_w1.tif")["plate"] == "Week1_22123"
    assert get_pattern("imagexpress").match(f"P1_A01_w2{GUID}.tif")["site"] == "1"
    assert get_pattern("(?P<well>[A-H]\\d+)--(?P<channel>\\w+)\\.png").match("H12--gfp.png")["channel"] == "gfp"
    assert get_pattern("imagexpress").match(f"P1_A01_s1_w1_thumb{GUID}.tif") is None  # thumbnails are not fields
    assert normalise_well("a1") == "A01"
    with pytest.raises(PatternError, match="well"):
        get_pattern("{site}_{channel}.tif")
    (tmp_path / "map.csv").write_text("compound\nDMSO\n")
    with pytest.raises(ValueError, match="well column"):
        read_plate_map(tmp_path / "map.csv")
    (tmp_path / "map.csv").write_text("well,compound\nA1,DMSO\nA01,taxol\n")
    with pytest.raises(ValueError, match="more than one row"):
        read_plate_map(tmp_path / "map.csv")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.txt").write_text("")
    assert main(["data", "import-plate", str(tmp_path / "empty"), "--out", str(tmp_path / "o.npz")]) == 2
