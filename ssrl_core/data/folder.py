"""A folder of single-cell images (+ optional CSV) as a CellSet, and importing uploads.

Layout: image files anywhere under the folder (TIFF, PNG, JPG; any channel count; 8/16-bit or
float). When the images sit in sub-folders and no `label` comes from the CSV, the sub-folder
name becomes the `label` (the class-per-folder layout of MitoCheck sample images).

CSV convention: one row per image, a column `file` (or `filename`, `image`, `name`, `path`)
holding the image's path relative to the folder (just the file name for an image at the top);
every other column becomes metadata (label, compound, concentration, moa, plate, well, site, ...).
A row matches exactly one file, by that path (`ssrl_core.data.metadata_csv`); rows naming no
image here, rows pointing outside the folder and images without a row are listed in `skipped`.

The folder is walked without leaving it (`ssrl_core.data.walk`): links out of it, links to
folders, broken or looping links, pipes and devices are never opened, and are listed in `skipped`.
Multi-page TIFFs are read with their own axes (`ssrl_core.data.axes`); `channel_axis` settles a
stack that does not say what its pages are.

Bad files never stop a load: an empty, truncated, corrupt or non-image file, one with NaNs,
one far larger than a crop, or one whose channel count differs from the rest is skipped and
listed in `CellSet.skipped` as (file, reason); so is an image more than 16 times the area of
the most common size (a whole field among crops). Crops of other sizes are centre-cropped or
padded to the most common size (noted in the `resized` column).

Label masks are skipped, not read as cells: files named like a segmentation tool's output
(`*_labels`, `*_mask(s)`, `*_seg`, `*_cp_masks`, ...) and integer images holding only two values.
When 8- and 16-bit files are mixed, each keeps its brightness relative to its own bit depth (an
8-bit value x 257 on the 16-bit scale), and a `bits` column says which file was which: a plain
cast would turn the 8-bit cells black next to the 16-bit ones.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.csvio import read_csv
from ssrl_core.data.cellset import MIN_SIDE, CellSet
from ssrl_core.data.imagefile import BadImage, fit_to, read_image
from ssrl_core.data.metadata_csv import (
    KEY_COLUMNS,
    lists_files,
    match_rows,
    read_metadata_csv,
)
from ssrl_core.data.names import IMAGE_SUFFIXES, safe_filename
from ssrl_core.data.npz import save_npz
from ssrl_core.data.walk import walk_folder

__all__ = ["KEY_COLUMNS", "image_files", "import_uploads", "load_files", "load_folder", "read_metadata_csv"]
NOT_IMAGES = (".csv", ".txt", ".md", ".json", ".npz", ".part")


def folder_files(folder: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files under `folder` that are not hidden and not a CSV or note (images or not), sorted,
    and `(relative path, reason)` for links and special files that were not followed (`walk`)."""
    walk = walk_folder(folder)
    return [p for p in walk.files if p.suffix.lower() not in NOT_IMAGES], walk.skipped


def image_files(folder: Path) -> list[Path]:
    """Every file under `folder` that is not hidden and not a CSV, sorted (images or not)."""
    return folder_files(folder)[0]


MASK_SUFFIXES = ("_labels", "_label", "_mask", "_masks", "_seg", "_segmentation", "_cp_masks")


def is_mask_name(filename: str) -> bool:
    """`field_labels.tif`, `cell_mask.png`, ...: the names segmentation tools give their masks."""
    stem = filename.rsplit(".", 1)[0].lower()
    if stem.endswith((".ome",)):
        stem = stem[:-4]
    return stem.endswith(MASK_SUFFIXES)


def is_binary_mask(image: np.ndarray) -> bool:
    """An integer image holding only 0 and one other value over 1-90% of its area (a filled
    region): a mask, not a micrograph (whose noise gives many values)."""
    if image.dtype.kind not in "ui" or image.size < 64:
        return False
    values = np.unique(image)
    return len(values) == 2 and values[0] == 0 and 0.01 <= float(np.mean(image != 0)) <= 0.9


