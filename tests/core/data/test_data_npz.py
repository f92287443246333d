"""The npz crop format: round trips, headers, bad files, the shared sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssrl_core.data import sources
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.npz import load_npz, npz_header, save_npz


@pytest.mark.parametrize("dtype,channels", [(np.uint8, 1), (np.uint16, 3), (np.float32, 5)])
def test_round_trip_keeps_dtype_channels_and_metadata(tmp_path, dtype, channels):
    rng = np.random.default_rng(1)
    images = (rng.random((6, 16, 18, channels)) * 200).astype(dtype)
    names = [f"stain{i}" for i in range(channels)]
    meta = pd.DataFrame({"label": list("aabbcc"), "concentration": np.linspace(0, 1, 6), "site": np.arange(6)})
    path = save_npz(CellSet(images, names, meta, name="x"), tmp_path / "set.npz")
    back = load_npz(path)
    assert back.images.dtype == dtype and np.array_equal(back.images, images)
    assert back.channels == names
    assert list(back.meta["label"]) == list("aabbcc")
    assert np.allclose(back.meta["concentration"], meta["concentration"])
    head = npz_header(path)
    assert (head["cells"], head["height"], head["width"], head["channels"]) == (6, 16, 18, channels)
    assert head["dtype"] == np.dtype(dtype).name and head["channel_names"] == names
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary file


def test_nan_crops_are_skipped_and_counted(tmp_path):
    images = np.ones((4, 16, 16, 1), np.float32)
    images[2, 3, 3, 0] = np.nan
    np.savez(tmp_path / "f.npz", images=images, label=np.array(["a", "b", "c", "d"]))
    cells = load_npz(tmp_path / "f.npz")
    assert len(cells) == 3 and list(cells.meta["label"]) == ["a", "b", "d"]
    assert len(cells.skipped) == 1 and "f.npz[2]" in cells.skipped[0][0] and "NaN" in cells.skipped[0][1]


def test_bad_npz_files_give_plain_errors(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((50, 16, 16), np.uint8))
    truncated = tmp_path / "trunc.npz"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match="trunc.npz"):
        load_npz(truncated)
    with pytest.raises(ValueError, match="trunc.npz"):
        npz_header(truncated)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"^notes.npz is a text file \(it begins 'hello'\), not an .npz archive$"):
        load_npz(text)
    noimg = tmp_path / "noimg.npz"
    np.savez(noimg, pixels=np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="no 'images' array"):
        load_npz(noimg)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")


def test_shared_mitocheck_and_bbbc021_load_with_standard_columns(shared_data):
    """The shared copies store no channel names: their source in the table gives them (by where the
    file is, not by its name), and MitoCheck's plate and well come from its crops' file names."""
    mito_path = shared_data / "mitocheck" / "mitocheck_phenotype_crops.npz"
    with np.load(mito_path) as raw:
        assert "channels" not in raw.files  # what the table has to supply
    mito = sources.of_file(mito_path).load(mito_path)
    assert len(mito) == 3277 and mito.shape == (64, 64, 1) and mito.channels == ["H2B-GFP"]
    assert mito.meta["label"].nunique() == 16 and (mito.meta["label"] == "Polylobed").sum() == 473
    assert mito.meta["plate"].notna().all() and set(mito.meta["source"]) == {"mitocheck"}
    bbbc = shared_data / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz"
    head = sources.of_file(bbbc).info(bbbc)
    assert head["cells"] == 2808 and head["channel_names"] == ["DAPI", "Actin", "Tubulin"] and "note" not in head
    assert {"plate", "well", "compound", "concentration", "moa"} <= set(head["columns"])
    plain = npz_header(bbbc)  # read as any file: generic names and a note, nothing guessed from its name
    assert plain["channel_names"] == ["ch0", "ch1", "ch2"] and "no channel names" in plain["note"]


def test_a_file_without_channel_names_gets_generic_ones_and_a_note(tmp_path):
    path = tmp_path / "bbbc021_mitocheck_nuclei.npz"  # a name that once decided the channels
    np.savez(path, images=np.zeros((4, 16, 16, 3), np.uint16), plate=np.array(list("aabb")),
             compound=np.array(list("xyxy")), moa=np.array(list("mmmm")))
    cells = load_npz(path)
    assert cells.channels == ["ch0", "ch1", "ch2"] and set(cells.meta["source"]) == {path.stem}
    assert list(cells.meta["label"]) == list("xyxy")  # label = compound, for any file
    head = npz_header(path)
    assert head["channel_names"] == ["ch0", "ch1", "ch2"] and "ch0, ch1, ch2" in head["note"]
    assert load_npz(path, channels=["DAPI", "Actin", "Tubulin"]).channels == ["DAPI", "Actin", "Tubulin"]
    assert load_npz(path, channels=["DAPI"]).channels == ["ch0", "ch1", "ch2"]  # a wrong count is not used
