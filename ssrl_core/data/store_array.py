"""A cell store's basics and its lazy pixels: the manifest, the chunk files, `StoreArray`.

See `ssrl_core.data.store` for the format (`.npy` chunks read with `pread`, `store.json`,
`meta.parquet`) and why it was chosen.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

FORMAT = "ssrl-cell-store"
VERSION = 1
SUFFIX = ".cells"
MANIFEST = "store.json"
META = "meta.parquet"
CHUNK_BYTES = 64 << 20  # about 64 MiB of pixels per chunk: the writer's buffer stays small

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


def chunk_file(root: Path, i: int, ext: str = "npy") -> Path:
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
                path = chunk_file(self.root, chunk)
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
