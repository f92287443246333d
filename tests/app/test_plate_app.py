"""The Data page's plate import (AppTest): preview of the matched files, then the import."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile

from ssrl_core.data.npz import load_npz
from ssrl_core.data.registry import load_dataset

from app_support import ROOT, app_on, problems


@pytest.mark.parametrize("as_store", [False, True])
def test_data_page_previews_and_imports_a_plate(tiny_env, shared_data, tmp_path, monkeypatch, as_store):
    from ssrl_app.data import plate_import

    if as_store:  # a large plate (more sites than the threshold) goes to a resumable cell store
        monkeypatch.setattr(plate_import, "STORE_ABOVE_SITES", 1)
    fields = sorted(p for p in (shared_data / "fields" / "bbbc007").glob("A9__*.tif") if "_labels" not in p.name)[:2]
    plate = tmp_path / "plateX"
    plate.mkdir()
    for f, well in zip(fields, ("B02", "C03")):
        dna = tifffile.imread(f)
        tifffile.imwrite(plate / f"{well}_s1_w1.tif", dna)
        tifffile.imwrite(plate / f"{well}_s1_w2.tif", (255 - dna).astype(np.uint8))
    (plate / "readme.txt").write_text("x")
    pd.DataFrame({"well": ["B02"], "compound": ["DMSO"]}).to_csv(tmp_path / "map.csv", index=False)

    at = app_on("pages/data.py")
    assert not problems(at), problems(at)
    at.text_input(key="w.plate.folder").input(str(plate))
    at.text_input(key="w.plate.map_path").input(str(tmp_path / "map.csv"))
    at.number_input(key="w.plate.crop").set_value(32)
    at.text_input(key="w.plate.names").input("DNA, Actin")
    next(b for b in at.button if b.label == "Preview the matched files").click().run()
    assert not problems(at), problems(at)
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sites"] == "2" and metrics["Wells"] == "2" and metrics["Unmatched files"] == "1"
    assert any("Wells without a plate-map row" in e.label and e.label.endswith("(1)") for e in at.expander)
    preview = next(d.value for d in at.dataframe if "channel 1" in d.value.columns)
    assert list(preview["channel 1"]) == ["B02_s1_w1.tif", "C03_s1_w1.tif"]
    assert at.text_input(key="w.plate.name").value == "plateX"  # the folder's name until the user types one
    assert any("Nucleus check" in m.value for m in at.markdown)  # the check comes before the import
    checked = next(d.value for d in at.dataframe if "nuclei found" in d.value.columns)
    assert len(checked) == 2 and (checked["nuclei found"] > 10).all()
    assert any("(1)" in c or "site 1" in c for img in at.get("image") for c in img.captions)  # outlines drawn
    # "Save as" typed after the preview is the name used (issue 25: it wrote data/plate.npz)
    at.text_input(key="w.plate.name").input("my plate")
    at.run()
    next(b for b in at.button if b.label.startswith("Import 2 sites")).click().run()
    assert not problems(at), problems(at)
    assert not at.error, [e.value for e in at.error]
    if as_store:
        assert (tiny_env / "my_plate.cells" / "store.json").is_file() and not (tiny_env / "my_plate.npz").exists()
        cells = load_dataset(tiny_env / "my_plate.cells")
    else:
        cells = load_npz(tiny_env / "my_plate.npz")
    assert cells.channels == ["DNA", "Actin"] and cells.images.shape[1:] == (32, 32, 2)
    assert set(cells.meta["compound"]) == {"DMSO", ""}
    assert any("Imported" in s.value and "my_plate" in s.value for s in at.success)
    assert not (tiny_env / "plateX.npz").exists() and not (tiny_env / "plate.npz").exists()


def test_data_page_imports_a_cellprofiler_output_and_compares_nuclei(tiny_env, tmp_path):
    """A CytoTable single-cell parquet of CellProfiler's ExampleHuman run, with its DNA image."""

    data = ROOT / "tests" / "data" / "pycytominer"
    (tmp_path / "AS_09125_050116030001_D03f00d0.tif").write_bytes((data / "AS_09125_050116030001_D03f00d0.tif").read_bytes())
    (tmp_path / "examplehuman.parquet").write_bytes((data / "examplehuman_joined.parquet").read_bytes())
    at = app_on("pages/data.py")
    at.text_input(key="w.cp.source").input(str(tmp_path / "examplehuman.parquet"))
    next(b for b in at.button if b.label == "Read").click().run()
    assert not problems(at) and not at.error, [e.value for e in at.error]
    assert any("single-cell table" in c.value and "Nuclei 289" in c.value for c in at.caption)
    assert at.selectbox(key="w.cp.compartment").value == "Nuclei"
    assert at.multiselect(key="w.cp.channels").value == ["DNA", "PH3", "cellbody"]  # not the overlay
    next(b for b in at.button if b.label == "Compare nuclei").click().run()
    assert any("CellProfiler found 289 nuclei" in i.value and "99.7% of CellProfiler's are found" in i.value
               for i in at.info), [i.value for i in at.info]
    at.multiselect(key="w.cp.channels").set_value(["DNA"])
    at.number_input(key="w.cp.crop").set_value(32)
    at.text_input(key="w.cp.name").input("example human")
    next(b for b in at.button if b.label == "Import").click().run()
    assert not problems(at) and not at.error, [e.value for e in at.error]
    cells = load_npz(tiny_env / "example_human.npz")
    assert cells.channels == ["DNA"] and 250 < len(cells) <= 289 and "ObjectNumber" in cells.meta.columns


def test_a_folder_of_fields_can_be_checked_before_cropping(tiny_env, shared_data, tmp_path):
    """The nucleus check (counts, sizes, outlines) on a few fields, before every field is cut."""
    folder = tmp_path / "fields"
    folder.mkdir()
    for p in sorted((shared_data / "fields" / "bbbc007").glob("A9__*.tif"))[:4]:  # 2 fields and their masks
        (folder / p.name).write_bytes(p.read_bytes())
    at = app_on("pages/data.py")
    at.text_input(key="w.data.folder").input(str(folder))
    next(b for b in at.button if b.label == "Import this folder").click().run()
    at.run()
    next(b for b in at.button if b.label.startswith("Check the nuclei on 2 fields")).click().run()
    assert not problems(at) and not at.error, [e.value for e in at.error]
    assert any("Nucleus check" in m.value for m in at.markdown)
    checked = next(d.value for d in at.dataframe if "nuclei found" in d.value.columns)
    assert list(checked["site"]) == ["A9__A9_p10d.tif", "A9__A9_p5d.tif"] and (checked["nuclei found"] > 20).all()
