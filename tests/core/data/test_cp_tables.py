"""CellProfiler outputs as they come (issue 24 item 1): SQLite in both ExportToDatabase layouts and
cytominer-database's, CytoTable's joined parquet, a joined CSV with a compartment choice, and the
`FileName_Orig*` default. The images are CellProfiler's ExampleHuman DNA field (pycytominer's test
data, tests/data/pycytominer/README.md) and the centres are CellProfiler's own 289 nuclei on it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from app_support import ROOT

from ssrl_core.cli import main
from ssrl_core.data.cellprofiler import import_cellprofiler
from ssrl_core.data.cp_tables import default_channels, read_cp_tables

DATA = ROOT / "tests" / "data" / "pycytominer"
DNA = "AS_09125_050116030001_D03f00d0.tif"
CROP = 24


@pytest.fixture(scope="module")
def example() -> dict:
    """The ExampleHuman DNA field and CellProfiler's nuclei, cells and cytoplasm on it."""
    joined = pd.read_parquet(DATA / "examplehuman_joined.parquet")
    return {"joined": joined, "dna": tifffile.imread(DATA / DNA)}


def _images(folder: Path, dna: np.ndarray) -> None:
    """The field as two channels (DNA, and a second stain) plus an illumination function."""
    folder.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "DNA.tif", dna)
    tifffile.imwrite(folder / "Actin.tif", (dna.max() - dna).astype(dna.dtype))
    tifffile.imwrite(folder / "IllumDNA.tif", np.ones_like(dna, np.float32))


