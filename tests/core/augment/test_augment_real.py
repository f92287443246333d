"""Recipes on real crops (MitoCheck uint8 1-channel, BBBC021 uint16 3-channel) and preview speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ssrl_core.augment import TwoViews, ViewMaker, get_preset
from ssrl_core.data.cellset import channel_ranges, to_unit_float


def test_set_b_keeps_the_central_nucleus_on_mitocheck(shared_data: Path) -> None:
    with np.load(shared_data / "mitocheck" / "mitocheck_phenotype_crops.npz") as z:
        crops = z["images"][:8, :, :, None]  # uint8 (8, 64, 64, 1), nucleus in the centre
    lo, hi = channel_ranges(crops)
    maker = ViewMaker(get_preset("microscopy-set-b"))
    for img in to_unit_float(crops, lo, hi):
        views = np.stack([maker(img, s) for s in range(8)])
        assert views.shape == (8, 64, 64, 1)
        # the views show the central half (the nucleus), not the whole crop: their mean intensity
        # is closer to the centre's than to the whole crop's
        centre, whole = img[16:48, 16:48].mean(), img.mean()
        assert abs(views.mean() - centre) < abs(views.mean() - whole)
    # raw uint8 input is normalised per channel by the maker itself
    raw = maker(crops[0], 1)
    assert raw.dtype == np.float32 and raw.shape == (64, 64, 1) and raw.max() <= 1.0


def test_two_recipes_on_bbbc021_uint16(shared_data: Path) -> None:
    with np.load(shared_data / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz") as z:
        crops = z["images"][:6]  # uint16 (6, 68, 68, 3)
    lo, hi = channel_ranges(crops)
    cells = to_unit_float(crops, lo, hi)
    tv = TwoViews(get_preset("microscopy-set-a"), get_preset("microscopy-set-b"), out_size=64)
    pairs = [tv(c, i) for i, c in enumerate(cells)]
    assert all(a.shape == b.shape == (64, 64, 3) for a, b in pairs)
    assert all(not np.array_equal(a, b) for a, b in pairs)


def test_set_b_preview_is_fast() -> None:
    """The app previews 4 cells x 8 views with set B at 64 px; 32 views must take well under 300 ms."""
    img = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    maker = ViewMaker(get_preset("microscopy-set-b"))
    maker(img, 0)  # builds and caches the pipeline
    best = min(_time_32(maker, img) for _ in range(3))
    assert best < 0.15, f"32 set-B views took {best * 1000:.0f} ms"


def _time_32(maker: ViewMaker, img: np.ndarray) -> float:
    t = time.perf_counter()
    for s in range(32):
        maker(img, s)
    return time.perf_counter() - t
