"""Embedding files and table exports (CSV, Parquet).

Embedding file layout (Parquet or CSV), one row per cell:
- `cell_index`: the cell's position in its dataset (so images can be found again);
- `dataset`: the dataset name or path given to `ssrl embed`;
- the metadata columns of the cells (a source column already named `cell_index` is kept as
  `source_cell_index`); optional `cluster` and `x`, `y` (2-D map coordinates);
- `emb_0` ... `emb_{d-1}`: the embedding.
`read_embeddings` reads such a file back into (features, metadata).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core.io import atomic_write

EMB_PREFIX = "emb_"
_EMB = re.compile(r"^emb_(\d+)$")


def embedding_frame(meta: pd.DataFrame, features: np.ndarray | None = None, dataset: str = "",
                    cell_index: np.ndarray | None = None, clusters: np.ndarray | None = None,
                    coords: np.ndarray | None = None) -> pd.DataFrame:
    """One table: cell_index, dataset, metadata, [cluster], [x, y], emb_0..emb_{d-1}."""
    n = len(meta)
    meta = meta.reset_index(drop=True).copy()
    if "cell_index" in meta.columns:
        meta = meta.rename(columns={"cell_index": "source_cell_index"})
    for reserved in ("dataset", "cluster", "x", "y"):
        if reserved in meta.columns:
            meta = meta.rename(columns={reserved: f"meta_{reserved}"})
    head = pd.DataFrame({"cell_index": np.arange(n) if cell_index is None else np.asarray(cell_index),
                         "dataset": [dataset] * n})
    parts = [head, meta]
    if clusters is not None:
        parts.append(pd.DataFrame({"cluster": np.asarray(clusters)}))
    if coords is not None:
        xy = np.asarray(coords)
        parts.append(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}))
    if features is not None:
        f = np.asarray(features, dtype=np.float32)
        if len(f) != n:
            raise ValueError(f"{len(f)} embeddings but {n} metadata rows")
        parts.append(pd.DataFrame(f, columns=[f"{EMB_PREFIX}{i}" for i in range(f.shape[1])]))
    return pd.concat(parts, axis=1)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table atomically: `.parquet` or `.csv` (chosen by the file extension)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"save as .parquet or .csv, not {path.name!r}")
    out = df.copy()
    for col in out.columns:  # mixed-type object columns break Parquet
        if out[col].dtype == object:
            out[col] = out[col].astype(str)
    if suffix == ".parquet":
        return atomic_write(path, lambda p: out.to_parquet(p, index=False))
    return atomic_write(path, lambda p: out.to_csv(p, index=False))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a `.parquet` or `.csv` table."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    raise ValueError(f"read a .parquet or .csv file, not {path.name!r}")


def split_embeddings(df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(features `(N, D)` float32, metadata table) of an embedding table."""
    cols = sorted((c for c in df.columns if _EMB.match(str(c))), key=lambda c: int(_EMB.match(c).group(1)))
    if not cols:
        raise ValueError("this table has no embedding columns (emb_0, emb_1, ...); make one with `ssrl embed`")
    meta = df.drop(columns=cols).reset_index(drop=True)
    return df[cols].to_numpy(dtype=np.float32), meta


def read_embeddings(path: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Read an embedding file written by `ssrl embed` -> (features, metadata)."""
    return split_embeddings(read_table(path))


def require_column(meta: pd.DataFrame, column: str) -> pd.Series:
    """The metadata column, or a plain error listing the columns there are."""
    if column not in meta.columns:
        usable = [c for c in meta.columns if c not in ("cell_index", "dataset")]
        raise ValueError(f"no column {column!r} in the embeddings; columns are {usable}")
    return meta[column]
