"""Folders of single-cell images + CSV, bad files, sanitised uploads (real files written here)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from ssrl_core.data.folder import import_uploads, load_folder
from ssrl_core.data.names import safe_filename
from ssrl_core.data.npz import load_npz


def _crop16(seed: int, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 4000, (24, 24, channels), dtype=np.uint16)


def test_tiff_folder_with_csv_keeps_16bit_channels_and_metadata(tmp_path):
    for i in range(3):
        tifffile.imwrite(tmp_path / f"cell{i}.tif", _crop16(i))
    tifffile.imwrite(tmp_path / "cell3.tif", np.moveaxis(_crop16(3), -1, 0), photometric="minisblack")  # (C, H, W) layout
    (tmp_path / "metadata.csv").write_text("file,compound,concentration\ncell0.tif,DMSO,0\ncell2.tif,taxol,1.0\n")
    cells = load_folder(tmp_path)
    assert len(cells) == 4 and cells.images.dtype == np.uint16 and cells.shape == (24, 24, 3)
    assert np.array_equal(cells.images[0], _crop16(0)) and np.array_equal(cells.images[3], _crop16(3))
    row = cells.meta.set_index("file")
    assert row.loc["cell2.tif", "compound"] == "taxol" and row.loc["cell0.tif", "compound"] == "DMSO"
    assert cells.skipped == [("2 image(s)", "have no row in metadata.csv, so they have no metadata from it: "
                                            "cell1.tif, cell3.tif")]


def test_png_jpg_class_folders_give_labels(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("Interphase", "Metaphase"):
        (tmp_path / cls).mkdir()
        for k in range(2):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(tmp_path / cls / f"c{k}.png")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(tmp_path / "Metaphase" / "c9.jpg")
    Image.fromarray(rng.integers(0, 60000, (16, 16)).astype(np.uint16)).save(tmp_path / "Interphase" / "c16.png")
    cells = load_folder(tmp_path)
    assert len(cells) == 6 and cells.shape == (16, 16, 1) and cells.images.dtype == np.uint16
    assert sorted(cells.meta["label"].value_counts().items()) == [("Interphase", 3), ("Metaphase", 3)]
    assert cells.images.max() > 255  # the 16-bit PNG kept its range


def test_every_kind_of_bad_file_is_skipped_with_its_reason(tmp_path):
    for i in range(3):
        tifffile.imwrite(tmp_path / f"ok{i}.tif", _crop16(i, 2))
    good = (tmp_path / "ok0.tif").read_bytes()
    (tmp_path / "truncated.tif").write_bytes(good[: len(good) // 3])
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (tmp_path / "empty.tif").write_bytes(b"")
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not an image")
    tifffile.imwrite(tmp_path / "threechannels.tif", _crop16(7, 3))
    nan = np.ones((24, 24, 2), np.float32)
    nan[3, 3, 0] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", nan)
    Image.new("L", (5000, 5000)).save(tmp_path / "huge.png")
    tifffile.imwrite(tmp_path / "huge.tif", np.zeros((4200, 4200), np.uint8), compression="zlib")
    tifffile.imwrite(tmp_path / "field.tif", np.zeros((200, 200, 2), np.uint16))  # a whole field, not a crop
    cells = load_folder(tmp_path)
    assert len(cells) == 3 and cells.shape == (24, 24, 2)
    reasons = dict(cells.skipped)
    assert set(reasons) == {"truncated.tif", "corrupt.png", "empty.tif", "notes.docx", "threechannels.tif",
                            "nan.tif", "huge.png", "huge.tif", "field.tif"}
    assert "empty" in reasons["empty.tif"] and "NaN" in reasons["nan.tif"]
    assert "3 channel" in reasons["threechannels.tif"] and "larger" in reasons["huge.png"]
    assert "corrupt or truncated" in reasons["truncated.tif"] and "not an image" in reasons["notes.docx"]
    assert "larger" in reasons["huge.tif"] and "ssrl data nuclei" in reasons["field.tif"]
    assert cells.summary()["skipped"] == 9


def test_other_sizes_are_centred_and_no_images_is_an_error(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((20, 20), np.uint8))
    tifffile.imwrite(tmp_path / "b.tif", np.zeros((20, 20), np.uint8))
    big = np.zeros((30, 30), np.uint8)
    big[15, 15] = 255
    tifffile.imwrite(tmp_path / "c.tif", big)
    cells = load_folder(tmp_path)
    assert cells.shape == (20, 20, 1) and list(cells.meta["resized"]) == [False, False, True]
    assert cells.images[2, 10, 10, 0] == 255  # the centre stayed the centre
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "bad.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="no usable images"):
        load_folder(tmp_path / "empty")


@pytest.mark.parametrize("name,expected", [("../../etc/passwd", "passwd"), ("C:\\x\\cell 1.tif", "cell_1.tif"),
                                           ("..", "file"), ("é cellule;rm -rf.png", "e_cellule_rm_-rf.png"),
                                           (".hidden.tif", "hidden.tif")])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_import_uploads_sanitises_and_saves_npz(tmp_path):
    files = []
    for i in range(3):
        p = tmp_path / f"src{i}.tif"
        tifffile.imwrite(p, _crop16(i, 1))
        files.append((f"../evil dir/cell {i}.tif", p.read_bytes()))
    csv = ("meta.csv", b"file,label\ncell 0.tif,A\ncell 1.tif,B\ncell 2.tif,A\n")
    out, cells = import_uploads(files, name="my upload!", csv=csv, data_dir=tmp_path / "data")
    assert out == tmp_path / "data" / "my_upload.npz" and out.is_file()
    back = load_npz(out)
    assert len(back) == 3 and list(back.meta["label"]) == ["A", "B", "A"]
    assert list(back.meta["file"]) == ["cell_0.tif", "cell_1.tif", "cell_2.tif"]
    assert not (tmp_path / "evil dir").exists()


def test_label_masks_are_skipped_and_mixed_bit_depths_keep_their_brightness(tmp_path):
    rng = np.random.default_rng(3)
    bright16 = rng.integers(30000, 40000, size=(32, 32), dtype=np.uint16)
    bright8 = rng.integers(115, 155, size=(32, 32)).astype(np.uint8)  # the same brightness on 8 bits
    tifffile.imwrite(tmp_path / "a16.tif", bright16)
    Image.fromarray(bright8).save(tmp_path / "b8.png")
    labels = np.zeros((32, 32), np.uint16)
    labels[4:12, 4:12], labels[20:28, 18:30] = 1, 2
    tifffile.imwrite(tmp_path / "a16_labels.tif", labels)  # a mask named by its tool
    binary = np.zeros((32, 32), np.uint8)
    binary[8:20, 8:20] = 255
    Image.fromarray(binary).save(tmp_path / "outline.png")  # a two-valued mask, whatever its name
    cells = load_folder(tmp_path)
    assert sorted(cells.meta["file"]) == ["a16.tif", "b8.png"]
    reasons = dict(cells.skipped)
    assert "label mask" in reasons["a16_labels.tif"] and "label mask" in reasons["outline.png"]
    assert cells.images.dtype == np.uint16
    by_file = {f: cells.images[i].mean() for i, f in enumerate(cells.meta["file"])}
    assert abs(by_file["b8.png"] - by_file["a16.tif"]) < 0.1 * by_file["a16.tif"]  # not black
    assert dict(zip(cells.meta["file"], cells.meta["bits"])) == {"a16.tif": 16, "b8.png": 8}
