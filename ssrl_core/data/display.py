"""Showing crops on screen: per-channel percentile scaling and colour composites.

16-bit microscopy images use a small part of the 0..65535 range, so scaling by the dtype
maximum shows black squares. Every channel is scaled between its own `lo` and `hi` (from
`channel_ranges`, percentiles over the set) and painted with a colour lookup table; the colours
are added and clipped. One channel is shown in grey.
"""

from __future__ import annotations

import numpy as np

from ssrl_core.data.cellset import to_unit_float

# Colours (RGB in 0..1) by channel name; unknown names take the next free colour of PALETTE.
NAMED_COLOURS: dict[str, tuple[float, float, float]] = {
    "dapi": (0.0, 0.35, 1.0), "dna": (0.0, 0.35, 1.0), "hoechst": (0.0, 0.35, 1.0),
    "tubulin": (0.0, 1.0, 0.0), "actin": (1.0, 0.0, 0.0), "h2b-gfp": (0.0, 1.0, 0.0),
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
}
PALETTE: list[tuple[float, float, float]] = [
    (0.0, 0.35, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0), (0.0, 1.0, 1.0)]


def default_colours(channel_names: list[str]) -> list[tuple[float, float, float]]:
    """A colour per channel: grey for one channel, known stains by name, else the palette."""
    if len(channel_names) == 1:
        return [(1.0, 1.0, 1.0)]
    out: list[tuple[float, float, float]] = []
    free = [c for c in PALETTE if c not in {NAMED_COLOURS.get(n.lower()) for n in channel_names}]
    for name in channel_names:
        named = NAMED_COLOURS.get(name.lower())
        out.append(named if named and named not in out else (free.pop(0) if free else (1.0, 1.0, 1.0)))
    return out


def _image_hwc(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(f"an image must be (H, W) or (H, W, C); got shape {a.shape}")
    return a


def composite(image: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None,
              colors: list | None = None, channel_names: list[str] | None = None) -> np.ndarray:
    """One crop `(H, W, C)` as an RGB uint8 `(H, W, 3)` picture.

    Args:
        image: any dtype; `lo`/`hi` per channel (default: this image's 0.5/99.5 percentiles).
        colors: one RGB triple (0..1) or a name ("blue", "green", ...) per channel; default from
            `channel_names` (DAPI blue, tubulin green, actin red) or the palette, grey for one.
    """
    a = _image_hwc(image)
    c = a.shape[2]
    if lo is None or hi is None:
        flat = a.reshape(-1, c).astype(np.float32)
        lo = np.nanpercentile(flat, 0.5, axis=0)
        hi = np.nanpercentile(flat, 99.5, axis=0)
        hi = np.where(hi > lo, hi, lo + 1)
    unit = to_unit_float(a, np.asarray(lo, np.float32), np.asarray(hi, np.float32))
    cols = colors if colors is not None else default_colours(channel_names or [f"ch{i}" for i in range(c)])
    if len(cols) != c:
        raise ValueError(f"{c} channels but {len(cols)} colours")
    lut = np.array([_rgb(x) for x in cols], np.float32)  # (C, 3)
    rgb = np.tensordot(unit, lut, axes=([2], [0]))
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


_NAMES = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "grey": (1, 1, 1), "gray": (1, 1, 1),
          "white": (1, 1, 1), "magenta": (1, 0, 1), "yellow": (1, 1, 0), "cyan": (0, 1, 1)}


def _rgb(x: object) -> tuple[float, float, float]:
    if isinstance(x, str):
        if x.lower() not in _NAMES:
            raise ValueError(f"unknown colour {x!r}; use one of {', '.join(_NAMES)} or an (r, g, b) triple")
        return tuple(float(v) for v in _NAMES[x.lower()])  # type: ignore[return-value]
    t = tuple(float(v) for v in x)  # type: ignore[union-attr]
    if len(t) != 3:
        raise ValueError(f"a colour needs 3 numbers (r, g, b), got {x!r}")
    return t  # type: ignore[return-value]


def channel_tiles(image: np.ndarray, lo: np.ndarray | None = None, hi: np.ndarray | None = None) -> list[np.ndarray]:
    """One grey uint8 `(H, W)` picture per channel, each scaled between its own lo and hi."""
    a = _image_hwc(image)
    if lo is None or hi is None:
        flat = a.reshape(-1, a.shape[2]).astype(np.float32)
        lo = np.nanpercentile(flat, 0.5, axis=0)
        hi = np.nanpercentile(flat, 99.5, axis=0)
        hi = np.where(hi > lo, hi, lo + 1)
    unit = to_unit_float(a, np.asarray(lo, np.float32), np.asarray(hi, np.float32))
    return [(unit[..., i] * 255 + 0.5).astype(np.uint8) for i in range(a.shape[2])]


def montage(images: np.ndarray, lo: np.ndarray, hi: np.ndarray, channel_names: list[str] | None = None,
            columns: int = 8, gap: int = 2) -> np.ndarray:
    """A grid of composites `(rows*H, columns*W, 3)` uint8 for a gallery of crops `(N, H, W, C)`."""
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    h, w = images.shape[1:3]
    rows = (n + columns - 1) // columns
    cols = min(columns, n)
    out = np.zeros((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = composite(im, lo, hi, channel_names=channel_names)
    return out
