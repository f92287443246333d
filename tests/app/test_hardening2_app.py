"""Issue 23 in the app (real Streamlit AppTest runs of app.py): the Data page says which CSV rows
matched no image, offers the channel-axis choice for stacks that do not say, and an OS error at
the app's edge is one plain sentence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from app_support import app_on, problems


def _import(at, folder: Path) -> tuple[str, str]:
    """Import `folder` with the folder box; (success text, error text) shown right after."""
    at.text_input(key="w.data.folder").input(str(folder))
    next(b for b in at.button if b.label == "Import this folder").click().run()
    return " ".join(s.value for s in at.success), " ".join(e.value for e in at.error)


def test_data_page_names_unmatched_rows_and_reads_stacks_with_the_chosen_axis(tiny_env, tmp_path: Path) -> None:
    crops = tmp_path / "crops"
    (crops / "plateA").mkdir(parents=True)
    (crops / "plateB").mkdir()
    rng = np.random.default_rng(0)
    for plate in ("plateA", "plateB"):
        tifffile.imwrite(crops / plate / "cell0.tif", rng.integers(0, 4000, (24, 24), dtype=np.uint16))
    (crops / "metadata.csv").write_text("file,compound\nplateA/cell0.tif,taxol\nplateC/cell9.tif,DMSO\n",
                                        encoding="utf-8")
    at = app_on("pages/data.py")
    text, _ = _import(at, crops)
    assert not problems(at), problems(at)
    assert "Imported 2 cells from crops." in text, text
    assert "metadata.csv line 3: plateC/cell9.tif: no such image in the folder: row not used" in text, text
    assert "have no row in metadata.csv, so they have no metadata from it: plateB/cell0.tif" in text, text

    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for i in range(2):
        tifffile.imwrite(stacks / f"cell{i}.tif", rng.integers(0, 4000, (12, 32, 32), dtype=np.uint16))
    _, error = _import(at, stacks)
    assert "does not say which axis holds the channels" in error and "Channels in multi-page TIFFs" in error, error
    at.selectbox(key="w.data.channel_axis").select("first").run()
    text, _ = _import(at, stacks)
    assert not problems(at), problems(at)
    assert "Imported 2 cells from stacks.npz." in text, text
    assert (Path(tiny_env) / "stacks.npz").is_file()
    at.run()
    assert at.metric[2].value == "12"  # channels


def test_an_os_error_when_keeping_a_label_is_one_sentence(tiny_env, tmp_path: Path) -> None:
    """The app's edge: hand labels written into a data folder that is a file where a folder must be."""
    import os

    from streamlit.testing.v1 import AppTest

    (Path(tiny_env) / "annotations").write_text("a file where the labels folder should be")

    def page() -> None:
        import numpy as np
        import pandas as pd

        from ssrl_app.explore import hand_labels
        from ssrl_core.data.cellset import CellSet

        cells = CellSet(np.zeros((4, 16, 16, 1), np.uint8), ["grey"], pd.DataFrame({"label": list("abcd")}), name="t")
        hand_labels.label_form("tiny_cells", cells, np.array([0, 1]))

    at = AppTest.from_function(page, default_timeout=60).run()
    at.text_input(key="w.explore.label_value").input("mitotic")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert errors == [f"The label was not kept: {Path(tiny_env) / 'annotations'} is a file, not a folder (this folder "
                      f"comes from SSRL_DATA={os.environ['SSRL_DATA']}: set SSRL_DATA to a folder you can write). Give "
                      "a folder path (a new name is created), or move the file away."], errors


def test_ssrl_runs_pointing_at_a_file_is_one_sentence_on_every_page_that_lists_runs(
        tiny_env, tmp_path: Path, monkeypatch) -> None:
    runs = tmp_path / "runs.txt"
    runs.write_text("not a folder\n")
    monkeypatch.setenv("SSRL_RUNS", str(runs))
    for page in ("pages/train.py", "pages/explore.py"):
        at = app_on(page)
        assert not problems(at), (page, problems(at))
        assert [e.value for e in at.error] == [
            f"This page could not go on: {runs} is a file, not a folder (this folder comes from SSRL_RUNS={runs}: "
            "set SSRL_RUNS to a folder you can write). Give a folder path (a new name is created), or move the file "
            "away."], page
    assert runs.read_text() == "not a folder\n"