def _write_sqlite(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    con = sqlite3.connect(path)
    for name, df in tables.items():
        df.to_sql(name, con, index=False)
    con.close()
    return path


def _nuclei(example: dict, prefix: str) -> pd.DataFrame:
    j = example["joined"]
    return pd.DataFrame({"ImageNumber": 1, prefix + "Number_Object_Number": j["Metadata_ObjectNumber"],
                         f"{prefix}Location_Center_X": j["Nuclei_Location_Center_X"],
                         f"{prefix}Location_Center_Y": j["Nuclei_Location_Center_Y"]})


def test_cellprofiler_sqlite_in_both_exporttodatabase_layouts(example, tmp_path):
    _images(tmp_path / "img", example["dna"])
    per_image = pd.DataFrame({"ImageNumber": [1], "Image_FileName_OrigDNA": ["DNA.tif"],
                              "Image_PathName_OrigDNA": [str(tmp_path / "img")],
                              "Image_FileName_OrigActin": ["Actin.tif"], "Image_PathName_OrigActin": [str(tmp_path / "img")],
                              "Image_FileName_IllumDNA": ["IllumDNA.tif"], "Image_PathName_IllumDNA": [str(tmp_path / "img")],
                              "Image_Metadata_Plate": ["P1"], "Image_Metadata_Well": ["D3"], "Image_Count_Nuclei": [289]})
    nuclei = _nuclei(example, "Nuclei_")
    # one table per object type: MyExpt_Per_Image + MyExpt_Per_Nuclei (Nuclei_Number_Object_Number)
    separate = _write_sqlite(tmp_path / "separate.db", {"MyExpt_Per_Image": per_image, "MyExpt_Per_Nuclei": nuclei,
                                                        "MyExpt_Experiment": pd.DataFrame({"x": [1]})})
    # one object table: Per_Object (ImageNumber, ObjectNumber, <Object>_Location_Center_X for each object)
    cells_xy = example["joined"][["Cells_Location_Center_X", "Cells_Location_Center_Y"]]
    single = _write_sqlite(tmp_path / "single.db", {"Per_Image": per_image, "Per_Object": pd.concat(
        [nuclei.rename(columns={"Nuclei_Number_Object_Number": "ObjectNumber"}), cells_xy], axis=1)})
    images = read_cp_tables(separate).images  # keys, file names and metadata only: no feature is read
    assert "Metadata_Well" in images.columns and not any("Count_Nuclei" in c for c in images.columns)
    for db in (separate, single):
        cells, report = import_cellprofiler(db, size=CROP)
        assert report["layout"] == "CellProfiler ExportToDatabase" and report["compartment"] == "Nuclei"
        assert cells.channels == ["OrigDNA", "OrigActin"] and "IllumDNA" in report["channels_note"]
        assert report["objects"] == 289 and len(cells) + report["skipped_border"] == 289
        assert set(cells.meta["well"]) == {"D03"} and set(cells.meta["plate"]) == {"P1"}
        first = cells.meta.iloc[0]
        y, x = int(round(first["y"])), int(round(first["x"]))
        assert np.array_equal(cells.images[0, ..., 0], example["dna"][y - CROP // 2:y + CROP // 2, x - CROP // 2:x + CROP // 2])
    cells, report = import_cellprofiler(single, size=CROP, compartment="cells")
    assert report["compartment"] == "Cells" and report["compartments"] == ["Nuclei", "Cells"]
    assert np.isin(np.round(cells.meta["x"], 3), np.round(cells_xy["Cells_Location_Center_X"], 3)).all()
    assert not np.isin(np.round(cells.meta["x"], 3), np.round(nuclei["Nuclei_Location_Center_X"], 3)).all()


def test_cytominer_database_sqlite_keyed_by_table_number(example, tmp_path):
    real = read_cp_tables(DATA / "test_BR00126114.sqlite")  # pycytominer's own file, as it is
    assert real.layout == "cytominer-database" and len(real.objects["Nuclei"]) == 20
    assert set(real.images["Metadata_Plate"]) == {"BR00126114"}
    assert real.objects["Nuclei"]["ImageNumber"].isin(real.images["ImageNumber"]).all()
    with pytest.raises(ValueError, match="no FileName_<channel> column"):
        import_cellprofiler(DATA / "test_BR00126114.sqlite", size=CROP)
    # two sites collated: ImageNumber 1 in each, told apart by TableNumber (cytominer-database's key)
    _images(tmp_path / "a", example["dna"])
    _images(tmp_path / "b", example["dna"][::-1].copy())
    image = pd.DataFrame({"TableNumber": ["t1", "t2"], "ImageNumber": [1, 1],
                          "Image_FileName_OrigDNA": ["DNA.tif", "DNA.tif"],
                          "Image_PathName_OrigDNA": [str(tmp_path / "a"), str(tmp_path / "b")],
                          "Image_FileName_IllumDNA": ["IllumDNA.tif"] * 2, "Image_PathName_IllumDNA": ["x"] * 2,
                          "Image_FileName_NucleiOutlines": ["o.png"] * 2, "Image_PathName_NucleiOutlines": ["x"] * 2,
                          "Image_Metadata_Well": ["A01", "A02"]})
    nuc = _nuclei(example, "Nuclei_").drop(columns="Nuclei_Number_Object_Number").head(40)
    nuc = pd.concat([nuc.assign(TableNumber="t1", ObjectNumber=range(1, 41)),
                     nuc.assign(TableNumber="t2", ObjectNumber=range(1, 41),
                                Nuclei_Location_Center_Y=512 - nuc["Nuclei_Location_Center_Y"])])
    db = _write_sqlite(tmp_path / "cytominer.sqlite", {"Image": image, "Nuclei": nuc})
    cells, report = import_cellprofiler(db, size=CROP, border="pad")
    assert report["channels"] == ["OrigDNA"] and "NucleiOutlines" in report["channels_note"]
    assert len(cells) == 80 and cells.meta.groupby("well").size().to_dict() == {"A01": 40, "A02": 40}
    assert set(cells.meta["tablenumber"]) == {"t1", "t2"}
    a = cells.meta.index[cells.meta["well"] == "A01"][5]
    b = cells.meta.index[cells.meta["well"] == "A02"][5]
    assert np.array_equal(cells.images[a][::-1], cells.images[b])  # each site read its own (flipped) field
    # a plate too large for memory: the same crops go image by image to a resumable cell store
    from ssrl_core.data.registry import load_dataset

    def stop(done: int, total: int, label: str) -> None:
        if done == 1:
            raise KeyboardInterrupt  # the user stops it after the first image
    with pytest.raises(KeyboardInterrupt):
        import_cellprofiler(db, size=CROP, border="pad", out=tmp_path / "plate.cells", progress=stop)
    stored, rep = import_cellprofiler(db, size=CROP, border="pad", out=tmp_path / "plate.cells")
    assert rep["resumed"] is True and len(stored) == 80
    stored = load_dataset(tmp_path / "plate.cells")
    assert np.array_equal(np.asarray(stored.images[:80]), cells.images)
    assert list(stored.meta["ObjectNumber"]) == list(cells.meta["ObjectNumber"])


def test_cytotable_joined_parquet_and_a_joined_csv_with_a_compartment(example, tmp_path, capsys):
    tifffile.imwrite(tmp_path / DNA, example["dna"])
    src = tmp_path / "joined.parquet"
    example["joined"].to_parquet(src)
    tables = read_cp_tables(src)
    assert tables.layout.startswith("single-cell table") and sorted(tables.objects) == ["Cells", "Cytoplasm", "Nuclei"]
    chans, note = default_channels(tables.images)
    assert chans == ["DNA", "PH3", "cellbody"] and "OrigOverlay" in note  # an overlay is not a channel
    assert main(["data", "import-cellprofiler", str(src), "--channels", "DNA", "--crop", str(CROP),
                 "--out", str(tmp_path / "n.npz"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compartment"] == "Nuclei" and report["objects"] == 289 and report["cells"] > 250
    # the same table as CSV (the one refused with "no 'Location_Center_X' column"), cropped at the cells
    example["joined"].to_csv(tmp_path / "joined.csv", index=False)
    cells, report = import_cellprofiler(tmp_path / "joined.csv", channels=["DNA"], size=CROP, compartment="Cells")
    assert report["compartment"] == "Cells"
    assert np.isin(np.round(cells.meta["x"], 3), np.round(example["joined"]["Cells_Location_Center_X"], 3)).all()
    # CytoTable's other layout: one parquet per table (image, cells, nuclei), lower-case file names
    folder = tmp_path / "cytotable"
    folder.mkdir()
    j = example["joined"]
    j[["Metadata_ImageNumber", "Image_FileName_DNA"]].drop_duplicates().to_parquet(folder / "image.parquet")
    for comp in ("Nuclei", "Cells"):
        j[["Metadata_ImageNumber", "Metadata_ObjectNumber"] + [c for c in j.columns if c.startswith(comp + "_")]
          ].to_parquet(folder / f"{comp.lower()}.parquet")
    cells, report = import_cellprofiler(folder, size=CROP, image_root=tmp_path, border="pad")
    assert report["compartments"] == ["Cells", "Nuclei"] and report["compartment"] == "Nuclei"
    assert list(cells.meta["ObjectNumber"]) == list(j["Metadata_ObjectNumber"]) and len(cells) == 289
    with pytest.raises(ValueError, match="there are Cytoplasm, Cells, Nuclei"):
        import_cellprofiler(tmp_path / "joined.csv", channels=["DNA"], size=CROP, compartment="Mito")


def test_spreadsheet_export_defaults_to_the_original_channels(example, tmp_path):
    """A JUMP-style Image.csv: FileName_Orig* next to Illum* and outlines; only the Orig* are stacked."""
    _images(tmp_path, example["dna"])
    pd.DataFrame({"ImageNumber": [1], "FileName_OrigDNA": ["DNA.tif"], "FileName_OrigActin": ["Actin.tif"],
                  "FileName_IllumDNA": ["IllumDNA.tif"], "FileName_CellOutlines": ["none.png"],
                  "Metadata_Well": ["B02"]}).to_csv(tmp_path / "Image.csv", index=False)
    _nuclei(example, "").rename(columns={"Number_Object_Number": "ObjectNumber"}).to_csv(tmp_path / "Nuclei.csv",
                                                                                         index=False)
    cells, report = import_cellprofiler(tmp_path / "Image.csv", tmp_path / "Nuclei.csv", size=CROP)
    assert cells.channels == ["OrigDNA", "OrigActin"] and report["channels_note"].startswith("the original images")
    assert "IllumDNA" in report["channels_note"] and "CellOutlines" in report["channels_note"]
