"""Build `mitocheck_demo.npz` from the full MitoCheck crops (run once; the result ships).

    python -m ssrl_core.data.samples.build ../shared/data/mitocheck/mitocheck_phenotype_crops.npz

Keeps every cell of the held-out plates and a seeded per-phenotype sample of the others, so the
file stays under ~5 MB and every phenotype is present in both parts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ssrl_core.data.mitocheck import CHANNELS
from ssrl_core.data.mitocheck_names import MITOCHECK_HELDOUT_PLATES, add_name_columns
from ssrl_core.data.npz import load_npz, save_npz
from ssrl_core.data.samples import MITOCHECK_DEMO, samples_dir

TOTAL = 2400


def build(source: str | Path, out: str | Path | None = None, total: int = TOTAL, seed: int = 0) -> Path:
    """Write the sample; returns its path."""

    cells = load_npz(source, channels=CHANNELS)  # the shared crops store no channel names
    add_name_columns(cells.meta)  # plate, well, ... from the file names
    meta = cells.meta.reset_index(drop=True)
    held = meta["plate"].astype(str).isin(MITOCHECK_HELDOUT_PLATES).to_numpy()
    rng = np.random.default_rng(seed)
    train_idx = np.flatnonzero(~held)
    room = max(0, total - int(held.sum()))
    share = room / max(1, len(train_idx))
    keep_train: list[int] = []
    for _, rows in meta.iloc[train_idx].groupby("label"):
        n = max(1, int(round(len(rows) * share)))
        keep_train += rng.choice(rows.index.to_numpy(), min(n, len(rows)), replace=False).tolist()
    keep = np.sort(np.concatenate([np.flatnonzero(held), np.asarray(keep_train, dtype=int)]))
    sub = cells.subset(keep)
    sub.meta = sub.meta.reset_index(drop=True)
    sub.meta["split"] = np.where(sub.meta["plate"].astype(str).isin(MITOCHECK_HELDOUT_PLATES), "held-out", "train")
    sub.meta = sub.meta[[c for c in ("label", "split", "plate", "well", "frame", "x", "y") if c in sub.meta.columns]]
    sub.meta["source"] = "mitocheck"
    path = Path(out) if out is not None else samples_dir() / f"{MITOCHECK_DEMO}.npz"
    return save_npz(sub, path, compress=True)


if __name__ == "__main__":
    print(build(sys.argv[1]))
