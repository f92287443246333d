"""Display: per-channel percentile scaling and colour composites for any channel count."""

from __future__ import annotations

import numpy as np
import pytest

from ssrl_core.data.cellset import channel_ranges
from ssrl_core.data.display import channel_tiles, composite, default_colours, montage


def _dim16(channels: int) -> np.ndarray:
    """16-bit crops using only 1000..3000 of 0..65535, like real microscopy."""
    rng = np.random.default_rng(0)
    return rng.integers(1000, 3000, (4, 20, 20, channels), dtype=np.uint16)


def test_16bit_is_scaled_by_percentiles_not_dtype_max():
    images = _dim16(1)
    lo, hi = channel_ranges(images)
    rgb = composite(images[0], lo, hi)
    assert rgb.shape == (20, 20, 3) and rgb.dtype == np.uint8
    assert rgb.max() >= 250 and rgb.min() <= 5  # full contrast (dtype max would give < 12)
    assert np.array_equal(rgb[..., 0], rgb[..., 1])  # one channel is grey


def test_three_stains_get_blue_red_green():
    img = np.zeros((8, 8, 3), np.uint16)
    img[..., 0] = 1000  # DAPI only
    rgb = composite(img, lo=np.zeros(3), hi=np.full(3, 1000.0), channel_names=["DAPI", "Actin", "Tubulin"])
    assert rgb[0, 0, 2] == 255 and rgb[0, 0, 0] == 0  # DAPI is blue
    img[..., :] = 0
    img[..., 1] = 1000  # actin only
    rgb = composite(img, lo=np.zeros(3), hi=np.full(3, 1000.0), channel_names=["DAPI", "Actin", "Tubulin"])
    assert rgb[0, 0, 0] == 255 and rgb[0, 0, 1] == 0  # actin is red


@pytest.mark.parametrize("channels", [2, 5, 7])
def test_any_channel_count_gives_distinct_colours_and_tiles(channels):
    images = _dim16(channels)
    lo, hi = channel_ranges(images)
    rgb = composite(images[1], lo, hi)
    assert rgb.shape == (20, 20, 3)
    cols = default_colours([f"c{i}" for i in range(channels)])
    assert len(cols) == channels and len(set(cols[: min(channels, 6)])) == min(channels, 6)
    tiles = channel_tiles(images[1], lo, hi)
    assert len(tiles) == channels and all(t.dtype == np.uint8 and t.shape == (20, 20) for t in tiles)
    assert all(t.max() > 200 for t in tiles)


def test_named_colours_montage_and_errors():
    images = _dim16(2).astype(np.float32)
    lo, hi = channel_ranges(images)
    rgb = composite(images[0], lo, hi, colors=["magenta", (0, 1, 0)])
    assert rgb[..., 1].max() > 0 and rgb[..., 0].max() > 0
    grid = montage(images, lo, hi, columns=3, gap=2)
    assert grid.shape == (2 * 20 + 2, 3 * 20 + 4, 3)
    assert default_colours(["red", "green", "blue"]) == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]  # RGB pictures
    with pytest.raises(ValueError, match="2 channels but 1 colours"):
        composite(images[0], lo, hi, colors=["red"])
    with pytest.raises(ValueError, match="unknown colour"):
        composite(images[0], lo, hi, colors=["red", "ultraviolet"])
