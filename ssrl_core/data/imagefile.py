"""Reading one single-cell image file (TIFF, PNG, JPG) into `(H, W, C)` with checks.

Every failure is a `BadImage` whose message names the reason in plain words, so a folder
loader can skip the file, carry on, and report it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
MAX_PIXELS = 4096 * 4096  # a single-cell crop far larger than this is refused before decoding


class BadImage(ValueError):
    """A file that cannot be used as a single-cell image; the message says why."""


def _tiff_shape(path: Path) -> tuple[int, ...]:
    import tifffile

    with tifffile.TiffFile(path) as tf:
        return tuple(tf.series[0].shape)


def _read_tiff(path: Path, max_pixels: int) -> np.ndarray:
    import tifffile

    shape = _tiff_shape(path)
    plane = sorted(shape)[-2:] if len(shape) >= 2 else shape  # height x width, channels aside
    if int(np.prod(plane)) > max_pixels or int(np.prod(shape)) > max_pixels * 16:
        raise BadImage(f"image is {'x'.join(map(str, shape))}, far larger than a single-cell crop")
    a = tifffile.imread(path)
    if a.ndim == 3 and a.shape[0] <= 8 and a.shape[-1] > 8:  # (C, H, W) -> (H, W, C)
        a = np.moveaxis(a, 0, -1)
    return a


def _read_pil(path: Path, max_pixels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        if im.width * im.height > max_pixels:
            raise BadImage(f"image is {im.width}x{im.height}, far larger than a single-cell crop")
        if im.mode in ("I;16", "I;16B", "I;16L"):
            a = np.array(im, dtype=np.uint16)
        elif im.mode == "I":
            a = np.array(im)
            a = a.astype(np.uint16) if a.min() >= 0 and a.max() <= 65535 else a.astype(np.float32)
        elif im.mode == "F":
            a = np.array(im, dtype=np.float32)
        elif im.mode in ("L", "RGB"):
            a = np.array(im)
        elif im.mode in ("LA", "RGBA", "P", "1", "CMYK", "YCbCr"):
            a = np.array(im.convert("RGB" if im.mode not in ("LA", "1") else "L"))
        else:
            raise BadImage(f"unsupported picture mode {im.mode}")
    if a.ndim == 3 and a.shape[2] == 3 and (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all():
        a = a[..., :1]  # a grey picture saved as RGB
    return a


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read one image as `(H, W, C)` uint8 / uint16 / float32; raise BadImage with the reason.

    Images with more than `max_pixels` pixels are refused before decoding (memory guard)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise BadImage(f"not an image file type we read ({', '.join(IMAGE_SUFFIXES)})")
    if path.stat().st_size == 0:
        raise BadImage("the file is empty (0 bytes)")
    try:
        a = _read_tiff(path, max_pixels) if path.suffix.lower() in (".tif", ".tiff") else _read_pil(path, max_pixels)
    except BadImage:
        raise
    except Exception as exc:  # truncated, corrupt, or not an image at all
        raise BadImage(f"cannot be read as an image; it may be corrupt or truncated ({type(exc).__name__})") from exc
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.size == 0:
        raise BadImage(f"unexpected image shape {a.shape}; expected height x width (x channels)")
    if a.dtype.kind == "f":
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise BadImage("contains NaN or infinite pixel values")
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype not in (np.uint8, np.uint16):
        if a.min() < 0 or a.max() > 65535:
            a = a.astype(np.float32)
        else:
            a = a.astype(np.uint16)
    return a


def fit_to(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre-crop or pad (with the image's minimum) to `(h, w)`, keeping the cell centred."""
    out = np.full((h, w, image.shape[2]), image.min(), image.dtype)
    ih, iw = image.shape[:2]
    sh, sw = min(h, ih), min(w, iw)
    y0, x0 = (ih - sh) // 2, (iw - sw) // 2
    oy, ox = (h - sh) // 2, (w - sw) // 2
    out[oy:oy + sh, ox:ox + sw] = image[y0:y0 + sh, x0:x0 + sw]
    return out
