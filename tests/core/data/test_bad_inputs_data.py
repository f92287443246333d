"""Bad data inputs (issue 10): each is built here in tmp_path, and the test asserts the exact
behaviour: a plain message naming the file and the reason, the good items kept, and for the
memory cases a refusal from the header, before any pixel is decoded (checked with tracemalloc)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from ssrl_core.cli import main
from ssrl_core.data.folder import import_uploads, load_folder
from ssrl_core.data.imagefile import FIELD_PIXELS, BadImage, read_image
from ssrl_core.data.names import safe_filename
from ssrl_core.data.npz import load_npz, npz_header

MiB = 1 << 20


def peak_bytes(fn, *args):
    """(result, peak traced allocation in bytes) of `fn(*args)`."""
    tracemalloc.start()
    try:
        result = fn(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def crop(seed: int = 0, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 4000, (size, size), dtype=np.uint16)


def test_compressed_huge_float_tiffs_are_refused_from_the_header(tmp_path: Path) -> None:
    huge = np.zeros((4096, 4096), np.float32)
    for name in ("big1.tif", "big2.tif"):
        tifffile.imwrite(tmp_path / name, huge, compression="zlib")  # ~64 kB each, 64 MiB decoded
        assert (tmp_path / name).stat().st_size < MiB
    del huge
    tifffile.imwrite(tmp_path / "good.tif", crop())
    cells, peak = peak_bytes(load_folder, tmp_path)
    assert peak < 8 * MiB  # neither 64 MiB plane was decoded
    assert len(cells) == 1 and cells.meta["file"].tolist() == ["good.tif"]
    reasons = dict(cells.skipped)
    for name in ("big1.tif", "big2.tif"):
        assert reasons[name] == ("image is 4096x4096 and would take 64 MiB decoded, larger than the limit of 32 MiB "
                                 "for a single-cell crop; it was not decoded")


def test_huge_field_for_nuclei_is_refused_before_decoding_with_size_limit_and_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    field = tmp_path / "slide.tif"
    tile = np.zeros((1024, 1024), np.uint16)
    tifffile.imwrite(field, (tile for _ in range(256)), shape=(16384, 16384), dtype=np.uint16,
                     tile=(1024, 1024), compression="zlib")  # 512 MiB of pixels, never held in memory
    out = tmp_path / "crops.npz"
    import ssrl_core.data.fields  # noqa: F401  (imported up front: only the command's own memory is traced)
    code, peak = peak_bytes(main, ["data", "nuclei", str(field), "--out", str(out)])
    assert code == 2 and peak < 8 * MiB and not out.exists()
    err = capsys.readouterr().err
    assert f"slide.tif: image is 16384x16384 (268,435,456 pixels per plane), larger than the limit of {FIELD_PIXELS:,}" in err
    assert "raise the limit with --max-pixels" in err


def test_nuclei_limit_flag_and_out_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    yy, xx = np.mgrid[:200, :200]
    img = np.zeros((200, 200), np.float32)
    for cy, cx in ((50, 50), (50, 150), (150, 60), (140, 140)):
        img += 1000 * (((yy - cy) ** 2 + (xx - cx) ** 2) < 100)
    tifffile.imwrite(tmp_path / "field.tif", (img + 100).astype(np.uint16))
    assert main(["data", "nuclei", str(tmp_path / "field.tif"), "--crop", "32", "--out", str(tmp_path),
                 "--json"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: --out {tmp_path} is a folder; give the crops file to write, "
                                               f"e.g. {tmp_path / 'field.npz'}")
    assert main(["data", "nuclei", str(tmp_path / "field.tif"), "--crop", "32", "--max-pixels", "10000",
                 "--out", str(tmp_path / "c.npz")]) == 2
    assert "larger than the limit of 10,000" in capsys.readouterr().err
    assert main(["data", "nuclei", str(tmp_path / "field.tif"), "--crop", "32", "--out", str(tmp_path / "c.npz"),
                 "--json"]) == 0
    assert load_npz(tmp_path / "c.npz").images.shape == (4, 32, 32, 1)


def test_pixel_budget_is_read_from_png_headers_too(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("I;16", (4500, 4500)).save(tmp_path / "wide.png")
    with pytest.raises(BadImage, match=r"image is 4500x4500x1 \(20,250,000 pixels per plane\), larger than"):
        peak_bytes(read_image, tmp_path / "wide.png")


def test_npz_of_empty_crops_is_refused_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    np.savez(tmp_path / "empty.npz", images=np.zeros((20, 0, 0), np.uint8))
    with pytest.raises(ValueError) as info:
        load_npz(tmp_path / "empty.npz")
    assert str(info.value) == ("empty.npz: the crops are 0x0 pixels; crops must be at least 16x16, "
                               "the smallest any backbone takes")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"data: {tmp_path / 'empty.npz'}\nbackbone: tiny_cnn\nepochs: 1\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert "empty.npz: the crops are 0x0 pixels" in capsys.readouterr().err


def test_npz_with_pickled_object_arrays_names_the_file_and_array(tmp_path: Path) -> None:
    np.savez(tmp_path / "objs.npz", images=np.array([None, {"a": 1}], dtype=object))
    np.savez(tmp_path / "objcol.npz", images=np.zeros((2, 16, 16), np.uint8), label=np.array([None, 1], dtype=object))
    for name, key in (("objs.npz", "images"), ("objcol.npz", "label")):
        with pytest.raises(ValueError) as info:
            load_npz(tmp_path / name)
        assert str(info.value) == (f"{name}: the array '{key}' holds pickled Python objects, which are refused "
                                   "(loading them could run code); save numbers or text instead")
    with pytest.raises(ValueError, match="objs.npz: the array 'images' holds pickled Python objects"):
        npz_header(tmp_path / "objs.npz")


def test_npz_nan_crops_without_metadata_are_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((20, 16, 16), dtype=np.float32)
    images[[3, 7]] = np.nan
    images[11, 2, 2] = np.inf
    np.savez(tmp_path / "nan.npz", images=images)
    cells = load_npz(tmp_path / "nan.npz")
    assert len(cells) == 17 and np.isfinite(cells.images).all()
    assert cells.skipped == [(f"nan.npz[{i}]", "contains NaN or infinite pixels") for i in (3, 7, 11)]
    np.savez(tmp_path / "allnan.npz", images=np.full((4, 16, 16), np.nan, np.float32))
    with pytest.raises(ValueError, match="^allnan.npz: all 4 crops contain NaN or infinite pixels$"):
        load_npz(tmp_path / "allnan.npz")


def test_npz_metadata_of_the_wrong_length_is_reported_by_column(tmp_path: Path) -> None:
    np.savez(tmp_path / "meta.npz", images=np.zeros((5, 16, 16), np.uint8), label=np.arange(5),
             plate=np.array(["p1", "p2"]), well=np.zeros((5, 2)))
    cells = load_npz(tmp_path / "meta.npz")
    assert len(cells) == 5 and "label" in cells.meta and "plate" not in cells.meta and "well" not in cells.meta
    assert ("meta.npz:plate", "metadata column 'plate' has shape (2,), not one value per crop (5); "
                              "it was left out") in cells.skipped
    assert ("meta.npz:well", "metadata column 'well' has shape (5, 2), not one value per crop (5); "
                             "it was left out") in cells.skipped


def test_folder_with_two_csvs_takes_the_one_naming_the_files_or_says_why_none(tmp_path: Path) -> None:
    for i in range(3):
        tifffile.imwrite(tmp_path / f"c{i}.tif", crop(i))
    pd.DataFrame({"file": [f"c{i}.tif" for i in range(3)], "label": ["a", "b", "a"]}).to_csv(tmp_path / "labels.csv")
    pd.DataFrame({"file": ["other.tif"], "plate": ["P1"]}).to_csv(tmp_path / "plates.csv")
    cells = load_folder(tmp_path)
    assert cells.meta["label"].tolist() == ["a", "b", "a"] and cells.skipped == []

    pd.DataFrame({"file": ["c0.tif"], "plate": ["P1"]}).to_csv(tmp_path / "plates.csv")
    cells = load_folder(tmp_path)
    assert len(cells) == 3 and "label" not in cells.meta and "plate" not in cells.meta
    assert cells.skipped == [("labels.csv, plates.csv", "2 CSV files and none is called metadata.csv; 2 of them "
                              "name these image files, so none was read: name the right one metadata.csv")]


def test_long_upload_name_keeps_its_suffix_and_is_imported(tmp_path: Path) -> None:
    name = "plate01_" + "x" * 122 + ".tif"
    assert len(name) == 134
    safe = safe_filename(name)
    assert len(safe) == 120 and safe.endswith(".tif")
    payload = tmp_path / "src.tif"
    tifffile.imwrite(payload, crop())
    _, cells = import_uploads([(name, payload.read_bytes())], "long", data_dir=tmp_path / "data")
    assert len(cells) == 1 and cells.skipped == [] and cells.meta["file"].tolist() == [safe]
