"""The `hand-features` baseline: a classical, hand-made description of each crop.

Per channel: mean, standard deviation and the 5/25/50/75/95th intensity percentiles, and two
texture-like statistics (mean gradient magnitude and mean absolute Laplacian, which grow with fine
structure). On the nuclear channel: area, eccentricity, solidity and perimeter of the central
nucleus, the number of nuclei and the nucleus offset from the centre
(`ssrl_core.evaluate.morphology`). It is the kind of profile CellProfiler gives, and the floor a
learned representation should beat.
"""

from __future__ import annotations

import numpy as np

from ssrl_core.evaluate.morphology import MEASURES, nucleus_measurements

PERCENTILES = (5, 25, 50, 75, 95)


def hand_feature_names(channels: list[str]) -> list[str]:
    """Column names of `hand_features`, in order."""
    names: list[str] = []
    for ch in channels:
        names += [f"{ch}_mean", f"{ch}_std"] + [f"{ch}_p{q}" for q in PERCENTILES]
        names += [f"{ch}_gradient", f"{ch}_laplacian"]
    return names + list(MEASURES)


def _texture(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean gradient magnitude and mean |Laplacian| per image and channel, for `(N,H,W,C)`."""
    gy, gx = np.gradient(x, axis=(1, 2))
    grad = np.sqrt(gx * gx + gy * gy).mean(axis=(1, 2))
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    lap = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * x
    return grad, np.abs(lap).mean(axis=(1, 2))


def hand_features(unit_images: np.ndarray, nuclear_channel: int = 0, batch: int = 512,
                  progress=None) -> np.ndarray:
    """Hand-made features `(N, D)` float32 for `(N, H, W, C)` float32 images in [0, 1].

    The columns are named by `hand_feature_names(channels)`. Crops where no nucleus is found get
    an offset equal to half the crop diagonal (as far as it can be). Features are raw (not
    standardised); `embed` z-scores them so that no single unit dominates distances.
    """
    if unit_images.ndim == 3:
        unit_images = unit_images[..., None]
    n, h, w, c = unit_images.shape
    parts = []
    for start in range(0, n, batch):
        x = unit_images[start:start + batch].astype(np.float32, copy=False)
        pct = np.percentile(x, PERCENTILES, axis=(1, 2))  # (P, B, C)
        grad, lap = _texture(x)
        per_channel = [x.mean(axis=(1, 2)), x.std(axis=(1, 2))] + list(pct) + [grad, lap]
        stacked = np.stack(per_channel, axis=2)  # (B, C, 9)
        morph = nucleus_measurements(x, nuclear_channel).to_numpy(dtype=np.float64, copy=True)
        morph[:, -1] = np.nan_to_num(morph[:, -1], nan=0.5 * float(np.hypot(h, w)))
        parts.append(np.concatenate([stacked.reshape(len(x), -1), morph], axis=1))
        if progress is not None:
            progress(min(1.0, (start + len(x)) / n))
    return np.concatenate(parts, axis=0).astype(np.float32)
