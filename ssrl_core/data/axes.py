"""Which axis of a TIFF holds the channels: the file's own axes first, the user's choice when unclear.

`tifffile` names every axis of a file's first series (`series[0].axes`): `Y`, `X`, `C` channels,
`S` samples (the colour planes of an RGB file), `Z` focal planes, `T` time points, and `Q` or
`I` when the file does not say (a plain multi-page TIFF). OME-TIFF and ImageJ files say it; so do
RGB files. A single-cell image here is one plane with its channels, `(H, W, C)`:

- `C` and `S` axes are channels; axes of length 1 are dropped.
- `Z` or `T` axes longer than 1 (a z-stack, a movie) are refused with the file's own words:
  one plane per cell image is read, so save a projection or one plane (or say, with
  `channel_axis="first"`, that the planes are channels after all).
- An axis the file does not name (`Q`, `I`) is settled by `channel_axis`: "first" (pages are
  channels: `(C, H, W)`), "last" (`(H, W, C)`) or "auto", which decides only when one reading is
  clearly right (at most 8 pages of a larger plane are channels; a last axis of at most 8 values
  after a larger plane is channels) and otherwise refuses, saying how to choose: a 50-page stack
  of 32x32 may be 50 channels, 50 focal planes or 50 time points, and guessing cuts it wrongly.
"""

from __future__ import annotations

import numpy as np

CHOICES = ("auto", "first", "last")
MAX_GUESSED = 8  # at most this many unnamed pages are taken for channels without asking
CHOICE_HELP = ("say where the channels are: --channel-axis first (each page is a channel) or last "
               "(the last axis is the channels); on the Data page, the choice 'Channels in multi-page TIFFs'")
_NAMES = {"Z": "focal planes (a z-stack)", "T": "time points (a movie)", "R": "tiles", "H": "lifetime bins",
          "E": "lambda bins", "V": "views", "A": "angles", "P": "phases", "L": "exposures"}


class AxisError(ValueError):
    """A stack whose channel axis cannot be known; the message says how to choose."""


def to_hwc(a: np.ndarray, axes: str, channel_axis: str = "auto") -> np.ndarray:
    """`a` (with tifffile's `axes` letters) as `(H, W, C)`; AxisError when it cannot be known."""
    if channel_axis not in CHOICES:
        raise ValueError(f"channel_axis must be one of {', '.join(CHOICES)}, not {channel_axis!r}")
    axes = axes.upper()
    if len(axes) != a.ndim:  # tifffile did not describe this array: treat every axis as unnamed
        axes = "Q" * (a.ndim - 2) + "YX" if a.ndim >= 2 else "X"
    keep = [i for i, n in enumerate(a.shape) if n != 1 or axes[i] in "YX"]
    a = a.reshape([a.shape[i] for i in keep])
    axes = "".join(axes[i] for i in keep)
    if a.ndim == 2:
        return a[..., None]
    if channel_axis != "auto":
        return _chosen(a, channel_axis)
    if "Y" in axes and "X" in axes:
        rest = [ax for ax in axes if ax not in "YXCS"]
        named = [ax for ax in rest if ax not in "QI"]
        if named:
            ax = named[0]
            n = a.shape[axes.index(ax)]
            raise AxisError(f"holds {n} {_NAMES.get(ax, f'{ax} planes')} ({axes} {'x'.join(map(str, a.shape))}); a cell "
                            "image is one plane with its channels: save a projection (e.g. Fiji's Z Project, max) or "
                            "one plane, or if these planes are channels, read it with --channel-axis first")
        if not rest:
            order = [axes.index("Y"), axes.index("X")] + [i for i, ax in enumerate(axes) if ax in "CS"]
            out = np.transpose(a, order)
            return out.reshape(out.shape[0], out.shape[1], -1)
        if len(rest) == 1 and not any(ax in "CS" for ax in axes) and a.ndim == 3:
            return _guess(a)
    if a.ndim == 3:
        return _guess(a)
    raise AxisError(f"has {a.ndim} axes ({axes or '?'} {'x'.join(map(str, a.shape))}); a cell image is height x width "
                    "x channels: save one plane with its channels per file")


def _chosen(a: np.ndarray, channel_axis: str) -> np.ndarray:
    """The user's choice applied to a 3-D stack (more axes are refused: the choice names one)."""
    if a.ndim != 3:
        raise AxisError(f"has {a.ndim} axes ({'x'.join(map(str, a.shape))}); --channel-axis settles one extra axis, "
                        "so save one plane with its channels per file")
    return np.moveaxis(a, 0, -1) if channel_axis == "first" else a


def _guess(a: np.ndarray) -> np.ndarray:
    """An unnamed 3-D stack, read only when one reading is clearly right (see the module docstring)."""
    first, last = a.shape[0], a.shape[-1]
    plane_first, plane_last = min(a.shape[1:]), min(a.shape[:2])
    if first <= MAX_GUESSED < plane_first and last > MAX_GUESSED:
        return np.moveaxis(a, 0, -1)
    if last <= MAX_GUESSED < plane_last and first > MAX_GUESSED:
        return a
    raise AxisError(f"is a stack of {'x'.join(map(str, a.shape))} that does not say which axis holds the channels "
                    f"(they could be {first} pages of {a.shape[1]}x{a.shape[2]}, or an image of "
                    f"{a.shape[0]}x{a.shape[1]} with {last} channels; or focal planes or time points): {CHOICE_HELP}")
