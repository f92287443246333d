"""A cell store's metadata tables: one Parquet file per chunk while importing, `meta.parquet` at the end.

Parquet holds one type per column, so mixed or odd object columns become text (a missing text
value reads back as "", as from an npz). Files go through `ssrl_core.checksums` (page CRCs and a
content digest, checked when read).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ssrl_core.checksums import read_parquet as checked_read
from ssrl_core.checksums import write_parquet as checked_write


def parquet_ready(meta: pd.DataFrame) -> pd.DataFrame:
    """Columns Parquet can hold with one type each: mixed or odd object columns become text."""
    out = meta.reset_index(drop=True).copy()
    out.columns = [str(c) for c in out.columns]
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.StringDtype):  # text: a missing value reads back as "", as from an npz
            out[col] = s.fillna("")
            continue
        if s.dtype.kind in "biufM":
            continue
        if s.dtype == object:
            kinds = {type(v) for v in s if v is not None and not (isinstance(v, float) and np.isnan(v))}
            if kinds <= {str}:  # text: a missing value reads back as "", as from an npz
                out[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
                continue
            if kinds and all(issubclass(k, (int, np.integer)) and not issubclass(k, bool) for k in kinds) \
                    and s.notna().all():
                out[col] = s.astype(np.int64)
                continue
            if kinds and all(issubclass(k, (int, float, np.integer, np.floating)) and not issubclass(k, bool)
                             for k in kinds):
                out[col] = s.astype(np.float64)
                continue
        out[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return out


def write_parquet(path: Path, meta: pd.DataFrame) -> None:
    """Write a metadata table atomically, with page checksums and a content digest."""
    checked_write(parquet_ready(meta), path)


def read_parquet(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a metadata table (all or some columns), its checksums verified."""
    return checked_read(path, columns)
