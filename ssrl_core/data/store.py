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
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ssrl_core.data.store_meta import read_parquet as _read_parquet
from ssrl_core.data.store_meta import write_parquet as _write_parquet
from ssrl_core.io import atomic_write, atomic_write_json

FORMAT = "ssrl-cell-store"
VERSION = 1
SUFFIX = ".cells"
MANIFEST = "store.json"
META = "meta.parquet"
CHUNK_BYTES = 64 << 20  # about 64 MiB of pixels per chunk: the writer's buffer stays small
IN_MEMORY_BYTES = int(os.environ.get("SSRL_IN_MEMORY_BYTES", 1 << 30))  # smaller stores load into memory
IN_MEMORY_CELLS = 200_000  # ... when they also have at most this many cells


class StoreError(ValueError):
    """A store that is missing, damaged, unfinished or of another format."""


def is_store(path: str | Path) -> bool:
    """True when `path` is a folder holding a cell-store manifest."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST).is_file()


def store_path(path: str | Path) -> Path:
    """`path` with the `.cells` suffix added when missing."""
    p = Path(path).expanduser()
    return p if p.name.endswith(SUFFIX) else p.with_name(p.name + SUFFIX)


def _chunk_file(root: Path, i: int, ext: str = "npy") -> Path:
    return root / f"chunk_{i:06d}.{ext}"


def read_manifest(path: str | Path) -> dict:
    """The manifest of a store (plain errors when missing or of another format)."""
    root = Path(path)
    f = root / MANIFEST
    if not f.is_file():
        raise StoreError(f"{root.name} is not a cell store (no {MANIFEST})")
    try:
        man = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{root.name}: the store manifest is unreadable ({exc})") from exc
    if man.get("format") != FORMAT:
        raise StoreError(f"{root.name}: {MANIFEST} is not a cell-store manifest")
    if int(man.get("version", 0)) > VERSION:
        raise StoreError(f"{root.name}: store format version {man.get('version')} is newer than this program")
    return man


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


# ----------------------------------------------------------------------------- lazy pixels


class _ChunkFiles:
    """The open chunk files of one store, shared by every view of it (one descriptor per chunk,
    however many subsets exist), closed when the last view is gone. Thread-safe (Streamlit
    sessions share a loaded set); forked DataLoader workers inherit the descriptors, and
    `pread` needs no shared file position."""

    def __init__(self, root: Path, counts: np.ndarray, cell_shape: tuple, dtype: np.dtype):
        self.root, self.counts, self.cell_shape, self.dtype = root, counts, cell_shape, dtype
        self.fds: dict[int, tuple[int, int]] = {}
        self.lock = threading.Lock()

    def get(self, chunk: int) -> tuple[int, int]:
        got = self.fds.get(chunk)
        if got is not None:
            return got
        with self.lock:
            got = self.fds.get(chunk)
            if got is None:
                path = _chunk_file(self.root, chunk)
                with open(path, "rb") as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, fortran, dtype = read(fh)
                    offset = fh.tell()
                if fortran or np.dtype(dtype) != self.dtype or tuple(shape[1:]) != self.cell_shape \
                        or shape[0] != self.counts[chunk]:
                    raise StoreError(f"{self.root.name}: {path.name} does not match the manifest "
                                     f"(shape {shape}, dtype {dtype})")
                got = (os.open(path, os.O_RDONLY), offset)
                self.fds[chunk] = got
        return got

    def close(self) -> None:
        with self.lock:
            for fd, _ in self.fds.values():
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.fds = {}

    def __del__(self) -> None:
        self.close()


class StoreArray:
    """A lazy `(N, H, W, C)` view of a store's crops (optionally a subset, in any order).

    Behaves like a read-only array for the operations the product uses: `shape`, `dtype`,
    `ndim`, `len()`, `a[i]`, `a[start:stop]`, `a[index_array]`, `a[bool_mask]`, `np.asarray(a)`.
    Each read fetches only the crops asked for (`pread` per contiguous run). `take(index)`
    gives a lazy subset without reading pixels.
    """

    def __init__(self, root: str | Path, counts: Sequence[int], cell_shape: Sequence[int], dtype: str | np.dtype,
                 index: np.ndarray | None = None, hashes: Sequence[str] | None = None,
                 files: _ChunkFiles | None = None):
        self.root = Path(root)
        self.hashes = None if hashes is None else list(hashes)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.cell_shape = tuple(int(x) for x in cell_shape)
        self.dtype = np.dtype(dtype)
        self.index = None if index is None else np.asarray(index, dtype=np.int64)
        self.cell_bytes = int(np.prod(self.cell_shape)) * self.dtype.itemsize
        self._files = files or _ChunkFiles(self.root, self.counts, self.cell_shape, self.dtype)

    # array-like facts
    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def __len__(self) -> int:
        return self.total if self.index is None else int(len(self.index))

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self),) + self.cell_shape

    @property
    def ndim(self) -> int:
        return 1 + len(self.cell_shape)

    @property
    def nbytes(self) -> int:
        return len(self) * self.cell_bytes

    @property
    def size(self) -> int:
        return len(self) * int(np.prod(self.cell_shape))

    def __repr__(self) -> str:
        return f"StoreArray({self.root.name}, shape={self.shape}, dtype={self.dtype})"

    def __getstate__(self) -> dict:  # DataLoader workers (spawn) reopen the files themselves
        state = dict(self.__dict__)
        state["_files"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._files = _ChunkFiles(self.root, self.counts, self.cell_shape, self.dtype)

    def close(self) -> None:
        """Close the store's open chunk files (for every view; they reopen on the next read)."""
        self._files.close()

    # reading
    def positions(self, key: Any) -> np.ndarray:
        """Store positions (int64) of the rows `key` (int, slice, index array or mask) selects."""
        n = len(self)
        if isinstance(key, (int, np.integer)):
            k = int(key)
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of range for {n} cells")
            rows = np.array([k % n], dtype=np.int64)
        elif isinstance(key, slice):
            rows = np.arange(n, dtype=np.int64)[key]
        else:
            arr = np.asarray(key)
            if arr.dtype == bool:
                if arr.shape != (n,):
                    raise IndexError(f"a mask of {arr.shape} for {n} cells")
                rows = np.flatnonzero(arr).astype(np.int64)
            else:
                rows = arr.astype(np.int64).ravel()
                if rows.size and (rows.min() < -n or rows.max() >= n):
                    raise IndexError(f"an index is out of range for {n} cells")
                rows = rows % n if rows.size else rows
        return rows if self.index is None else self.index[rows]

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The crops at store positions `positions`, in that order, as a new array."""
        pos = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(pos),) + self.cell_shape, dtype=self.dtype)
        if len(pos) == 0:
            return out
        flat = out.reshape(len(pos), -1).view(np.uint8)
        order = np.argsort(pos, kind="stable")
        sp = pos[order]
        chunk = np.searchsorted(self.offsets, sp, side="right") - 1
        # contiguous runs (same chunk, consecutive positions, consecutive output rows in sorted order)
        breaks = np.flatnonzero((np.diff(sp) != 1) | (np.diff(chunk) != 0)) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [len(sp)]])
        sorted_out = np.all(order == np.arange(len(pos)))
        target = flat if sorted_out else np.empty_like(flat)
        for s, e in zip(starts, ends):
            c = int(chunk[s])
            fd, base = self._files.get(c)
            local = int(sp[s] - self.offsets[c])
            buf = target[s:e].reshape(-1)
            got = os.preadv(fd, [buf], base + local * self.cell_bytes)
            if got != buf.nbytes:
                raise StoreError(f"{self.root.name}: chunk {c} is shorter than its manifest says")
        if not sorted_out:
            flat[order] = target
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        scalar = isinstance(key, (int, np.integer))
        out = self.read(self.positions(key))
        if scalar:
            out = out[0]
            return out[rest] if rest else out
        return out[(slice(None),) + rest] if rest else out

    def take(self, key: Any) -> "StoreArray":
        """A lazy subset (no pixels read)."""
        return StoreArray(self.root, self.counts, self.cell_shape, self.dtype, self.positions(key), self.hashes,
                          self._files)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Consecutive batches of at most `batch_size` crops."""
        for start in range(0, len(self), batch_size):
            yield self[start:start + batch_size]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def fingerprint(self) -> str:
        """A hash naming these crops without reading them: the chunks' content hashes (made when
        they were written) plus the selected positions; pixels are hashed only without hashes."""
        h = hashlib.blake2b(digest_size=20)
        h.update(json.dumps(["store", list(self.cell_shape), str(self.dtype), self.hashes,
                             self.total]).encode())
        if self.index is not None:
            h.update(np.ascontiguousarray(self.index).data)
        if self.hashes is None:
            for batch in self.batches(4096):
                h.update(np.ascontiguousarray(batch).data)
        return h.hexdigest()


