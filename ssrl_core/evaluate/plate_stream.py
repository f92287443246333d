"""Per-well profiles, per-plate normalisation and mAP of a whole plate, read in row groups.

A 384-well plate is ~700,000 cells; its embedding table (`ssrl embed`, 256 dimensions) is 0.7 GB
of float32 on disk and several GB as one pandas frame. Here only the metadata columns (plate,
well, compound, ...) are held in memory; the embedding columns are read one Parquet row group at
a time (`feature_chunks`), so memory stays near one row group (65,536 cells) plus the metadata,
whatever the plate's size. The numbers are those of the in-memory protocol (tested on small
tables):

- `well_medians`: the median of each feature per plate and well, as `pycytominer.aggregate`
  (operation "median", Caicedo et al., Nature Methods 2017) computes it, by an external sort: each
  row group's rows are written, well by well, into a scratch file (`pwrite`), then each well's block
  is read back alone and its median taken (in float64, cast to float32, as pandas does).
- `plate_scale`: the per-plate reference of `ssrl_core.evaluate.normalise` (the same rules: the
  plate's controls when every plate has `min_controls`, else all controls, else all cells; mean and
  population standard deviation, as pycytominer's `standardize` / scikit-learn's StandardScaler),
  accumulated in float64 over row groups in two passes (means, then squared deviations).
  `normalised_chunks` then yields each row group's normalised cells (clipped as `normalise` does).
- `plate_profiles`: well medians of the normalised cells (the affine per-plate scale commutes with
  the median) and their copairs mAP (`map_copairs.activity_map`), which is what `ssrl map` computes
  from the whole table in memory.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ssrl_core.evaluate.export import EMB_PREFIX
from ssrl_core.evaluate.map_copairs import activity_map
from ssrl_core.evaluate.normalise import CLIP, MIN_CONTROLS, choose_reference


def table_columns(path: str | Path) -> tuple[list[str], list[str]]:
    """(embedding columns in order, metadata columns) of an embedding table (Parquet)."""
    import pyarrow.parquet as pq

    names = pq.ParquetFile(path).schema_arrow.names
    feats = sorted((c for c in names if c.startswith(EMB_PREFIX) and c[len(EMB_PREFIX):].isdigit()),
                   key=lambda c: int(c[len(EMB_PREFIX):]))
    if not feats:
        raise ValueError(f"{Path(path).name} has no embedding columns (emb_0, emb_1, ...); make it with `ssrl embed`")
    return feats, [c for c in names if c not in feats]


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Every column of the table but the embedding ones (page checksums verified)."""
    import pyarrow.parquet as pq

    _, meta = table_columns(path)
    return pq.read_table(path, columns=meta, page_checksum_verification=True).to_pandas()


