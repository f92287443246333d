"""Turning cells and views into pictures for the page: composites, tiles, data-URL thumbnails.

Display goes through `ssrl_core.data.display` (per-channel percentile ranges, never the dtype
maximum), so 16-bit images look the same as in the rest of the product.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from ssrl_core.data.display import channel_tiles as core_tiles
from ssrl_core.data.display import composite as core_composite


def composite(image: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None,
              channel_names: list[str] | None = None) -> np.ndarray:
    """RGB uint8 of one cell `(H, W, C)`; `lo/hi` default to 0/1 (views already in [0, 1]).

    Channel colours follow their names (DAPI blue, tubulin green, actin red; one channel grey).
    """
    c = image.shape[-1]
    lo = np.zeros(c, np.float32) if lo is None else lo
    hi = np.ones(c, np.float32) if hi is None else hi
    return core_composite(image, lo, hi, channel_names=channel_names)


def channel_tiles(image: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    """One grey uint8 tile per channel."""
    return core_tiles(image, lo, hi)


def enlarge(rgb: np.ndarray, size: int = 128) -> np.ndarray:
    """Nearest-neighbour enlargement so small crops are visible (pixels stay honest)."""
    h, w = rgb.shape[:2]
    if max(h, w) >= size:
        return rgb
    f = max(1, size // max(h, w))
    return np.repeat(np.repeat(rgb, f, axis=0), f, axis=1)


def data_url(rgb: np.ndarray, size: int = 64) -> str:
    """A small PNG thumbnail as a `data:image/png;base64,...` URL (for Altair/Vega tooltips)."""
    img = Image.fromarray(rgb)
    if max(img.size) != size:
        img = img.resize((size, size), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def row_montage(tiles: list[np.ndarray], pair_start: int = 1, scale: int = 2, gap: int = 3) -> np.ndarray:
    """One RGB strip: `tiles[0]` (the cell), then the views in pairs, with white gaps.

    Tiles are resized to a common size (nearest neighbour, pixels stay honest) and enlarged
    `scale` times; a wider gap separates the cell from its views and each pair from the next.
    """
    side = max(max(t.shape[:2]) for t in tiles) * scale
    parts: list[np.ndarray] = []
    for k, tile in enumerate(tiles):
        img = np.asarray(Image.fromarray(tile).resize((side, side), Image.NEAREST))
        if k:
            wide = k == pair_start or (k - pair_start) % 2 == 0
            parts.append(np.full((side, gap * (3 if wide else 1), 3), 255, np.uint8))
        parts.append(img)
    return np.concatenate(parts, axis=1)