# ----------------------------------------------------------------------------- writer


class StoreWriter:
    """Write crops to a store in fixed-size chunks, atomically and resumably.

    Importers call `add(images, meta, unit=...)` once per unit of work (one field, one site) with
    all of that unit's crops, `skip(unit)` to know whether a resumed import already has it, and
    `close()` at the end. With `resume=True` (the default) an unfinished store at `path` written
    with the same `params` continues where it stopped; a finished one is refused unless
    `overwrite=True`.
    """

    def __init__(self, path: str | Path, channels: Sequence[str] | None = None, name: str | None = None,
                 params: dict | None = None, chunk_cells: int | None = None, resume: bool = True,
                 overwrite: bool = False):
        self.root = store_path(path)
        self.params = json.loads(json.dumps(params or {}, default=str))
        self._chunk_cells = chunk_cells
        self.channels = list(channels) if channels is not None else None
        self.name = name or self.root.name[: -len(SUFFIX)]
        self.buffer: np.ndarray | None = None
        self.fill = 0
        self.metas: list[pd.DataFrame] = []
        self.pending: list[list] = []  # [unit, cells of the unit in total, cells of it still in the buffer]
        self.resumed = False
        man = read_manifest(self.root) if is_store(self.root) else None
        if man is not None and man.get("complete") and not overwrite:
            raise StoreError(f"{self.root} already holds a finished store; delete it or choose another name")
        if man is not None and not man.get("complete") and resume:
            if man.get("params", {}) != self.params:
                raise StoreError(f"{self.root.name}: an unfinished import with other settings is there "
                                 f"({man.get('params')}); delete it or choose another name")
            self.man = man
            self.resumed = True
            for p in self.root.glob("chunk_*"):  # chunks written after the last manifest update
                if int(p.name[6:12]) >= len(man["chunks"]):
                    p.unlink()
            for p in self.root.glob(".*.tmp"):
                p.unlink()
        else:
            if self.root.exists():
                if man is None and (self.root.is_file() or any(self.root.iterdir())):  # never delete other data
                    raise StoreError(f"{self.root} exists and is not a cell store; choose another name")
                if man is not None and man.get("complete") and not overwrite:
                    raise StoreError(f"{self.root} already holds a finished store; delete it or choose another name")
                shutil.rmtree(self.root)
            self.root.mkdir(parents=True)
            self.man = {"format": FORMAT, "version": VERSION, "name": self.name, "channels": self.channels,
                        "shape": None, "dtype": None, "chunk_cells": chunk_cells, "chunks": [], "cells": 0,
                        "complete": False, "params": self.params, "units_done": [], "partial": None,
                        "skipped": [], "columns": [], "attrs": {}}
            self._save_manifest()
        self.done = set(self.man["units_done"])
        self._cut = self.man.get("partial")  # the unit an interruption cut in two (resumed stores)

    @property
    def cells(self) -> int:
        """Cells committed to disk plus cells in the buffer."""
        return int(self.man["cells"]) + self.fill

    def _save_manifest(self) -> None:
        atomic_write_json(self.root / MANIFEST, self.man)

    def skip(self, unit: str | None) -> bool:
        """True when a resumed store already holds every cell of `unit`."""
        return unit is not None and str(unit) in self.done

    def note_skipped(self, item: str, reason: str) -> None:
        """Remember an input that was refused (kept in the manifest, shown as `CellSet.skipped`)."""
        entry = [str(item), str(reason)]
        if entry not in self.man["skipped"]:  # a resumed import retries what failed before
            self.man["skipped"].append(entry)

    def _start(self, images: np.ndarray) -> None:
        shape, dtype = list(images.shape[1:]), str(images.dtype)
        if self.man["shape"] is None:
            self.man["shape"], self.man["dtype"] = shape, dtype
            if self.man["chunk_cells"] is None:
                cell_bytes = int(np.prod(shape)) * images.dtype.itemsize
                target = int(os.environ.get("SSRL_STORE_CHUNK_BYTES", CHUNK_BYTES))
                self.man["chunk_cells"] = int(max(16, min(65536, target // max(cell_bytes, 1))))
        elif self.man["shape"] != shape or self.man["dtype"] != dtype:
            raise StoreError(f"crops of {shape} {dtype} do not fit a store of {self.man['shape']} {self.man['dtype']}")
        if self.buffer is None:
            self.buffer = np.empty((int(self.man["chunk_cells"]),) + tuple(shape), dtype=images.dtype)

    def add(self, images: np.ndarray, meta: pd.DataFrame | None = None, unit: str | None = None,
            channels: Sequence[str] | None = None) -> int:
        """Append all crops `(n, H, W, C)` of one unit with their metadata rows; returns cells added."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise StoreError(f"crops must be (n, H, W, C); got shape {images.shape}")
        meta = pd.DataFrame(index=range(len(images))) if meta is None else meta.reset_index(drop=True)
        if len(meta) != len(images):
            raise StoreError(f"{len(images)} crops but {len(meta)} metadata rows")
        if channels is not None:
            if self.man["channels"] is None:
                self.man["channels"] = list(channels)
            elif list(channels) != list(self.man["channels"]):
                raise StoreError(f"channels {list(channels)} differ from the store's {self.man['channels']}")
        key = None if unit is None else str(unit)
        if self.skip(key):
            return 0
        total = len(images)
        part = self._cut
        if part and key is not None and part["unit"] == key:  # this unit was cut by the interruption
            self._cut = None
            k = int(part["cells"])
            images, meta = images[k:], meta.iloc[k:].reset_index(drop=True)
        if len(images):
            self._start(images)
        if key is not None:
            self.pending.append([key, total, len(images)])
        start = 0
        while start < len(images):
            room = len(self.buffer) - self.fill  # type: ignore[arg-type]
            take = min(room, len(images) - start)
            self.buffer[self.fill:self.fill + take] = images[start:start + take]  # type: ignore[index]
            self.metas.append(meta.iloc[start:start + take])
            self.fill += take
            start += take
            if self.fill == len(self.buffer):  # type: ignore[arg-type]
                self._flush()
        if self.fill == 0:
            self._settle(0)
        return len(images)

    def _settle(self, written: int) -> None:
        """Mark units whose cells are now all on disk; remember the one cut at the chunk end."""
        left = written
        keep: list[list] = []
        partial = None
        for unit, total, in_buf in self.pending:
            used = min(left, in_buf)
            left -= used
            in_buf -= used
            if in_buf == 0 and not keep:
                self.done.add(unit)
                self.man["units_done"].append(unit)
            else:
                if not keep:
                    partial = {"unit": unit, "cells": total - in_buf}
                keep.append([unit, total, in_buf])
        self.pending = keep
        self.man["partial"] = partial

    def _flush(self) -> None:
        if self.fill == 0 or self.buffer is None:
            return
        i = len(self.man["chunks"])
        data = self.buffer[: self.fill]
        digest = hashlib.blake2b(data.tobytes(), digest_size=16).hexdigest()
        atomic_write(_chunk_file(self.root, i), lambda p: _save_npy(p, data))
        meta = pd.concat(self.metas, ignore_index=True) if self.metas else pd.DataFrame(index=range(self.fill))
        _write_parquet(_chunk_file(self.root, i, "parquet"), meta)
        self.man["chunks"].append({"cells": int(self.fill), "hash": digest})
        self.man["cells"] = int(self.man["cells"]) + self.fill
        written = self.fill
        self.fill, self.metas = 0, []
        self._settle(written)
        self._save_manifest()

    def close(self, attrs: dict | None = None) -> Path:
        """Write the last chunk and the metadata table; mark the store finished."""
        self._flush()
        if not self.man["chunks"]:
            raise StoreError("no crops were written")
        n = len(self.man["chunks"])
        meta = pd.concat([_read_parquet(_chunk_file(self.root, i, "parquet")) for i in range(n)], ignore_index=True)
        _write_parquet(self.root / META, meta)
        self.man.update(complete=True, columns=[str(c) for c in meta.columns], partial=None,
                        attrs={**self.man.get("attrs", {}), **(attrs or {})})
        if self.man["channels"] is None:
            self.man["channels"] = [f"ch{i}" for i in range(self.man["shape"][-1])]
        self._save_manifest()
        for i in range(n):
            _chunk_file(self.root, i, "parquet").unlink(missing_ok=True)
        return self.root


def _save_npy(path: Path, data: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, np.ascontiguousarray(data), allow_pickle=False)


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
    from ssrl_core.data.cellset import CellSet

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
            raise StoreError(f"{root.name}: chunk {i} ({_chunk_file(root, i).name}) is damaged: its pixels no longer "
                             "match the checksum written with them; import the data again")
    return images


def read_meta(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Only the metadata table of a finished store (the app's filters need nothing else)."""
    store_header(path)
    return _read_parquet(Path(path) / META, columns)
