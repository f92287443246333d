"""The training cells of the shipped base encoder `cells_base`: every crop available for training,
as one grey-scale set.

The base encoder is per-channel (one grey-scale encoder applied to each channel, features
concatenated; see `models.backbones.PerChannel`), so it learns from single channels: each
fluorescence channel of a multi-channel crop is one training image. Sources, with what is held
out of each (so that every held-out score of `paper/quality.py` is on cells it never saw):
- MitoCheck phenotype crops minus the 25 held-out plates (H2B-GFP, 1 channel);
- BBBC021 sites 1-2 of plate Week4_27801 plus plate Week4_27481 (DAPI, actin, tubulin: 3 images
  per cell); sites 3-4 of Week4_27801 stay held out;
- the embedded demo nuclei (real nuclei from the images in the stardist and napari wheels).
Each source's channels are scaled by their own 0.5-99.5 percentile range to [0, 1] (as the
encoder sees any dataset at embedding time) and resized to 64 px; stored as uint16.

`ssrl-paper base-data [--out data/cells_base_train.npz]` (or `python -m paper.base_data`) writes it (needs
`../shared/data`; skips a source that is absent and says so).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from paper.plan import BBBC021, BBBC021_TRAIN_SITES, MITOCHECK, MITOCHECK_HELDOUT_PLATES, TRAIN_PLATE
from ssrl_core.data.cellset import channel_ranges, to_unit_float
from ssrl_core.data.registry import load_dataset
from ssrl_core.io import atomic_write

SIZE = 64


def _grey_images(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) any dtype -> (N*C, SIZE, SIZE) float32 in [0, 1], per-channel ranges, cell-major."""
    import torch
    import torch.nn.functional as F

    lo, hi = channel_ranges(images)
    unit = to_unit_float(images, lo, hi)  # (N, H, W, C)
    t = torch.from_numpy(np.ascontiguousarray(unit.transpose(0, 3, 1, 2))).reshape(-1, 1, *unit.shape[1:3])
    if t.shape[-1] != SIZE:
        t = F.interpolate(t, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=t.shape[-1] > SIZE)
    return t[:, 0].clamp(0, 1).numpy()


def build(out: Path) -> dict[str, int]:
    """Write the base training set to `out`; returns the number of grey images per source."""

    parts, metas, counts = [], [], {}

    def add(source: str, cells) -> None:
        grey = _grey_images(cells.images)
        c = cells.images.shape[-1]
        meta = cells.meta.reset_index(drop=True).loc[np.repeat(np.arange(len(cells)), c)].reset_index(drop=True)
        frame = pd.DataFrame({"source": source, "channel": np.tile(np.asarray(cells.channels, dtype=str), len(cells)),
                              "plate": meta["plate"].astype(str) if "plate" in meta else "",
                              "label": (meta["label"] if "label" in meta else meta.get("compound", "")).astype(str)})
        parts.append(grey)
        metas.append(frame)
        counts[source] = len(grey)

    for name, source in ((MITOCHECK, "mitocheck"), (BBBC021, "bbbc021"), ("demo_nuclei", "demo_nuclei")):
        try:
            cells = load_dataset(name)
        except (FileNotFoundError, KeyError, ValueError) as exc:
            print(f"skipped {name}: {exc}")
            continue
        meta = cells.meta.reset_index(drop=True)
        if source == "mitocheck":
            cells = cells.subset(np.flatnonzero(~meta["plate"].astype(str).isin(MITOCHECK_HELDOUT_PLATES).to_numpy()))
        elif source == "bbbc021":
            site = pd.to_numeric(meta["site"], errors="coerce")
            keep = ((meta["plate"].astype(str) == TRAIN_PLATE) & site.isin(BBBC021_TRAIN_SITES)) | (
                meta["plate"].astype(str) != TRAIN_PLATE)
            cells = cells.subset(np.flatnonzero(keep.to_numpy()))
        add(source, cells)
    images = (np.concatenate(parts) * 65535 + 0.5).astype(np.uint16)[..., None]
    meta = pd.concat(metas, ignore_index=True)
    arrays = {"images": images, "channels": np.array(["grey"]), **{k: meta[k].to_numpy(dtype=str) for k in meta}}

    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(out, write)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description="Build the base encoder's grey-scale training set.")
    ap.add_argument("--out", type=Path, default=Path("data") / "cells_base_train.npz")
    args = ap.parse_args()
    counts = build(args.out)
    print(f"wrote {args.out}: {sum(counts.values())} grey images ({', '.join(f'{k} {v}' for k, v in counts.items())})")


if __name__ == "__main__":
    main()
