"""Embedding files and table exports (CSV, Parquet).

Embedding file layout (Parquet or CSV), one row per cell:
- `cell_index`: the cell's position in its dataset (so images can be found again);
- `dataset`: the dataset name or path given to `ssrl embed`;
- the metadata columns of the cells (a source column already named `cell_index` is kept as
  `source_cell_index`); optional `cluster` and `x`, `y` (2-D map coordinates);
- `emb_0` ... `emb_{d-1}`: the embedding.
`read_embeddings` reads such a file back into (features, metadata).

Parquet files carry page checksums and a content digest (`ssrl_core.checksums`), checked when
read; CSV files go through the one CSV writer (`ssrl_core.csvio`: cells that would run as a
spreadsheet formula are quoted). Embeddings read back must be numbers, every one finite: a
column that is not is named.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core.checksums import read_parquet, write_parquet
from ssrl_core.csvio import read_csv, write_csv

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
        return write_parquet(out, path)
    return write_csv(out, path)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a `.parquet` or `.csv` table."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file at {path}")
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise ValueError(f"read a .parquet or .csv file, not {path.name!r}")
    table = read_parquet(path) if path.suffix.lower() == ".parquet" else read_csv(path, ours=True)
    table.attrs["source"] = path.name  # so a later problem with a value can name the file
    return table


def split_embeddings(df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(features `(N, D)` float32, metadata table) of an embedding table."""
    cols = sorted((c for c in df.columns if _EMB.match(str(c))), key=lambda c: int(_EMB.match(c).group(1)))
    if not cols:
        raise ValueError("this table has no embedding columns (emb_0, emb_1, ...); make one with `ssrl embed`")
    meta = df.drop(columns=cols).reset_index(drop=True)
    feats = np.empty((len(df), len(cols)), dtype=np.float32)
    for j, col in enumerate(cols):
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raw = df[col].iloc[int(bad[0])]
            source = f"{df.attrs['source']}: " if df.attrs.get("source") else ""
            raise ValueError(f"{source}column {col} {_what(raw)} in {len(bad)} row(s) (first: row {int(bad[0]) + 1}, "
                             f"value {raw!r}); embeddings must be finite numbers: embed the cells again")
        feats[:, j] = values
    return feats, meta


def _what(value: object) -> str:
    """What is wrong with one embedding value, in words."""
    if value is None or value is pd.NA or (isinstance(value, str) and not value.strip()):
        return "is empty"
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number):
        return "is NaN (not a number)" if isinstance(value, float) else "is not a number"
    return "is infinite"


def read_embeddings(path: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Read an embedding file written by `ssrl embed` -> (features, metadata); a plain error
    naming the file, the column and the row for a value that is not a finite number."""
    return split_embeddings(read_table(path))


def require_column(meta: pd.DataFrame, column: str) -> pd.Series:
    """The metadata column, or a plain error listing the columns there are."""
    if column not in meta.columns:
        usable = [c for c in meta.columns if c not in ("cell_index", "dataset")]
        raise ValueError(f"no column {column!r} in the embeddings; columns are {usable}")
    return meta[column]