def feature_chunks(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """`(first row, (k, D) float32)` for each row group of the table, in order; refuses NaN."""
    import pyarrow.parquet as pq

    feats, _ = table_columns(path)
    f = pq.ParquetFile(path, page_checksum_verification=True)
    start = 0
    for g in range(f.num_row_groups):
        t = f.read_row_group(g, columns=feats)
        x = np.empty((t.num_rows, len(feats)), dtype=np.float32)
        for j, name in enumerate(feats):
            x[:, j] = t.column(name).to_numpy()
        if not np.isfinite(x).all():
            raise ValueError(f"{Path(path).name}: rows {start}-{start + len(x)} hold NaN or infinite embeddings; "
                             "embed the cells again")
        yield start, x
        start += len(x)


def _well_keys(meta: pd.DataFrame, keys: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    """(group code per cell, one row per group sorted by the keys as text)."""
    missing = [k for k in keys if k not in meta.columns]
    if "well" in missing:
        raise ValueError(f"per-well profiles need a well column; the table has {list(meta.columns)}")
    keys = tuple(k for k in keys if k in meta.columns)
    text = meta[list(keys)].astype(str)
    groups = text.drop_duplicates().sort_values(list(keys)).reset_index(drop=True)
    lookup = pd.Series(np.arange(len(groups)), index=pd.MultiIndex.from_frame(groups))
    code = lookup.reindex(pd.MultiIndex.from_frame(text)).to_numpy()
    return code.astype(np.int64), groups


def well_medians(path: str | Path, meta: pd.DataFrame | None = None, keys: tuple[str, ...] = ("plate", "well"),
                 scratch: str | Path | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Median of each embedding per plate and well, `(wells, D)` float32, and one row per well
    (the keys, the cells' other metadata where constant within the well, `cells`)."""
    meta = read_metadata(path) if meta is None else meta
    code, wells = _well_keys(meta, keys)
    order = np.argsort(code, kind="stable")
    where = np.empty_like(order)
    where[order] = np.arange(len(order))  # the row's place in the well-sorted scratch file
    counts = np.bincount(code, minlength=len(wells))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    dim = len(table_columns(path)[0])
    row_bytes = dim * 4
    with tempfile.TemporaryFile(dir=scratch) as fh:
        fd = fh.fileno()
        for start, x in feature_chunks(path):
            dest = where[start:start + len(x)]
            by = np.argsort(dest, kind="stable")
            sd, sx = dest[by], x[by]
            breaks = np.flatnonzero(np.diff(sd) != 1) + 1
            for a, b in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [len(sd)]])):
                os.pwrite(fd, np.ascontiguousarray(sx[a:b]).tobytes(), int(sd[a]) * row_bytes)
        med = np.empty((len(wells), dim), dtype=np.float32)
        for w in range(len(wells)):
            block = np.frombuffer(os.pread(fd, int(counts[w]) * row_bytes, int(bounds[w]) * row_bytes),
                                  dtype=np.float32).reshape(-1, dim)
            med[w] = np.median(block.astype(np.float64), axis=0).astype(np.float32)
    other = [c for c in meta.columns if c not in wells.columns and c not in ("cell_index", "x", "y", "cluster")]
    if other:
        grouped = meta[other].groupby(code, sort=True)
        constant = [c for c in other if (grouped[c].nunique(dropna=False) <= 1).all()]
        if constant:
            wells = pd.concat([wells, grouped[constant].first().reset_index(drop=True)], axis=1)
    wells["cells"] = counts
    return med, wells


@dataclass
class PlateScale:
    """Per-plate (or one) mean and standard deviation, chosen by `normalise`'s rules."""

    scope: str  # "per plate" | "all cells"
    reference: str  # "controls" | "all cells"
    note: str
    control: str | None
    plates: list[str]
    mean: dict[str, np.ndarray] = field(default_factory=dict)  # plate ("" = all) -> (D,) float64
    sd: dict[str, np.ndarray] = field(default_factory=dict)

    def apply(self, x: np.ndarray, plates: np.ndarray, clip: float | None = CLIP) -> np.ndarray:
        """`x` standardised with the reference of each row's plate, NaN to 0, clipped."""
        z = np.empty_like(x, dtype=np.float32)
        if self.scope == "per plate":
            for p in np.unique(plates):
                rows = plates == p
                z[rows] = (x[rows] - self.mean[p]) / self.sd[p]
        else:
            z[:] = (x - self.mean[""]) / self.sd[""]
        z = np.nan_to_num(z, nan=0.0)
        return np.clip(z, -clip, clip) if clip is not None else z


def plate_scale(path: str | Path, meta: pd.DataFrame | None = None, control: str | None = "auto",
                control_column: str | None = None, plate_column: str = "plate", per_plate: bool = True,
                min_controls: int = MIN_CONTROLS) -> PlateScale:
    """The reference of `normalise(features, meta, ...)` for the whole table, in two streamed passes."""
    meta = read_metadata(path) if meta is None else meta
    r = choose_reference(meta, control, control_column, plate_column, per_plate, min_controls)
    ref, group = r.cells, r.group
    scale = PlateScale(r.scope, r.reference, r.note, r.control, r.plates)
    keys = sorted(set(group[ref].tolist()))
    sums = {k: 0.0 for k in keys}
    n = {k: int((ref & (group == k)).sum()) for k in keys}
    for start, x in feature_chunks(path):
        r, g = ref[start:start + len(x)], group[start:start + len(x)]
        for k in keys:
            rows = r & (g == k)
            if rows.any():
                sums[k] = sums[k] + x[rows].astype(np.float64).sum(axis=0)
    mean = {k: sums[k] / n[k] for k in keys}
    sq = {k: 0.0 for k in keys}
    for start, x in feature_chunks(path):
        r, g = ref[start:start + len(x)], group[start:start + len(x)]
        for k in keys:
            rows = r & (g == k)
            if rows.any():
                sq[k] = sq[k] + ((x[rows].astype(np.float64) - mean[k]) ** 2).sum(axis=0)
    for k in keys:
        sd = np.sqrt(sq[k] / n[k])
        scale.mean[k], scale.sd[k] = mean[k], np.where(sd > 0, sd, 1.0)  # StandardScaler: a constant feature / 1
    return scale


def normalised_chunks(path: str | Path, scale: PlateScale, meta: pd.DataFrame | None = None,
                      plate_column: str = "plate", clip: float | None = CLIP) -> Iterator[tuple[int, np.ndarray]]:
    """`(first row, normalised (k, D) float32)` per row group: `normalise(...).features`, streamed."""
    meta = read_metadata(path) if meta is None else meta
    plates = (meta[plate_column].astype(str).to_numpy() if plate_column in meta.columns
              else np.full(len(meta), "", dtype=object))
    for start, x in feature_chunks(path):
        yield start, scale.apply(x, plates[start:start + len(x)], clip)


def plate_profiles(path: str | Path, control: str = "DMSO", by: tuple[str, ...] = ("compound", "concentration"),
                   null_size: int = 10000, seed: int = 0, scratch: str | Path | None = None) -> dict:
    """Well profiles (medians of the per-plate-normalised cells) and their mAP against `control`,
    as `ssrl map` computes them from the whole table (`normalise(..., clip=None)`, well medians)."""

    meta = read_metadata(path)
    med, wells = well_medians(path, meta, scratch=scratch)
    scale = plate_scale(path, meta, control=control)
    plates = wells["plate"].astype(str).to_numpy() if "plate" in wells.columns else np.full(len(wells), "")
    feats = scale.apply(med, plates, clip=None)
    cols = [c for c in by if c in wells.columns] or [by[0]]
    label = wells[cols[0]].astype(str)
    for c in cols[1:]:
        label = label + " @ " + wells[c].astype(str)
    is_ctrl = wells[cols[0]].astype(str).str.lower() == control.lower()
    label = np.where(is_ctrl, control, label.to_numpy())
    table = activity_map(feats, wells, label, control=control, level="profile", null_size=null_size, seed=seed)
    return {"features": feats, "wells": wells, "raw_medians": med, "scale": scale, "map": table}
