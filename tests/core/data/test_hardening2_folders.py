"""Issue 23, items 2, 7 and 11: an image folder's CSV, links and special files, and stacks.

Each test builds the folder in tmp_path. A CSV row matches exactly one image by its path relative
to the folder; what does not match is listed. Links that lead out of the folder are never
opened (an audit hook records every file Python opens). A TIFF's channels come from its own
axes; a stack that does not say is refused with the choice to make, and read with it.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ssrl_core.cli import main
from ssrl_core.data.folder import import_uploads, load_folder
from ssrl_core.data.imagefile import BadImage, read_image
from ssrl_core.data.plate import scan_plate

OPENED: list[str] = []
_RECORD = [False]


def _audit(event: str, args: tuple) -> None:
    if _RECORD[0] and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def crop(seed: int, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).integers(100, 4000, (size, size), dtype=np.uint16)


# -- item 2: CSV rows match one file by relative path ----------------------------------------------

def test_a_csv_row_labels_only_the_file_at_its_path_and_everything_unmatched_is_listed(tmp_path: Path) -> None:
    root = tmp_path / "crops"
    for plate in ("plateA", "plateB"):
        (root / plate).mkdir(parents=True)
        tifffile.imwrite(root / plate / "cell0.tif", crop(1))
    tifffile.imwrite(root / "g1.tif", crop(2))
    (tmp_path / "x").mkdir()
    tifffile.imwrite(tmp_path / "x" / "g1.tif", crop(3))  # a real file of that name outside the folder
    (root / "metadata.csv").write_text("file,compound\nplateA/cell0.tif,taxol\n../x/g1.tif,nocodazole\n"
                                       "plateC/cell9.tif,DMSO\ncell0.tif,AZ138\n", encoding="utf-8")
    cells = load_folder(root)
    compound = dict(zip(cells.meta["file"], cells.meta["compound"].fillna("")))
    assert compound == {"g1.tif": "", "plateA/cell0.tif": "taxol", "plateB/cell0.tif": ""}
    assert cells.skipped == [
        ("metadata.csv line 3: ../x/g1.tif", "points outside the imported folder: row not used"),
        ("metadata.csv line 4: plateC/cell9.tif", "no such image in the folder: row not used"),
        ("metadata.csv line 5: cell0.tif", "no such image in the folder (there is plateA/cell0.tif, "
                                           "plateB/cell0.tif: give that path): row not used"),
        ("2 image(s)", "have no row in metadata.csv, so they have no metadata from it: g1.tif, plateB/cell0.tif")]


def test_two_rows_for_one_image_are_refused_naming_the_lines(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", crop(1))
    (tmp_path / "metadata.csv").write_text("file,label\na.tif,x\n./a.tif,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^metadata.csv has two rows for the image a.tif \(lines 2 and 3\); "
                                         "keep one row per image$"):
        load_folder(tmp_path)


def test_uploaded_names_still_match_their_rows_and_an_absolute_row_inside_the_folder_matches(tmp_path: Path) -> None:
    payload = tmp_path / "p.tif"
    tifffile.imwrite(payload, crop(4))
    out, cells = import_uploads([("my cell 1.tif", payload.read_bytes()), ("other.tif", payload.read_bytes())],
                                "up", csv=("plate map.csv", b"file,compound\nmy cell 1.tif,taxol\n"),
                                data_dir=tmp_path / "data")
    assert dict(zip(cells.meta["file"], cells.meta["compound"].fillna(""))) == {"my_cell_1.tif": "taxol",
                                                                                "other.tif": ""}
    assert out.is_file()
    root = tmp_path / "abs"
    root.mkdir()
    tifffile.imwrite(root / "a.tif", crop(5))
    (root / "metadata.csv").write_text(f"file,label\n{root.resolve() / 'a.tif'},kept\n", encoding="utf-8")
    assert load_folder(root).meta["label"].tolist() == ["kept"]


# -- item 7: links and special files ---------------------------------------------------------------

def test_links_out_of_the_folder_are_never_opened_and_every_odd_entry_is_listed(tmp_path: Path) -> None:
    root, outside = tmp_path / "crops", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    tifffile.imwrite(root / "good.tif", crop(1))
    tifffile.imwrite(outside / "secret.tif", crop(2))
    os.symlink(outside / "secret.tif", root / "stolen.tif")
    os.symlink("/etc/passwd", root / "passwd.tif")
    os.symlink(root / "good.tif", root / "sub" / "same.tif")  # inside the folder: followed
    os.symlink(root / "loop_b.tif", root / "loop_a.tif")
    os.symlink(root / "loop_a.tif", root / "loop_b.tif")
    os.symlink(root / "gone.tif", root / "broken.tif")
    os.symlink(outside, root / "elsewhere")
    os.mkfifo(root / "pipe.tif")  # opening a FIFO would wait forever
    try:
        os.mknod(root / "dev.tif", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        has_device = True
    except (PermissionError, OSError):
        has_device = False
    OPENED.clear()
    _RECORD[0] = True
    try:
        cells = load_folder(root)
    finally:
        _RECORD[0] = False
    assert sorted(cells.meta["file"]) == ["good.tif", "sub/same.tif"]
    reasons = dict(cells.skipped)
    assert reasons["stolen.tif"] == f"a link to {outside.resolve() / 'secret.tif'}, outside the imported folder: not followed"
    assert reasons["passwd.tif"] == "a link to /etc/passwd, outside the imported folder: not followed"
    assert reasons["loop_a.tif"] == reasons["loop_b.tif"] == "a link that loops back on itself: not followed"
    assert reasons["broken.tif"] == f"a broken link (its target {root / 'gone.tif'} does not exist): skipped"
    assert reasons["elsewhere/"] == f"a link to {outside.resolve()}, outside the imported folder: not followed"
    assert reasons["pipe.tif"] == "a named pipe (FIFO), not a file: not read"
    if has_device:
        assert reasons["dev.tif"] == "a device, not a file: not read"
    opened = {str(Path(p).resolve()) for p in OPENED}
    assert str((root / "good.tif").resolve()) in opened  # the hook sees what is read
    assert str(outside.resolve() / "secret.tif") not in opened and "/etc/passwd" not in opened
    assert not any(p.startswith(str(outside.resolve())) or p == str((root / "pipe.tif").resolve()) for p in opened)


def test_a_plate_folder_lists_links_it_did_not_follow(tmp_path: Path) -> None:
    root = tmp_path / "plate"
    root.mkdir()
    tifffile.imwrite(root / "P1_A01_s1_w1.tif", crop(1, 64))
    os.symlink("/etc/hostname", root / "P1_A02_s1_w1.tif")
    scan = scan_plate(root, "bbbc")
    assert [s["well"] for s in scan.sites] == ["A01"]
    assert scan.not_read == ["P1_A02_s1_w1.tif: a link to /etc/hostname, outside the imported folder: not followed"]


# -- item 11: the channel axis ----------------------------------------------------------------------

def _stack(n: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 4000, (n, size, size), dtype=np.uint16)


@pytest.mark.parametrize("pages", [9, 50, 200])
def test_an_unlabelled_stack_is_refused_with_the_choice_and_read_with_it(tmp_path: Path, pages: int) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _stack(pages))
    with pytest.raises(BadImage, match=rf"^is a stack of {pages}x32x32 that does not say which axis holds the channels "
                                       r".*--channel-axis first \(each page is a channel\)"):
        read_image(path)
    image = read_image(path, channel_axis="first")
    assert image.shape == (32, 32, pages) and np.array_equal(image[..., 3], _stack(pages)[3])


def test_the_files_own_axes_decide(tmp_path: Path) -> None:
    z = tmp_path / "z.tif"
    tifffile.imwrite(z, _stack(50), imagej=True, metadata={"axes": "ZYX"})
    with pytest.raises(BadImage, match=r"^holds 50 focal planes \(a z-stack\) \(ZYX 50x32x32\); a cell image is one "
                                       "plane with its channels"):
        read_image(z)
    c = tmp_path / "c.tif"
    tifffile.imwrite(c, _stack(12), imagej=True, metadata={"axes": "CYX"})
    assert read_image(c).shape == (32, 32, 12)
    ome = tmp_path / "o.ome.tif"
    tifffile.imwrite(ome, _stack(10), ome=True, metadata={"axes": "CYX"})
    assert read_image(ome).shape == (32, 32, 10)
    few, last = tmp_path / "few.tif", tmp_path / "last.tif"
    tifffile.imwrite(few, _stack(5))  # a few unnamed pages of a larger plane: channels, as before
    tifffile.imwrite(last, np.moveaxis(_stack(5, 48), 0, -1))  # (48, 48, 5): the file's shape says so
    assert read_image(few).shape == (32, 32, 5) and read_image(last).shape == (48, 48, 5)


def test_folder_and_cli_take_the_channel_axis_choice(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "stacks"
    root.mkdir()
    for i in range(3):
        tifffile.imwrite(root / f"cell{i}.tif", _stack(9) + i)
    assert main(["data", "info", str(root), "--json"]) == 2
    err = capsys.readouterr().err
    assert "cell0.tif: is a stack of 9x32x32 that does not say which axis holds the channels" in err
    assert main(["data", "info", str(root), "--channel-axis", "first", "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["cells"] == 3 and (info["height"], info["width"], info["channels"]) == (32, 32, 9)


def test_complex_pixels_are_refused_not_cut_to_their_real_part(tmp_path: Path) -> None:
    path = tmp_path / "fft.tif"
    tifffile.imwrite(path, (np.ones((32, 32)) + 1j).astype(np.complex64))
    with pytest.raises(BadImage, match=r"^holds complex numbers \(complex64\), not intensities"):
        read_image(path)
    from ssrl_core.data.npz import load_npz

    np.savez(tmp_path / "c.npz", images=np.ones((3, 32, 32), np.complex64))
    with pytest.raises(ValueError, match=r"^c.npz: the pixels are complex numbers \(complex64\), not intensities"):
        load_npz(tmp_path / "c.npz")
