"""Judging a recipe by its views: N views of a few cells, the LPIPS distance of each view pair,
and plain-words warnings (near-identical views, destructive views, mostly blank views).

Views come from `ViewMaker` (same seed -> same view); distances from an
`ssrl_core.perceptual.LPIPS` passed in (Zhang et al. 2018), the measure the paper uses to compare
how strongly two recipes change a cell (Bendidi et al. 2024). The app's Augment page draws these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssrl_core.augment.views import ViewMaker

NEAR_IDENTICAL = 0.05  # median LPIPS below this: the two views barely differ
DESTRUCTIVE = 0.6      # median LPIPS above this: the views no longer look like the same cell
BLANK_RATIO = 0.25     # views keep less than this share of the cell's signal: mostly blank


@dataclass
class Preview:
    """views[i][j]: view j of cell i, float32 (size, size, C); lpips[i, k]: views 2k vs 2k+1."""
    views: list[list[np.ndarray]]
    lpips: np.ndarray | None
    signal_ratio: float
    warnings: list[str] = field(default_factory=list)


def view_seed(seed: int, cell: int, view: int, n_views: int) -> int:
    """The seed of one view: fixed for a given preview seed, different for every view."""
    return int(seed) * 100_003 + cell * n_views + view


def make_preview(recipe, images: np.ndarray, n_views: int, seed: int, lpips=None,
                 size: int = 64) -> Preview:
    """Make `n_views` views of each image `(n, H, W, C)` float32 [0,1]; LPIPS on pairs (0,1), (2,3)…

    `lpips` is an `ssrl_core.perceptual.LPIPS` (or None to skip distances).
    """
    maker = ViewMaker(recipe, out_size=size)
    views = [[maker(img, view_seed(seed, i, j, n_views), pair_seed=view_seed(seed, i, j - j % 2, n_views) + 7)
              for j in range(n_views)] for i, img in enumerate(images)]
    dist = None
    pairs = n_views // 2
    if lpips is not None and pairs:
        a = np.stack([v[2 * k] for v in views for k in range(pairs)])
        b = np.stack([v[2 * k + 1] for v in views for k in range(pairs)])
        dist = np.asarray(lpips.batch(a, b), dtype=np.float32).reshape(len(images), pairs)
    ratio = _signal_ratio(images, views)
    return Preview(views, dist, ratio, judge(dist, ratio))


def pair_distances(recipe, images: np.ndarray, seed: int, lpips, size: int = 64) -> np.ndarray:
    """LPIPS between two views of every image (one pair per cell): the recipe's distribution."""
    maker = ViewMaker(recipe, out_size=size)
    a = np.stack([maker(img, view_seed(seed, i, 0, 2), view_seed(seed, i, 0, 2) + 7) for i, img in enumerate(images)])
    b = np.stack([maker(img, view_seed(seed, i, 1, 2), view_seed(seed, i, 0, 2) + 7) for i, img in enumerate(images)])
    return np.asarray(lpips.batch(a, b), dtype=np.float32).reshape(-1)


def judge(dist: np.ndarray | None, signal_ratio: float) -> list[str]:
    """Plain-words warnings about a recipe from its view distances and remaining signal."""
    out: list[str] = []
    if signal_ratio < BLANK_RATIO:
        out.append(f"The views are mostly blank: they keep only {signal_ratio:.0%} of the cell's "
                   "bright area. The crop is probably too small or the intensity changes too strong.")
    if dist is not None and dist.size:
        med = float(np.median(dist))
        if med < NEAR_IDENTICAL:
            out.append(f"The two views of a cell are nearly identical (median LPIPS {med:.3f}). "
                       "The network would have almost nothing to learn: make the recipe stronger.")
        elif med > DESTRUCTIVE:
            out.append(f"The two views of a cell hardly look like the same cell (median LPIPS {med:.2f}). "
                       "This may destroy what you want the representation to keep: make it gentler.")
    return out


def blank_fraction(view: np.ndarray, threshold: float = 0.05) -> float:
    """Fraction of pixels where every channel is below `threshold` (near-black background)."""
    return float((view.max(axis=-1) < threshold).mean())


def _signal_ratio(images: np.ndarray, views: list[list[np.ndarray]]) -> float:
    """Bright (non-background) area of the views divided by that of the original cells."""
    orig = np.mean([1.0 - blank_fraction(img) for img in images]) if len(images) else 0.0
    if orig <= 1e-6:
        return 1.0
    kept = np.mean([1.0 - blank_fraction(v) for row in views for v in row])
    return float(min(kept / orig, 9.99))
