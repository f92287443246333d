"""Issue 23, items 6 and 12: every CSV we write is safe to open in a spreadsheet; every CSV a user
gives is read whatever its encoding, or refused naming the file.

The exports are made by the real commands from an embedding file whose metadata holds formula
payloads (OWASP's CSV-injection examples); the files are read back as raw text with the `csv`
module, the way a spreadsheet sees them.
"""

from __future__ import annotations

import ast
import codecs
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_support import ROOT

from ssrl_core.cli import main
from ssrl_core.csvio import CSVError, csv_text, neutralise, read_csv
from ssrl_core.data.plate import read_plate_map
from ssrl_core.evaluate.export import read_embeddings, write_table

PAYLOADS = ["=cmd|' /C calc'!A0", '+HYPERLINK("http://evil.example","x")', "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
            "\t=1+1", "\r=1+1", "DMSO", "-1.5"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def embeddings(path: Path) -> Path:
    n = 2 * len(PAYLOADS)
    rng = np.random.default_rng(0)
    meta = pd.DataFrame({"compound": PAYLOADS * 2, "plate": ["P1"] * n,
                         "well": [f"A0{i % 4 + 1}" for i in range(n)], "=evil": ["x"] * n})
    feats = rng.normal(size=(n, 4)).astype(np.float32) - 1  # many negative numbers: they stay numbers
    table = pd.concat([pd.DataFrame({"cell_index": range(n), "dataset": "d"}), meta,
                       pd.DataFrame(feats, columns=[f"emb_{i}" for i in range(4)])], axis=1)
    return write_table(table, path)


def assert_safe(path: Path) -> list[list[str]]:
    """Every field of the CSV is either plain text, a number, or quoted with a leading `'`."""
    with open(path, encoding="utf-8", newline="") as fh:  # as a spreadsheet reads it: no newline translation
        rows = list(csv.reader(fh))
    for row in rows:
        for field in row:
            if field.startswith(TRIGGERS):
                float(field)  # only a plain number may start with + or -
    return rows


def test_every_csv_export_is_neutralised(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    emb = embeddings(tmp_path / "emb.parquet")
    assert main(["profiles", str(emb), "--cells", str(tmp_path / "cells.csv"), "--wells", str(tmp_path / "wells.csv"),
                 "--json"]) == 0
    assert main(["cluster", str(emb), "--by", "plate", "--k", "2", "--out", str(tmp_path / "clusters.csv"),
                 "--json"]) == 0
    assert main(["project", str(emb), "--method", "pca", "--out", str(tmp_path / "map.csv"), "--json"]) == 0
    capsys.readouterr()
    fields = {name: {f for row in assert_safe(tmp_path / name) for f in row}
              for name in ("cells.csv", "wells.csv", "clusters.csv", "map.csv")}
    for name in ("cells.csv", "clusters.csv", "map.csv"):
        assert {"'=cmd|' /C calc'!A0", "'@SUM(1+1)*cmd", "'\t=1+1", "'\r=1+1", "-1.5"} <= fields[name], name
    assert "'=evil" in fields["clusters.csv"] and "Metadata_=evil" in fields["cells.csv"]
    # our own CSV reads back to the original values (the quote is ours to remove)
    feats, meta = read_embeddings(tmp_path / "clusters.csv")
    assert meta["compound"].tolist()[:len(PAYLOADS)] == PAYLOADS and "=evil" in meta.columns
    assert feats.shape == (16, 4) and (feats < 0).any()


def test_hand_labels_and_downloads_use_the_same_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssrl_core.data import annotations
    from ssrl_core.data.cellset import CellSet

    monkeypatch.setenv("SSRL_DATA", str(tmp_path))
    cells = CellSet(np.zeros((3, 16, 16, 1), np.uint8), ["grey"], pd.DataFrame({"label": ["a"] * 3}), name="s")
    annotations.label_cells("s", cells, [0, 2], "note", "=HYPERLINK(\"http://x\")")
    assert "'=HYPERLINK" in annotations.annotations_file("s").read_text(encoding="utf-8")
    assert annotations.read_annotations("s")["note"].tolist() == ['=HYPERLINK("http://x")'] * 2
    text = csv_text(pd.DataFrame({"a": ["@x", "ok", None], "b": [-1.0, 2.0, 3.0]}))
    assert text.splitlines() == ["a,b", "'@x,-1.0", "ok,2.0", ",3.0"]
    assert neutralise("-12.5e3") == "-12.5e3" and neutralise("-A1") == "'-A1" and neutralise(3) == 3


def test_no_product_code_writes_a_csv_but_the_one_writer() -> None:
    """`DataFrame.to_csv` and `csv.writer` are called only in `ssrl_core/csvio.py`."""
    files = [*(ROOT / "ssrl_core").rglob("*.py"), *(ROOT / "ssrl_app").rglob("*.py"), *(ROOT / "pages").glob("*.py"),
             ROOT / "app.py"]
    found = []
    for f in files:
        if f.name == "csvio.py" and f.parent.name == "ssrl_core":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("to_csv", "writer", "DictWriter") and (
                    node.attr == "to_csv" or ast.unparse(node.value) == "csv"):
                found.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"CSV written outside ssrl_core/csvio.py: {found}"


# -- item 12: encodings ---------------------------------------------------------------------------

MAP = "well,compound,concentration\nA01,Café olé,1.5\nA02,DMSO,0\n"


@pytest.mark.parametrize("encoding,raw", [
    ("utf-8-sig (Excel 'CSV UTF-8')", codecs.BOM_UTF8 + MAP.encode("utf-8")),
    ("utf-16 (Excel 'Unicode text', tabs)", MAP.replace(",", "\t").encode("utf-16")),
    ("utf-16-le without a mark", MAP.encode("utf-16-le")),
    ("latin-1", MAP.encode("latin-1")),
    ("semicolons, cp1252", MAP.replace(",", ";").replace("1.5", "1,5").encode("cp1252")),
])
def test_plate_maps_in_every_excel_encoding_read_the_same(tmp_path: Path, encoding: str, raw: bytes) -> None:
    path = tmp_path / "map.csv"
    path.write_bytes(raw)
    table = read_plate_map(path)
    assert list(table.columns) == ["well", "compound", "concentration"], encoding
    assert table["well"].tolist() == ["A01", "A02"] and table["compound"].tolist() == ["Café olé", "DMSO"]


def test_unreadable_csvs_are_refused_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty, binary, header = tmp_path / "empty.csv", tmp_path / "photo.csv", tmp_path / "header.csv"
    empty.write_bytes(b"")
    binary.write_bytes(bytes(range(256)) * 8)
    header.write_text("well,compound\n", encoding="utf-8")
    with pytest.raises(CSVError, match=r"^empty.csv is empty; it needs a header row"):
        read_plate_map(empty)
    with pytest.raises(CSVError, match=r"^photo.csv is not a text file \(it holds binary data"):
        read_csv(binary)
    with pytest.raises(ValueError, match=r"^the plate map header.csv has a header but no rows"):
        read_plate_map(header)
    plate = tmp_path / "plate"
    plate.mkdir()
    import tifffile

    tifffile.imwrite(plate / "P1_A01_s1_w1.tif", np.zeros((64, 64), np.uint16))
    assert main(["data", "import-plate", str(plate), "--plate-map", str(empty), "--preview"]) == 2
    assert capsys.readouterr().err.strip() == ("error: empty.csv is empty; it needs a header row (column names) and "
                                               "one row per item")


def test_a_folder_metadata_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    import tifffile

    from ssrl_core.data.folder import load_folder

    tifffile.imwrite(tmp_path / "a.tif", np.full((24, 24), 7, np.uint16) + np.arange(24, dtype=np.uint16))
    (tmp_path / "metadata.csv").write_bytes(codecs.BOM_UTF8 + "file,compound\na.tif,Café\n".encode("utf-8"))
    assert load_folder(tmp_path).meta["compound"].tolist() == ["Café"]
