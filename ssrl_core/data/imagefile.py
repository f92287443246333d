"""Reading one single-cell image file (TIFF, PNG, JPG) into `(H, W, C)` with checks.

Every failure is a `BadImage` whose message names the reason in plain words, so a folder
loader can skip the file, carry on, and report it. The size is read from the file's header
(`image_header`: shape and pixel type, nothing decoded) and an image over the pixel budget is
refused before decoding, so a small compressed file can never expand to gigabytes in memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssrl_core.data.axes import AxisError, to_hwc
from ssrl_core.data.names import IMAGE_SUFFIXES

MAX_PIXELS = 4096 * 4096  # a single-cell crop far larger than this is refused before decoding
MAX_BYTES = 32 << 20  # decoded size of one crop (shape x dtype); 2048x2048 float32 fits
# A whole field for nucleus detection, which needs about 40 bytes of work per pixel (2.7 GB here);
# decoded, a field may hold up to 16 bytes per pixel (e.g. 4 float32 or 8 uint16 channels).
FIELD_PIXELS = 8192 * 8192
FIELD_BYTES_PER_PIXEL = 16
# PIL modes: bytes per pixel once read (P, LA, RGBA, CMYK, YCbCr become RGB or L)
_PIL_BYTES = {"1": 1, "L": 1, "P": 3, "LA": 1, "RGB": 3, "RGBA": 3, "CMYK": 3, "YCbCr": 3, "I": 4, "F": 4,
              "I;16": 2, "I;16B": 2, "I;16L": 2}


class BadImage(ValueError):
    """A file that cannot be used as a single-cell image; the message says why."""


def image_header(path: str | Path) -> tuple[tuple[int, ...], int]:
    """`(shape, decoded bytes)` of an image from its header alone (no pixel is decoded).

    TIFF: the first series' shape and dtype; PNG/JPG: (height, width, bands) and the bytes per
    pixel of the array `read_image` makes. Raises BadImage when the header cannot be read."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tf:
                series = tf.series[0]
                shape = tuple(int(x) for x in series.shape)
                return shape, int(np.prod(shape, dtype=object)) * np.dtype(series.dtype).itemsize
        from PIL import Image

        with Image.open(path) as im:
            bands = len(im.getbands())
            return (im.height, im.width, bands), im.width * im.height * _PIL_BYTES.get(im.mode, 4 * bands)
    except Exception as exc:  # not an image, truncated header, a decompression bomb PIL refuses
        raise BadImage(f"cannot be read as an image; it may be corrupt or truncated ({type(exc).__name__})") from exc


def check_budget(path: str | Path, max_pixels: int = MAX_PIXELS, max_bytes: int | None = MAX_BYTES,
                 what: str = "a single-cell crop") -> tuple[int, ...]:
    """The header's shape, or BadImage when the image has more than `max_pixels` pixels per
    plane or decodes to more than `max_bytes` bytes (size and limit in the message)."""
    shape, nbytes = image_header(path)
    plane = sorted(shape)[-2:] if len(shape) >= 2 else shape  # height x width, channels aside
    pixels = int(np.prod(plane, dtype=object))
    dims = "x".join(map(str, shape))
    if pixels > max_pixels:
        raise BadImage(f"image is {dims} ({pixels:,} pixels per plane), larger than the limit of {max_pixels:,} "
                       f"for {what}; it was not decoded")
    if max_bytes is not None and nbytes > max_bytes:
        raise BadImage(f"image is {dims} and would take {nbytes / 2**20:,.0f} MiB decoded, larger than the limit of "
                       f"{max_bytes / 2**20:,.0f} MiB for {what}; it was not decoded")
    return shape


def _read_tiff(path: Path, channel_axis: str = "auto") -> np.ndarray:
    """The first series as `(H, W, C)`, its axes read from the file (`ssrl_core.data.axes`)."""
    import tifffile


    with tifffile.TiffFile(path) as tf:
        series = tf.series[0]
        a, axes = series.asarray(), series.axes
    try:
        return to_hwc(a, axes, channel_axis)
    except AxisError as exc:
        raise BadImage(str(exc)) from None


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
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


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS, max_bytes: int | None = MAX_BYTES,
               what: str = "a single-cell crop", channel_axis: str = "auto") -> np.ndarray:
    """Read one image as `(H, W, C)` uint8 / uint16 / float32; raise BadImage with the reason.

    Images with more than `max_pixels` pixels per plane, or more than `max_bytes` once decoded,
    are refused from their header, before decoding (`check_budget`). A TIFF's channels are
    found from its own axes; `channel_axis` ("auto", "first", "last") settles a stack that does
    not say (`ssrl_core.data.axes`). Complex pixels (a Fourier transform, not intensities) are
    refused rather than cut to their real part."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise BadImage(f"not an image file type we read ({', '.join(IMAGE_SUFFIXES)})")
    if path.stat().st_size == 0:
        raise BadImage("the file is empty (0 bytes)")
    check_budget(path, max_pixels, max_bytes, what)
    try:
        a = _read_tiff(path, channel_axis) if path.suffix.lower() in (".tif", ".tiff") else _read_pil(path)
    except BadImage:
        raise
    except Exception as exc:  # truncated, corrupt, or not an image at all
        raise BadImage(f"cannot be read as an image; it may be corrupt or truncated ({type(exc).__name__})") from exc
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.size == 0:
        raise BadImage(f"unexpected image shape {a.shape}; expected height x width (x channels)")
    if a.dtype.kind == "c":
        raise BadImage(f"holds complex numbers ({a.dtype}), not intensities (e.g. a Fourier transform); save the "
                       "magnitude (abs) or the real part as a float image")
    if a.dtype.kind not in "fbui":
        raise BadImage(f"holds values of type {a.dtype}, not pixel intensities")
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


def read_field_image(path: str | Path, max_pixels: int = FIELD_PIXELS, channel_axis: str = "auto") -> np.ndarray:
    """`read_image` with the budget of a whole field (`max_pixels` per plane)."""
    return read_image(path, max_pixels, max_pixels * FIELD_BYTES_PER_PIXEL, "a whole field", channel_axis)


def fit_to(image: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre-crop or pad (with the image's minimum) to `(h, w)`, keeping the cell centred."""
    out = np.full((h, w, image.shape[2]), image.min(), image.dtype)
    ih, iw = image.shape[:2]
    sh, sw = min(h, ih), min(w, iw)
    y0, x0 = (ih - sh) // 2, (iw - sw) // 2
    oy, ox = (h - sh) // 2, (w - sw) // 2
    out[oy:oy + sh, ox:ox + sw] = image[y0:y0 + sh, x0:x0 + sw]
    return out
