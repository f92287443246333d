"""Issue 23, items 3, 10 and 13: a plate map for another plate, CellProfiler tables with a
repeated ImageNumber, and a compound column holding None. Inputs are built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from ssrl_core.cli import main
from ssrl_core.data.plate import import_plate, read_plate_map, scan_plate


def plate_folder(root: Path, plate: str = "P1") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for well in ("A01", "A02"):
        tifffile.imwrite(root / f"{plate}_{well}_s1_w1.tif", np.zeros((64, 64), np.uint16))
    return root


def test_a_plate_map_for_another_plate_is_refused_naming_both(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = plate_folder(tmp_path / "plate")
    plate_map = tmp_path / "map.csv"
    plate_map.write_text("plate,well,compound\nP9,A01,taxol\nP9,A02,DMSO\n", encoding="utf-8")
    message = ("the plate map is for plate P9 but the images are of plate P1; give the map of the imaged plate, or, "
               "if the images are that plate, name it with --plate P9 (the Data page's 'Plate name')")
    with pytest.raises(ValueError, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        import_plate(scan_plate(folder, "bbbc"), read_plate_map(plate_map))
    out = tmp_path / "crops.npz"
    assert main(["data", "import-plate", str(folder), "--plate-map", str(plate_map), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"
    assert not out.exists()
    # images whose names do not say the plate, named P9 as the map says: the map applies
    from ssrl_core.data.plate import map_rows

    rows, unmapped = map_rows(scan_plate(folder, "P1_{well}_s{site}_w{channel}.tif", plate="P9"),
                              read_plate_map(plate_map))
    assert rows == {("P9", "A01"): {"compound": "taxol"}, ("P9", "A02"): {"compound": "DMSO"}} and unmapped == []


def test_a_map_naming_this_plate_and_another_applies_to_this_one(tmp_path: Path) -> None:
    from ssrl_core.data.plate import map_rows

    folder = plate_folder(tmp_path / "plate")
    table = read_plate_map(pd.DataFrame({"plate": ["P1", "P9"], "well": ["A01", "A01"], "compound": ["taxol", "x"]}))
    rows, unmapped = map_rows(scan_plate(folder, "bbbc"), table)
    assert rows == {("P1", "A01"): {"compound": "taxol"}} and unmapped == ["P1/A02"]


def test_cellprofiler_image_table_with_a_repeated_image_number_is_refused(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    tifffile.imwrite(tmp_path / "f1.tif", np.zeros((64, 64), np.uint16))
    (tmp_path / "Image.csv").write_text("ImageNumber,FileName_DNA,Metadata_Well\n1,f1.tif,A01\n2,f1.tif,A02\n"
                                        "1,f1.tif,A03\n", encoding="utf-8")
    (tmp_path / "Nuclei.csv").write_text("ImageNumber,ObjectNumber,Location_Center_X,Location_Center_Y\n1,1,30,30\n",
                                         encoding="utf-8")
    assert main(["data", "import-cellprofiler", str(tmp_path / "Image.csv"), str(tmp_path / "Nuclei.csv"),
                 "--crop", "16", "--out", str(tmp_path / "c.npz")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: Image.csv has 2 rows sharing an ImageNumber (e.g. 1 on lines 2, 4); each image needs its own "
        "number, as CellProfiler writes it")


def test_check_compound_with_an_empty_compound_column_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"cell_index": range(20), "dataset": "d", "compound": [None] * 10 + ["DMSO"] * 10,
                          "plate": "P1"})
    for i in range(4):
        table[f"emb_{i}"] = rng.normal(size=20).astype(np.float32)
    table.to_parquet(tmp_path / "some.parquet")
    table.assign(compound=None).to_parquet(tmp_path / "none.parquet")
    assert main(["check-compound", str(tmp_path / "some.parquet"), "--compound", "taxol"]) == 2
    assert capsys.readouterr().err.strip() == "error: no cell has compound = 'taxol'; known values: DMSO"
    assert main(["check-compound", str(tmp_path / "none.parquet"), "--compound", "taxol"]) == 2
    assert capsys.readouterr().err.strip() == ("error: no cell has compound = 'taxol'; known values: none (the column "
                                               "is empty)")
