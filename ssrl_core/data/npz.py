"""The npz crop format: read, write and peek at headers.

Format (the one of ../shared/data, MitoCheck and BBBC021 crops): an `images` array `(N, H, W)` or
`(N, H, W, C)` in uint8 / uint16 / float32, plus any number of 1-D per-row arrays of length N
(label, compound, concentration, moa, plate, well, site, source, ...), each becoming a metadata
column, and optionally `channels` (C strings). Files are written without pickled objects, so
loading never needs `allow_pickle`. A file that stores no channel names gets the names its source
declares (`ssrl_core.data.sources`, passed in as `channels=`), else the generic `ch0..chN` and a
note saying so: nothing is guessed from the file's name. Before any array is read, the file is checked from its zip
and npy headers (`ssrl_core.data.npz_guard`): what it is, and that no array would expand past
the memory budget (a decompression bomb is refused, not decoded).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import MIN_SIDE, CellSet
from ssrl_core.data.npz_guard import check_npz
from ssrl_core.io import atomic_write

UNNAMED_NOTE = ("this file stores no channel names, so they are called {names}; write it again with "
                "names (e.g. `ssrl data nuclei --channels`, or save_npz with a CellSet's channels)")


def generic_channels(n_channels: int) -> list[str]:
    """The names of channels nobody named: ch0, ch1, ..."""
    return [f"ch{i}" for i in range(n_channels)]


def pick_channels(stored: list[str] | None, declared: list[str] | tuple[str, ...] | None,
                  n_channels: int) -> tuple[list[str], str | None]:
    """(channel names, note): the file's own names, else its source's declared ones, else ch0..chN
    with a note. Names of the wrong count are not used."""
    for names in (stored, declared):
        if names and len(names) == n_channels:
            return [str(n) for n in names], None
    generic = generic_channels(n_channels)
    return generic, UNNAMED_NOTE.format(names=", ".join(generic))


def _check_shape(shape: tuple[int, ...], path: Path) -> None:
    """Refuse an `images` shape no model can take (from the header, before reading it)."""
    if len(shape) not in (3, 4):
        raise ValueError(f"{path.name}: 'images' must be (N, H, W) or (N, H, W, C), not shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{path.name}: 'images' holds no crops (shape {shape})")
    if len(shape) == 4 and shape[3] == 0:
        raise ValueError(f"{path.name}: 'images' has 0 channels (shape {shape}); a crop needs at least one channel")


def _check_images(images: np.ndarray, path: Path) -> np.ndarray:
    _check_shape(images.shape, path)
    if images.dtype.kind == "c":
        raise ValueError(f"{path.name}: the pixels are complex numbers ({images.dtype}), not intensities; save the "
                         "magnitude (abs) or the real part")
    if min(images.shape[1:3]) < MIN_SIDE:
        raise ValueError(f"{path.name}: the crops are {images.shape[1]}x{images.shape[2]} pixels; crops must be at "
                         f"least {MIN_SIDE}x{MIN_SIDE}, the smallest any backbone takes")
    if images.dtype == np.float64 or images.dtype == np.float16:
        images = images.astype(np.float32)
    elif images.dtype in (np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64, np.bool_):
        if images.size and (images.min() < 0 or images.max() > 65535):
            raise ValueError(f"{path.name}: integer pixels outside 0..65535 are not supported")
        images = images.astype(np.uint16 if images.size and images.max() > 255 else np.uint8)
    elif images.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"{path.name}: pixel type {images.dtype} is not supported (use uint8, uint16 or float32)")
    return images


def _member(data: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """One array of an open npz; a pickled object array is refused with the file and array named."""
    try:
        return data[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise ValueError(f"{path.name}: the array '{key}' holds pickled Python objects, which are refused "
                         "(loading them could run code); save numbers or text instead") from None


def load_npz(path: str | Path, name: str | None = None, max_bytes: int | None = None,
             channels: list[str] | tuple[str, ...] | None = None, source: str | None = None) -> CellSet:
    """Load crops saved as npz (see the module docstring). Crops with NaN or infinite pixels are
    skipped and reported in `CellSet.skipped`, as are metadata arrays that are not one value per
    crop; crops smaller than MIN_SIDE, pickled arrays and arrays past the memory budget
    (`max_bytes`, default `npz_guard.npz_budget()`) are refused with the file named, before
    anything is decoded. `channels`: the names to use when the file stores none (its source's,
    `ssrl_core.data.sources`); `source`: the `source` column's value when the file has none
    (default: the file's stem)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such dataset file: {path}")
    declared = check_npz(path, max_bytes)
    if "images" in declared:
        _check_shape(declared["images"][0], path)
    try:
        data = np.load(path, allow_pickle=False)
        keys = [k for k in data.files if k in declared]  # only the .npy arrays whose headers were checked
    except Exception as exc:  # corrupt zip, not an npz, truncated
        raise ValueError(f"{path.name} is not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    with data:
        if "images" not in keys:
            raise ValueError(f"{path.name} has no 'images' array (it has: {', '.join(keys) or 'nothing'})")
        try:
            images = _check_images(_member(data, "images", path), path)
            n = images.shape[0]
            cols: dict[str, np.ndarray] = {}
            skipped: list[tuple[str, str]] = [(f"{path.name}:{k}", "not a numpy array (.npy); it was not read")
                                              for k in data.files if k not in declared]
            for k in keys:
                if k in ("images", "channels"):
                    continue
                arr = _member(data, k, path)
                if arr.ndim == 1 and len(arr) == n:
                    cols[k] = arr
                else:
                    skipped.append((f"{path.name}:{k}", f"metadata column '{k}' has shape {arr.shape}, not one value "
                                                        f"per crop ({n}); it was left out"))
            stored = [str(c) for c in _member(data, "channels", path)] if "channels" in keys else None
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"{path.name} is damaged or truncated ({type(exc).__name__}: {exc})") from exc
    meta = pd.DataFrame(cols, index=range(n))
    for c in meta.columns:
        if meta[c].dtype.kind == "U":
            meta[c] = meta[c].astype(object)
    c_count = 1 if images.ndim == 3 else images.shape[3]
    names, _ = pick_channels(stored, channels, c_count)
    if images.dtype == np.float32 and n:
        finite = np.isfinite(images.reshape(n, -1)).all(axis=1)
        for i in np.flatnonzero(~finite):
            skipped.append((f"{path.name}[{i}]", "contains NaN or infinite pixels"))
        if not finite.any():
            raise ValueError(f"{path.name}: all {n} crops contain NaN or infinite pixels")
        if not finite.all():
            images, meta = images[finite], meta[finite]
    cells = CellSet(images, names, meta, name=name or path.stem, skipped=skipped)
    _standard_columns(cells, source or path.stem)
    return cells


def _standard_columns(cells: CellSet, source: str) -> None:
    """Fill the standard columns any crop file implies: `source` (where the crops come from) and
    `label` (= `compound` when there is no label)."""
    meta = cells.meta
    if "source" not in meta.columns:
        meta["source"] = source
    if "label" not in meta.columns and "compound" in meta.columns:
        meta["label"] = meta["compound"]


def save_npz(cells: CellSet, path: str | Path, compress: bool = True) -> Path:
    """Write a CellSet as npz atomically (images, channels, one array per metadata column)."""
    arrays: dict[str, np.ndarray] = {"images": cells.images, "channels": np.array(cells.channels, dtype=str)}
    for col in cells.meta.columns:
        key = str(col)
        if key in arrays:
            continue
        s = cells.meta[col]
        if s.dtype.kind in "biuf":
            arrays[key] = s.to_numpy()
        else:
            arrays[key] = s.fillna("").astype(str).to_numpy().astype(str)

    def write(tmp: Path) -> None:
        # like np.savez, but any column name works (np.savez reserves the keyword "file")
        mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True) as zf:
            for key, arr in arrays.items():
                with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
        os.chmod(tmp, 0o644)  # readable like any other data file (mkstemp makes it private)

    return atomic_write(path, write)


def npz_header(path: str | Path, channels: list[str] | tuple[str, ...] | None = None) -> dict:
    """Cell count, shape, dtype and channel names of an npz without reading its pixels (`channels`:
    as in `load_npz`); `note` says when the names are the generic ch0..chN."""
    path = Path(path)
    declared = check_npz(path)
    if "images" not in declared:
        raise ValueError(f"{path.name} has no 'images' array (it has: {', '.join(declared) or 'nothing'})")
    shape, dtype = declared["images"]
    _check_shape(shape, path)
    cols = [k for k in declared if k not in ("images", "channels")]
    c = 1 if len(shape) == 3 else shape[3]
    stored = None
    if "channels" in declared:
        with np.load(path, allow_pickle=False) as data:
            stored = [str(x) for x in _member(data, "channels", path)]
    names, note = pick_channels(stored, channels, c)
    head = {"cells": int(shape[0]), "height": int(shape[1]), "width": int(shape[2]), "channels": int(c),
            "channel_names": names, "dtype": str(dtype), "columns": cols}
    if note:
        head["note"] = note
    return head
