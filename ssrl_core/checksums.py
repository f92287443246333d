"""Checksums of the files the product writes, checked when it reads them back.

A few zeroed bytes on a disk, a copy cut short or a cache file overwritten by another tool must
be refused, not read as valid numbers. Each kind of file carries a checksum of its content:

- Parquet tables (embeddings, profiles, a cell store's metadata): written with Parquet's own
  page checksums (CRC-32, verified by any reader that asks, and by `read_parquet` here) and a
  BLAKE2b digest of every column's values in the file's key-value metadata (`ssrl.digest`),
  recomputed on read. Files written by other tools have no digest and are read as they are.
- Checkpoints: `tensors_digest` of every tensor in the checkpoint, stored beside them
  (`train.checkpoint.save_checkpoint`), checked by `models.encoder_file.load_checkpoint`.
- The embedding cache: the `.npy` file's sha256 in its `.json` (`evaluate.embedding`).
- npz files are zip archives whose members carry CRC-32s, checked by `zipfile` on every read.

A mismatch raises `Damaged` (a ValueError) naming the file and what to do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ssrl_core.io import atomic_write

DIGEST_KEY = b"ssrl.digest"


class Damaged(ValueError):
    """A file whose content no longer matches the checksum written with it."""


def _update_column(h: Any, name: str, col: Any) -> None:
    import pyarrow as pa

    h.update(name.encode("utf-8") + b"\x00")
    arr = col.combine_chunks() if hasattr(col, "combine_chunks") else col
    if isinstance(arr, pa.ChunkedArray):  # pyarrow returns a ChunkedArray for an empty column
        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks else pa.array([], type=arr.type)
    t = arr.type
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t):
        values = arr.fill_null(0) if arr.null_count else arr
        h.update(np.ascontiguousarray(values.to_numpy(zero_copy_only=False)).tobytes())
    else:
        text = arr.cast(pa.large_string()) if not pa.types.is_dictionary(t) else arr.dictionary_decode().cast(
            pa.large_string())
        h.update("\x1f".join("\x00" if v is None else v for v in text.to_pylist()).encode("utf-8"))
    if arr.null_count:
        h.update(np.asarray(arr.is_null().to_numpy(zero_copy_only=False)).tobytes())


def table_digest(table: Any) -> str:
    """BLAKE2b digest of an Arrow table's column names and values (types aside, so a table read
    back from Parquet gives the digest it was written with)."""
    h = hashlib.blake2b(digest_size=20)
    for name, col in zip(table.column_names, table.columns):
        _update_column(h, str(name), col)
    return h.hexdigest()


def write_parquet(df: Any, path: str | Path) -> Path:
    """Write a DataFrame as Parquet atomically, with page checksums and a content digest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[DIGEST_KEY] = table_digest(table).encode()
    table = table.replace_schema_metadata(meta)
    return atomic_write(path, lambda p: pq.write_table(table, p, write_page_checksum=True))


def read_parquet(path: str | Path, columns: Sequence[str] | None = None) -> Any:
    """Read a Parquet file as a DataFrame, verifying its page checksums and, when it has one and
    every column is read, its content digest; `Damaged` naming the file otherwise."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path, columns=list(columns) if columns is not None else None,
                              page_checksum_verification=True)
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException) and exc.errno is not None:
            raise  # a real I/O problem (missing, permission, disk): the OSError handler says it
        raise Damaged(f"{path.name} is damaged or not a Parquet file ({_first_line(exc)}); write it again "
                      "(e.g. run the command that made it once more)") from None
    stored = (table.schema.metadata or {}).get(DIGEST_KEY)
    if stored is not None and columns is None and table_digest(table) != stored.decode():
        raise Damaged(f"{path.name} is damaged: its content no longer matches the checksum written with it "
                      "(bytes changed on disk or in a copy); write it again from its source")
    return table.to_pandas()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def tensors_digest(obj: Any) -> str:
    """BLAKE2b digest of every tensor in a nested dict/list (keys in sorted order), by raw bytes."""
    import torch

    h = hashlib.blake2b(digest_size=20)

    def walk(o: Any, where: str) -> None:
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous().reshape(-1)
            h.update(f"{where}:{o.dtype}:{tuple(o.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(o, dict):
            for k in sorted(o, key=str):
                walk(o[k], f"{where}/{k}")
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, f"{where}/{i}")

    walk(obj, "")
    return h.hexdigest()


def nonfinite_tensors(state: dict) -> list[str]:
    """Names of floating-point tensors in `state` holding a NaN or an infinity."""
    import torch

    return [str(k) for k, v in state.items()
            if isinstance(v, torch.Tensor) and torch.is_floating_point(v) and not bool(torch.isfinite(v).all())]
