"""An embedding table written in row groups, so a million cells never sit in memory as one frame.

`ssrl embed` writes one table (`export.embedding_frame`: `cell_index`, `dataset`, metadata,
`emb_0..emb_{d-1}`) with `export.write_table`. For 1 M cells x 256 dimensions that path holds the
features four times over (the `(N, D)` array, the pandas frame, its copy, the Arrow table: ~4 GB).
`write_embedding_table` writes the same file, value by value and type by type, from the
`(N, D)` array and the metadata in row groups of `rows` cells: the Arrow schema is taken from the
first group, every later group is cast to it, and the content digest that
`ssrl_core.checksums.read_parquet` checks (BLAKE2b over each column's values, column after
column) is computed from the whole columns before the first group is written. CSV files go
through `write_table` unchanged (use Parquet at scale).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core.checksums import DIGEST_KEY, _update_column
from ssrl_core.evaluate.export import EMB_PREFIX, embedding_frame, write_table
from ssrl_core.io import atomic_write

ROWS = 65_536  # cells per Parquet row group


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """The conversions `export.write_table` makes (mixed object columns become text)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].astype(str)
    return out


def write_embedding_table(meta: pd.DataFrame, features: np.ndarray, path: str | Path, dataset: str = "",
                          cell_index: np.ndarray | None = None, rows: int = ROWS) -> Path:
    """Write `embedding_frame(meta, features, dataset, cell_index)` to `path` as `write_table`
    would, `rows` cells at a time (Parquet); atomically, with page checksums and the digest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    feats = np.asarray(features, dtype=np.float32)
    n = len(meta)
    if len(feats) != n:
        raise ValueError(f"{len(feats)} embeddings but {n} metadata rows")
    index = np.arange(n) if cell_index is None else np.asarray(cell_index)
    if path.suffix.lower() != ".parquet" or n <= rows:
        return write_table(embedding_frame(meta, feats, dataset, index), path)
    meta = meta.reset_index(drop=True)
    head = pa.Table.from_pandas(_plain(embedding_frame(meta, None, dataset, index)), preserve_index=False)
    first = pa.Table.from_pandas(_plain(embedding_frame(meta.iloc[:rows], feats[:rows], dataset, index[:rows])),
                                 preserve_index=False)
    schema = first.schema
    h = hashlib.blake2b(digest_size=20)
    for name in schema.names:
        if name.startswith(EMB_PREFIX) and name not in head.column_names:
            h.update(name.encode("utf-8") + b"\x00")
            h.update(np.ascontiguousarray(feats[:, int(name[len(EMB_PREFIX):])]).tobytes())
        else:
            _update_column(h, name, head.column(name).cast(schema.field(name).type))
    schema = schema.with_metadata({**(schema.metadata or {}), DIGEST_KEY: h.hexdigest().encode()})
    del head

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema, write_page_checksum=True) as writer:
            for start in range(0, n, rows):
                stop = min(n, start + rows)
                frame = _plain(embedding_frame(meta.iloc[start:stop], feats[start:stop], dataset, index[start:stop]))
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer.write_table(table.cast(schema), row_group_size=rows)

    return atomic_write(path, write)
