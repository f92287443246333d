"""Writing a cell store: `StoreWriter`, chunk by chunk, atomically and resumably.

See `ssrl_core.data.store` for the format. A chunk file is written under a temporary name and
renamed, then the manifest is replaced atomically, so a killed import leaves a consistent store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ssrl_core.data.store_array import (
    CHUNK_BYTES,
    FORMAT,
    MANIFEST,
    META,
    SUFFIX,
    VERSION,
    StoreError,
    chunk_file,
    is_store,
    read_manifest,
    store_path,
)
from ssrl_core.data.store_meta import read_parquet as _read_parquet
from ssrl_core.data.store_meta import write_parquet as _write_parquet
from ssrl_core.io import atomic_write, atomic_write_json


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
        atomic_write(chunk_file(self.root, i), lambda p: _save_npy(p, data))
        meta = pd.concat(self.metas, ignore_index=True) if self.metas else pd.DataFrame(index=range(self.fill))
        _write_parquet(chunk_file(self.root, i, "parquet"), meta)
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
        meta = pd.concat([_read_parquet(chunk_file(self.root, i, "parquet")) for i in range(n)], ignore_index=True)
        _write_parquet(self.root / META, meta)
        self.man.update(complete=True, columns=[str(c) for c in meta.columns], partial=None,
                        attrs={**self.man.get("attrs", {}), **(attrs or {})})
        if self.man["channels"] is None:
            self.man["channels"] = [f"ch{i}" for i in range(self.man["shape"][-1])]
        self._save_manifest()
        for i in range(n):
            chunk_file(self.root, i, "parquet").unlink(missing_ok=True)
        return self.root


def _save_npy(path: Path, data: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.lib.format.write_array(fh, np.ascontiguousarray(data), allow_pickle=False)
