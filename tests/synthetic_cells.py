"""Synthetic cells with known factors, for the invariance preview's tests (issue 22).

Each cell: channel 0 an elongated nucleus of random size, orientation and brightness; channel 1 a
round cell body of independent brightness; both centred, with soft edges and faint noise. Two
groups (`group`: "a" / "b") differ only in the cell body's brightness when `groups=True`.
"""

from __future__ import annotations

import numpy as np


def synthetic_cells(n: int = 48, side: int = 32, seed: int = 0) -> np.ndarray:
    """(n, side, side, 2) float32: channel 0 an elongated nucleus (random size, angle, brightness),
    channel 1 a round cell body (independent brightness), both centred, with soft edges and faint noise."""
    from scipy.ndimage import gaussian_filter
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side] - (side - 1) / 2
    out = np.zeros((n, side, side, 2), np.float32)
    for i in range(n):
        a = rng.uniform(5.5, 9)
        b, t = a / rng.uniform(1.6, 2.4), rng.uniform(0, np.pi)
        u, v = xx * np.cos(t) + yy * np.sin(t), -xx * np.sin(t) + yy * np.cos(t)
        out[i, ..., 0] = rng.uniform(0.25, 0.95) * ((u / a) ** 2 + (v / b) ** 2 <= 1)
        out[i, ..., 1] = rng.uniform(0.2, 0.9) * (xx ** 2 + yy ** 2 <= (a + 4) ** 2)
    out = gaussian_filter(out, sigma=(0, 0.8, 0.8, 0))
    return np.clip(out + rng.uniform(0, 0.01, out.shape), 0, 1).astype(np.float32)


def synthetic_cellset(n: int = 64, seed: int = 0):
    """A CellSet (uint16, channels DNA and Body) of `synthetic_cells` in two groups: group "b" has a
    cell body 1.8x brighter than group "a"; nothing else differs between the groups."""
    import pandas as pd

    from ssrl_core.data.cellset import CellSet

    x = synthetic_cells(n, seed=seed)
    group = np.where(np.arange(n) % 2 == 0, "a", "b")
    x[group == "b", ..., 1] *= 1.8
    images = np.clip(x / 1.8 * 60000, 0, 65535).astype(np.uint16)
    return CellSet(images, ["DNA", "Body"], pd.DataFrame({"group": group}), "synthetic")