def same_scale(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """An unsigned image on the full range of `dtype` (8-bit x 257 into 16-bit; floats as they are),
    so that mixing 8- and 16-bit files does not turn the 8-bit ones black."""
    if image.dtype == dtype or image.dtype.kind != "u" or np.dtype(dtype).kind != "u":
        return image
    src, dst = np.iinfo(image.dtype).max, np.iinfo(dtype).max
    if dst <= src:
        return image
    return image.astype(np.uint32 if dst > 65535 else dtype) * (dst // src)


def load_files(files: Iterable[Path], root: Path, csv: str | Path | pd.DataFrame | None = None, name: str = "",
               channels: list[str] | None = None, channel_axis: str = "auto") -> CellSet:
    """Load the given image files (paths under `root`) with the checks described above.

    `csv` is the metadata table (a path or an already read table); `channel_axis` ("auto",
    "first", "last") says where the channels are in stacks that do not say it themselves."""
    files = list(files)
    root = Path(root)
    skipped: list[tuple[str, str]] = []
    rows_of: dict[str, dict] = {}
    if csv is not None and not (isinstance(csv, (str, Path)) and not str(csv)):
        table = read_metadata_csv(csv)
        rels = [f.relative_to(root).as_posix() for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
        rows_of, problems = match_rows(table, rels, root.resolve())
        skipped += problems
    read: list[tuple[str, np.ndarray]] = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        if f.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((rel, f"not an image file type we read ({', '.join(IMAGE_SUFFIXES)})"))
            continue
        try:
            a = read_image(f, channel_axis=channel_axis)
        except BadImage as exc:
            skipped.append((rel, str(exc)))
            continue
        if is_mask_name(f.name) or is_binary_mask(a):
            skipped.append((rel, "looks like a label mask (a segmentation), not a cell image: skipped"))
            continue
        if min(a.shape[:2]) < MIN_SIDE:
            skipped.append((rel, f"is {a.shape[0]}x{a.shape[1]} pixels, smaller than the {MIN_SIDE}x{MIN_SIDE} "
                                 "that the smallest backbone takes"))
            continue
        read.append((rel, a))
    if not read:
        detail = "; ".join(f"{f}: {r}" for f, r in skipped[:5])
        raise ValueError(f"no usable images in {root}" + (f" ({len(skipped)} skipped: {detail})" if skipped else ""))
    n_ch = Counter(a.shape[2] for _, a in read).most_common(1)[0][0]
    if channels is not None and len(channels) != n_ch:
        raise ValueError(f"{len(channels)} channel names given but the images have {n_ch} channel(s)")
    h, w = Counter(a.shape[:2] for _, a in read if a.shape[2] == n_ch).most_common(1)[0][0]
    kinds = {a.dtype for _, a in read}
    dtype = np.float32 if np.dtype(np.float32) in kinds else (np.uint16 if np.dtype(np.uint16) in kinds else np.uint8)
    images, rows = [], []
    for rel, a in read:
        if a.shape[2] != n_ch:
            skipped.append((rel, f"has {a.shape[2]} channel(s) but the other images have {n_ch}"))
            continue
        if a.shape[0] * a.shape[1] > 16 * h * w:
            skipped.append((rel, f"is {a.shape[0]}x{a.shape[1]}, far larger than the other crops ({h}x{w}); "
                                 "for a whole field use `ssrl data nuclei` to cut it into crops"))
            continue
        resized = a.shape[:2] != (h, w)
        bits = a.dtype.itemsize * 8 if a.dtype.kind == "u" else 32
        a = same_scale(a, dtype)
        images.append(fit_to(a, h, w).astype(dtype) if resized else a.astype(dtype, copy=False))
        row = {"file": rel, "source": name or root.name, "resized": resized}
        if len(kinds) > 1:
            row["bits"] = bits
        if "/" in rel:
            row["folder"] = rel.rsplit("/", 1)[0]
        row.update(rows_of.get(rel, {}))
        rows.append(row)
    meta = pd.DataFrame(rows)
    if "label" not in meta.columns and "folder" in meta.columns:
        meta["label"] = meta["folder"].map(lambda s: str(s).rsplit("/", 1)[-1] if isinstance(s, str) else "")
    names = channels or (["grey"] if n_ch == 1 else (["red", "green", "blue"] if n_ch == 3 and dtype == np.uint8
                                                        else [f"ch{i}" for i in range(n_ch)]))
    return CellSet(np.stack(images), list(names), meta, name=name or root.name, skipped=skipped)


def load_folder(folder: str | Path, csv: str | Path | None = None, name: str | None = None,
                channels: list[str] | None = None, channel_axis: str = "auto") -> CellSet:
    """Load every image under `folder` (see the module docstring for layout, CSV and checks).

    When `csv` is not given, the folder's `metadata.csv` is used, else its only CSV, else the
    only CSV whose file column lists these images; CSVs left unused are reported in `skipped`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    files, not_followed = folder_files(folder)
    if not files:
        extra = (f" ({len(not_followed)} link(s) or special file(s) not followed, e.g. {not_followed[0][0]}: "
                 f"{not_followed[0][1]})") if not_followed else ""
        raise ValueError(f"the folder {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)}){extra}")
    note = None
    if csv is None:
        csv, note = _pick_csv(folder, files)
    cells = load_files(files, folder, csv, name or folder.name, channels, channel_axis)
    cells.skipped[:0] = not_followed
    if note is not None:
        cells.skipped.append(note)
    return cells


def _pick_csv(folder: Path, files: list[Path]) -> tuple[Path | None, tuple[str, str] | None]:
    """The metadata CSV of a folder and, when CSVs are left unused, a (files, reason) note."""
    found = sorted(folder.glob("*.csv"))
    named = [p for p in found if p.name.lower() == "metadata.csv"]
    if named or len(found) <= 1:
        return (named or found or [None])[0], None
    rels = [f.relative_to(folder).as_posix() for f in files]
    listing = []
    for p in found:
        try:
            if lists_files(read_metadata_csv(p), rels, folder.resolve()):
                listing.append(p)
        except ValueError:  # not a metadata table (no file column, not CSV)
            continue
    if len(listing) == 1:
        return listing[0], None
    names = ", ".join(p.name for p in found)
    why = "none of them names these image files" if not listing else f"{len(listing)} of them name these image files"
    return None, (names, f"{len(found)} CSV files and none is called metadata.csv; {why}, so none was read: "
                         "name the right one metadata.csv")


def import_uploads(files: Iterable[tuple[str, bytes]] | Iterable[Path] | str | Path,
                   name: str, csv: tuple[str, bytes] | str | Path | None = None,
                   data_dir: str | Path | None = None, channels: list[str] | None = None,
                   channel_axis: str = "auto") -> tuple[Path, CellSet]:
    """Import a folder, a list of files, or uploaded `(file name, bytes)` pairs (+ CSV) into the
    data directory as `<name>.npz`; returns `(npz path, CellSet)`. File names are sanitised (a
    CSV row naming an uploaded file by its original name still matches it)."""
    import tempfile


    stem = safe_filename(name[:-4] if name.lower().endswith(".npz") else name, default="uploaded")
    target = Path(data_dir) if data_dir else paths.data_dir()
    if isinstance(files, (str, Path)):
        cells = load_folder(files, csv=csv if not isinstance(csv, tuple) else None, name=stem, channels=channels,
                            channel_axis=channel_axis)
    else:
        with tempfile.TemporaryDirectory(dir=paths.uploads_dir()) as tmp:
            root = Path(tmp)
            written: list[Path] = []
            for item in files:
                fname, payload = (item.name, item.read_bytes()) if isinstance(item, Path) else item
                dest = root / safe_filename(fname)
                k = 1
                while dest in written or dest.exists():
                    dest = root / f"{dest.stem}_{k}{dest.suffix}"
                    k += 1
                dest.write_bytes(payload)
                written.append(dest)
            table = None
            if isinstance(csv, tuple):
                table = read_metadata_csv(read_csv(csv[1], name=csv[0]), name=csv[0])
            elif csv is not None:
                table = Path(csv)
            if not written:
                raise ValueError("no files were given to import")
            cells = load_files(sorted(written), root, table, stem, channels, channel_axis)
    cells.name = stem
    return save_npz(cells, target / f"{stem}.npz"), cells
