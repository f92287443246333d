"""CellSet: the one in-memory type for a set of single-cell crops.

Images keep their own dtype (uint8, uint16, float32) as an `(N, H, W, C)` array; channel names
and a pandas metadata table (one row per crop) travel with them. Standard metadata columns,
where known: label, compound, concentration, moa, plate, well, site, source.

`images` is either a NumPy array (sets that fit in memory) or a lazy
`ssrl_core.data.store.StoreArray` over an on-disk cell store: the same `shape`, `dtype`, `len`,
`images[i]`, `images[a:b]`, `images[index]`, but each read fetches only the crops asked for.
`subset` / `where` on a lazy set stay lazy; `batches()` streams any set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pandas as pd

STANDARD_COLUMNS = ("label", "compound", "concentration", "moa", "plate", "well", "site", "source")
SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32)
MIN_SIDE = 16  # the smallest crop side any backbone takes (ssrl_core.models.backbones.MIN_IMAGE)


@dataclass
class CellSet:
    """Single-cell crops, their channel names and their metadata.

    Attributes:
        images: `(N, H, W, C)` array in its own dtype.
        channels: one name per channel (e.g. ["DAPI", "Tubulin", "Actin"]).
        meta: metadata table with N rows (index 0..N-1).
        name: a short human name for the set.
        skipped: `(file, reason)` for every input that was refused while loading.
        scale: per-channel `(lo, hi)` intensity range of the whole dataset the cells come from
            (None: computed from these cells on first use). A subset inherits its parent's, so
            the same cell is scaled the same way whichever other cells were picked with it.
    """

    images: Any  # np.ndarray, or a lazy ssrl_core.data.store.StoreArray
    channels: list[str]
    meta: pd.DataFrame = field(default_factory=pd.DataFrame)
    name: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    scale: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.images.ndim == 3:  # (N, H, W) -> one channel
            self.images = self.images[..., None]
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, H, W, C); got shape {self.images.shape}")
        n, c = self.images.shape[0], self.images.shape[3]
        if len(self.channels) != c:
            raise ValueError(f"{c} image channels but {len(self.channels)} channel names {self.channels}")
        if self.meta is None or len(self.meta.columns) == 0:
            self.meta = pd.DataFrame(index=range(n))
        if len(self.meta) != n:
            raise ValueError(f"{n} images but {len(self.meta)} metadata rows")
        self.meta = self.meta.reset_index(drop=True)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one crop."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def lazy(self) -> bool:
        """True when the pixels stay on disk (a store) and are read batch by batch."""
        return not isinstance(self.images, np.ndarray)

    @property
    def nbytes(self) -> int:
        """Bytes of all pixels (on disk for a lazy set)."""
        return int(self.images.nbytes)

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel `(lo, hi)` intensity range of the dataset (see `scale`), computed once."""
        if self.scale is None:
            self.scale = channel_ranges(self.images)
        return self.scale

    def subset(self, index: np.ndarray | list[int] | pd.Series) -> "CellSet":
        """A new CellSet with the rows picked by positions or a boolean mask (lazy stays lazy);
        it keeps the whole set's intensity `ranges()`."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        images = self.images.take(idx) if self.lazy else self.images[idx]
        return CellSet(images, list(self.channels), self.meta.iloc[idx].reset_index(drop=True),
                       self.name, list(self.skipped), self.ranges())

    def batches(self, batch_size: int = 256) -> Iterator[np.ndarray]:
        """The crops in order, `batch_size` at a time (only one batch in memory for a lazy set)."""
        for start in range(0, len(self), batch_size):
            yield np.asarray(self.images[start:start + batch_size])

    def in_memory(self) -> "CellSet":
        """The same set with every pixel read into memory (a no-op for in-memory sets)."""
        if not self.lazy:
            return self
        return CellSet(self.images[:], list(self.channels), self.meta, self.name, list(self.skipped), self.scale)

    def where(self, **equals: object) -> "CellSet":
        """Rows whose metadata equals the given values, e.g. `cells.where(compound="DMSO")`.

        A list value means "any of these".
        """
        mask = np.ones(len(self), dtype=bool)
        for col, value in equals.items():
            if col not in self.meta.columns:
                raise KeyError(f"no metadata column {col!r}; columns are {list(self.meta.columns)}")
            values = value if isinstance(value, (list, tuple, set)) else [value]
            mask &= self.meta[col].isin(list(values)).to_numpy()
        return self.subset(mask)

    def summary(self) -> dict:
        """Plain facts for `ssrl data info` and the app: count, shape, dtype, channels, columns."""
        h, w, c = self.shape
        return {"name": self.name, "cells": len(self), "height": h, "width": w, "channels": c,
                "channel_names": list(self.channels), "dtype": str(self.images.dtype),
                "columns": [str(x) for x in self.meta.columns], "skipped": len(self.skipped)}


def channel_ranges(images: np.ndarray, low: float = 0.5, high: float = 99.5,
                   sample: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel intensity percentiles `(lo, hi)` over a set of crops `(N, H, W, C)`.

    Used to map any dtype to float32 in [0, 1] with the same scale for every crop of a set, so
    brightness differences between cells survive (a per-image scaling would erase them).
    """
    rng = np.random.default_rng(seed)
    # sorted picks: percentiles do not depend on order, and a lazy store reads them in one pass
    pick = images[:] if len(images) <= sample else images[np.sort(rng.choice(len(images), sample, replace=False))]
    pick = np.asarray(pick)
    raw = pick.reshape(-1, pick.shape[-1])
    finite = np.isfinite(raw).all(axis=1) if raw.dtype.kind == "f" else None
    lo = np.empty(raw.shape[1], np.float32)
    hi = np.empty(raw.shape[1], np.float32)
    for ch in range(raw.shape[1]):  # one channel at a time: a fraction of the memory of all at once
        col = raw[:, ch].astype(np.float32)
        if finite is not None:
            col = col[finite]
        lo[ch], hi[ch] = np.percentile(col, [low, high])
    hi = np.where(hi > lo, hi, lo + 1.0).astype(np.float32)
    return lo, hi


def to_unit_float(images: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scale `(..., C)` images to float32 in [0, 1] per channel with the given ranges (clipped)."""
    out = (np.asarray(images).astype(np.float32) - lo) / (hi - lo)  # asarray: a lazy view is read
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0, out=out)
