"""The on-disk cell store: crops in fixed-size chunk files, channel names and a metadata table.

A screen does not fit in memory (one 384-well plate at 9 sites and ~200 cells a site is ~700,000
crops, ~17 GB at 64 px x 3 channels x uint16), so crops can live in a folder `<name>.cells/`:

- `store.json`: the manifest (format, crop shape, dtype, channel names, chunk sizes and hashes,
  whether the import finished, which import units (fields, sites) are already in).
- `chunk_000000.npy`, `chunk_000001.npy`, ...: plain `.npy` arrays `(n, H, W, C)` in the crops'
  own dtype, `chunk_cells` crops each (the last one may be shorter).
- `meta.parquet`: the metadata table, one row per crop (written when the import finishes; while
  it runs each chunk has its own `chunk_NNNNNN.parquet`).

Format choice (measured, see benchmarks/scale.md): for 20,000 real BBBC021 crops (68x68x3
uint16) `.npy` chunks read with `os.preadv` wrote 9,200 crops/s and read a random batch of 256
crops in 2.6 ms; zarr 3 (chunks of 256 crops) wrote 3,200-4,100 crops/s and needed 420-620 ms for
the same random batch (whole chunks are decoded for a few crops). Training reads random batches,
so plain chunks win; zarr's zstd saved 36 % of the disk, not worth a 150x slower random read.
Reads use `pread` rather than memory maps, so the process neither maps the whole store into its
address space nor counts the page cache as its resident memory.

Writes are atomic and resumable: a chunk file is written under a temporary name and renamed,
then the manifest is replaced atomically, so a killed import leaves a consistent store with
every committed chunk. `StoreWriter` resumes it: units already committed are skipped and the
one unit that was cut in half is re-read with its committed cells dropped, so no cell is lost or
duplicated (importers are deterministic).

Modules: this one opens and saves whole stores; `store_array` holds the manifest basics and the
lazy pixels (`StoreArray`), `store_writer` the writer (`StoreWriter`), `store_meta` the
metadata tables. Everything is importable from here as before.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet
from ssrl_core.data.store_array import (  # noqa: F401
    CHUNK_BYTES,
    FORMAT,
    MANIFEST,
    META,
    SUFFIX,
    VERSION,
    StoreArray,
    StoreError,
    chunk_file,
    is_store,
    read_manifest,
    store_path,
)
from ssrl_core.data.store_meta import read_parquet as _read_parquet
from ssrl_core.data.store_writer import StoreWriter  # noqa: F401

IN_MEMORY_BYTES = int(os.environ.get("SSRL_IN_MEMORY_BYTES", 1 << 30))  # smaller stores load into memory
IN_MEMORY_CELLS = 200_000  # ... when they also have at most this many cells


def store_header(path: str | Path) -> dict:
    """Listing facts of a finished store from its manifest alone (no pixels, no metadata read)."""
    root = Path(path)
    man = read_manifest(root)
    if not man.get("complete"):
        raise StoreError(f"{root.name}: the import into this store did not finish "
                         f"({man.get('cells', 0)} cells so far); run the same import again to resume it")
    h, w, c = man["shape"]
    return {"cells": int(man["cells"]), "height": int(h), "width": int(w), "channels": int(c),
            "channel_names": list(man["channels"]), "dtype": str(man["dtype"]),
            "columns": list(man.get("columns", [])), "format": "store"}


# ----------------------------------------------------------------------------- whole sets


def save_store(cells: Any, path: str | Path, overwrite: bool = False, chunk_cells: int | None = None,
               batch: int = 4096) -> Path:
    """Write a CellSet (in memory or itself lazy) to a store, `batch` crops at a time."""
    w = StoreWriter(path, cells.channels, cells.name, chunk_cells=chunk_cells, resume=False, overwrite=overwrite)
    for start in range(0, len(cells), batch):
        w.add(cells.images[start:start + batch], cells.meta.iloc[start:start + batch])
    for item, reason in cells.skipped:
        w.note_skipped(item, reason)
    return w.close()


def open_store(path: str | Path, name: str | None = None, lazy: bool | None = None):
    """A CellSet of a finished store: metadata read, pixels left on disk when `lazy`.

    `lazy=None` keeps pixels on disk when they exceed `IN_MEMORY_BYTES` (1 GiB, or the
    `SSRL_IN_MEMORY_BYTES` environment variable) or the store has more than `IN_MEMORY_CELLS`
    cells, and reads small stores into memory, so every part of the product works on them
    unchanged.
    """

    root = Path(path)
    store_header(root)  # refuses unfinished stores with a plain message
    man = read_manifest(root)
    arr = StoreArray(root, [c["cells"] for c in man["chunks"]], man["shape"], man["dtype"],
                     hashes=[c["hash"] for c in man["chunks"]])
    meta = _read_parquet(root / META)
    if len(meta) != len(arr):
        raise StoreError(f"{root.name}: {len(meta)} metadata rows for {len(arr)} crops")
    if lazy is None:
        lazy = arr.nbytes > IN_MEMORY_BYTES or len(arr) > IN_MEMORY_CELLS
    images: Any = arr if lazy else _verified(arr, root)
    stem = root.name[: -len(SUFFIX)] if root.name.endswith(SUFFIX) else root.name
    skipped = [tuple(s) for s in man.get("skipped", [])]
    return CellSet(images, list(man["channels"]), meta, name=name or stem,  # named by its folder, as npz by file
                   skipped=skipped)  # type: ignore[arg-type]


def _verified(arr: "StoreArray", root: Path) -> np.ndarray:
    """All crops of a store read into memory, each chunk checked against the hash in the manifest."""
    images = arr[:]
    for i, (start, want) in enumerate(zip(arr.offsets[:-1], arr.hashes or [])):
        got = hashlib.blake2b(images[start:arr.offsets[i + 1]].tobytes(), digest_size=16).hexdigest()
        if got != want:
            raise StoreError(f"{root.name}: chunk {i} ({chunk_file(root, i).name}) is damaged: its pixels no longer "
                             "match the checksum written with them; import the data again")
    return images


def read_meta(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Only the metadata table of a finished store (the app's filters need nothing else)."""
    store_header(path)
    return _read_parquet(Path(path) / META, columns)
