"""The curated catalog of transforms a recipe may use, built on albumentations 2.x.

Each entry is a `TransformSpec`: a plain-words description for biologists, typed parameters
(`Param`) with ranges and defaults, and a builder that turns a step into albumentations
transforms for a known image size. The set covers the transformations studied by Bendidi et
al. 2024 (sections 3.2-3.4: padding, inversion, rotation, crops, erasing, flips, affine,
colour jitter) plus the SimCLR/BYOL ingredients (random resized crop, blur, noise).

Every spatial step keeps its input size (crops are resized back), except `pad` (grows the image)
and `resize`; the view maker ends with a resize to the requested output size.
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import cv2

from ssrl_core.params import Param

from .ops import BrightnessContrast, Erasing
from .spec import TransformSpec

BORDERS = {"constant": cv2.BORDER_CONSTANT, "reflect": cv2.BORDER_REFLECT_101, "edge": cv2.BORDER_REPLICATE}
_BORDER = Param("choice", "constant", "How to fill the corners that the transform uncovers: constant = "
                "black (zero), reflect = mirror the image, edge = repeat the border pixels.",
                choices=tuple(BORDERS), label="Fill uncovered area")


def _side(n: int, fraction: float) -> int:
    return max(1, min(n, int(round(n * fraction))))


def _crop_then_resize(crop: A.BasicTransform, h: int, w: int) -> list:
    return [crop, A.Resize(h, w, interpolation=cv2.INTER_LINEAR, p=1.0)]


def _b_rotate(q: dict, h: int, w: int, c: int):
    d = q["degrees"]
    return [A.Rotate(limit=(-d, d), border_mode=BORDERS[q["border"]], fill=0.0, p=1.0)], (h, w)


def _b_affine(q: dict, h: int, w: int, c: int):
    t, s = q["translate"], q["shear"]
    return [A.Affine(scale=tuple(q["scale"]), translate_percent=(-t, t), shear=(-s, s),
                     border_mode=BORDERS[q["border"]], fill=0.0, p=1.0)], (h, w)


def _b_rrc(q: dict, h: int, w: int, c: int):
    return [A.RandomResizedCrop(size=(h, w), scale=tuple(q["scale"]), ratio=tuple(q["ratio"]), p=1.0)], (h, w)


def _b_random_crop(q: dict, h: int, w: int, c: int):
    f = q["fraction"]
    return _crop_then_resize(A.RandomCrop(_side(h, f), _side(w, f), p=1.0), h, w), (h, w)


def _b_center_crop(q: dict, h: int, w: int, c: int):
    f = q["fraction"]
    return _crop_then_resize(A.CenterCrop(_side(h, f), _side(w, f), p=1.0), h, w), (h, w)


def _b_pad(q: dict, h: int, w: int, c: int):
    py, px = int(round(h * q["fraction"])), int(round(w * q["fraction"]))
    # albumentations order: (left, top, right, bottom)
    return [A.Pad(padding=(px, py, px, py), border_mode=BORDERS[q["border"]], fill=0.0, p=1.0)], (h + 2 * py, w + 2 * px)


def _b_hue(q: dict, h: int, w: int, c: int):
    return [A.ColorJitter(brightness=0.0, contrast=0.0, saturation=q["saturation"], hue=q["hue"], p=1.0)], (h, w)


def _b_channel_dropout(q: dict, h: int, w: int, c: int):
    hi = max(1, min(q["max_channels"], c - 1))
    return [A.ChannelDropout(channel_drop_range=(1, hi), fill=0.0, p=1.0)], (h, w)


def _b_resize(q: dict, h: int, w: int, c: int):
    s = q["size"]
    return [A.Resize(s, s, interpolation=cv2.INTER_AREA if s < min(h, w) else cv2.INTER_LINEAR, p=1.0)], (s, s)


def _rng(v: list) -> str:
    return f"{v[0]:g} to {v[1]:g}"


def _entry(name: str, title: str, description: str, params: dict[str, Param], build, say,
           default_p: float = 1.0, **kw: Any) -> TransformSpec:
    return TransformSpec(name, title, description, params, build, say, default_p, **kw)


_ENTRIES = [
    _entry("rotate", "Rotation", "Turns the cell by a random angle; 180 or more allows any orientation.",
           {"degrees": Param("float", 180.0, "Largest angle in degrees; the angle is drawn between "
                             "-degrees and +degrees.", 0.0, 360.0, label="Max angle (degrees)"),
            "border": _BORDER},
           _b_rotate, lambda q: f"rotate by a random angle of up to ±{q['degrees']:g}°"),
    _entry("affine", "Affine (zoom, shift, shear)",
           "Zooms, shifts and slants the image a little, like small changes of magnification and position.",
           {"scale": Param("range", [0.9, 1.1], "Zoom factor range (1 = no zoom).", 0.25, 4.0, label="Zoom"),
            "translate": Param("float", 0.1, "Largest shift, as a fraction of the image size.", 0.0, 0.5,
                               label="Max shift (fraction)"),
            "shear": Param("float", 10.0, "Largest slant angle in degrees.", 0.0, 45.0, label="Max shear (degrees)"),
            "border": _BORDER},
           _b_affine, lambda q: (f"zoom by {_rng(q['scale'])}, shift by up to {q['translate']:.0%} and "
                                 f"slant by up to {q['shear']:g}°")),
    _entry("random_resized_crop", "Random resized crop",
           "Cuts out a random rectangle (a random part of the image) and stretches it back to full size.",
           {"scale": Param("range", [0.2, 1.0], "Area of the cut-out, as a fraction of the image area.",
                           0.01, 1.0, label="Area kept"),
            "ratio": Param("range", [0.75, 1.3333333333333333], "Width/height ratio of the cut-out.",
                           0.25, 4.0, label="Aspect ratio")},
           _b_rrc, lambda q: f"cut out a random region covering {_rng(q['scale'])} of the area and resize it back"),
    _entry("random_crop", "Random crop",
           "Keeps a window of fixed size (a fraction of the width and height) at a random position, "
           "so the cell may move off-centre, then resizes it back.",
           {"fraction": Param("float", 0.8, "Side of the window, as a fraction of the image side.", 0.05, 1.0,
                              label="Window side (fraction)")},
           _b_random_crop, lambda q: f"keep a window of {q['fraction']:.0%} of the side at a random position"),
    _entry("center_crop", "Centre crop",
           "Keeps only the middle of the image (the central cell) and resizes it back to full size.",
           {"fraction": Param("float", 0.5, "Side of the kept centre, as a fraction of the image side.",
                              0.05, 1.0, label="Centre side (fraction)")},
           _b_center_crop, lambda q: f"keep the central {q['fraction']:.0%} of the width and height"),
    _entry("horizontal_flip", "Horizontal flip", "Mirrors the image left to right.", {},
           lambda q, h, w, c: ([A.HorizontalFlip(p=1.0)], (h, w)), lambda q: "mirror left to right", 0.5),
    _entry("vertical_flip", "Vertical flip", "Mirrors the image top to bottom.", {},
           lambda q, h, w, c: ([A.VerticalFlip(p=1.0)], (h, w)), lambda q: "mirror top to bottom", 0.5),
    _entry("brightness_contrast", "Brightness/contrast jitter",
           "Makes the stains randomly brighter or dimmer and more or less contrasted (works for any number of channels).",
           {"brightness": Param("float", 0.4, "Brightness factor is drawn in [1-b, 1+b].", 0.0, 1.0,
                                label="Brightness"),
            "contrast": Param("float", 0.4, "Contrast factor is drawn in [1-c, 1+c].", 0.0, 1.0, label="Contrast"),
            "per_channel": Param("bool", False, "Jitter each channel (stain) independently.",
                                 label="Each channel on its own")},
           lambda q, h, w, c: ([BrightnessContrast(q["brightness"], q["contrast"], q["per_channel"], p=1.0)], (h, w)),
           lambda q: (f"change brightness by up to ±{q['brightness']:.0%} and contrast by up to ±{q['contrast']:.0%}"
                      + (", each channel on its own" if q["per_channel"] else "")), 0.8),
    _entry("hue_saturation", "Hue/saturation jitter (RGB only)",
           "Shifts colours and their strength; only meaningful for 3-channel RGB pictures.",
           {"hue": Param("float", 0.1, "Largest hue shift, as a fraction of the colour wheel.", 0.0, 0.5,
                         label="Hue"),
            "saturation": Param("float", 0.4, "Saturation factor is drawn in [1-s, 1+s].", 0.0, 1.0,
                                label="Saturation")},
           _b_hue, lambda q: f"shift hue by up to {q['hue']:g} of the colour wheel and saturation by up to "
                             f"±{q['saturation']:.0%}", 0.8, needs_rgb=True),
    _entry("gaussian_blur", "Gaussian blur", "Blurs the image slightly, like a small loss of focus.",
           {"sigma": Param("range", [0.1, 2.0], "Blur width (standard deviation) in pixels.", 0.05, 10.0,
                           label="Blur width (pixels)")},
           lambda q, h, w, c: ([A.GaussianBlur(blur_limit=0, sigma_limit=tuple(q["sigma"]), p=1.0)], (h, w)),
           lambda q: f"blur with a width of {_rng(q['sigma'])} pixels", 0.5),
    _entry("gaussian_noise", "Gaussian noise", "Adds random pixel noise, like camera noise.",
           {"std": Param("range", [0.01, 0.05], "Noise strength (standard deviation) on the 0-1 intensity scale.",
                         0.0, 0.5, label="Noise strength"),
            "per_channel": Param("bool", True, "Independent noise in each channel.", label="Each channel on its own")},
           lambda q, h, w, c: ([A.GaussNoise(std_range=tuple(q["std"]), per_channel=q["per_channel"], p=1.0)], (h, w)),
           lambda q: f"add noise of strength {_rng(q['std'])}", 0.5),
    _entry("random_erasing", "Random erasing", "Blanks out a random rectangle, hiding part of the cell.",
           {"scale": Param("range", [0.02, 0.33], "Area of the blanked rectangle, as a fraction of the image.",
                           0.001, 0.9, label="Area erased"),
            "ratio": Param("range", [0.3, 3.3], "Width/height ratio of the rectangle.", 0.1, 10.0,
                           label="Aspect ratio"),
            "fill": Param("choice", "zero", "zero = black; random = random noise.", choices=("zero", "random"),
                          label="Fill with")},
           lambda q, h, w, c: ([Erasing(scale=tuple(q["scale"]), ratio=tuple(q["ratio"]),
                                          fill=0.0 if q["fill"] == "zero" else "random", p=1.0)], (h, w)),
           lambda q: f"blank out a random rectangle covering {_rng(q['scale'])} of the area", 0.5),
    _entry("pad", "Padding", "Adds a border around the image (it grows; a later crop or the final resize "
           "brings it back to size).",
           {"fraction": Param("float", 0.15, "Border width on each side, as a fraction of the image side.",
                              0.0, 0.5, label="Border (fraction)"),
            "border": _BORDER},
           _b_pad, lambda q: f"add a {q['border']} border of {q['fraction']:.0%} of the side on each edge"),
    _entry("invert", "Intensity inversion", "Turns dark into bright and bright into dark (1 - value).", {},
           lambda q, h, w, c: ([A.InvertImg(p=1.0)], (h, w)), lambda q: "invert intensities", 0.5),
    _entry("channel_dropout", "Channel dropout", "Blanks one or more whole channels (stains) at random; needs "
           "at least 2 channels.",
           {"max_channels": Param("int", 1, "Largest number of channels blanked at once (at least one "
                                  "channel is always kept).", 1, 8, label="Max channels blanked")},
           _b_channel_dropout, lambda q: f"blank up to {q['max_channels']} whole channel(s)", 0.2, min_channels=2),
    _entry("resize", "Resize", "Resizes the image to a square of the given side in pixels.",
           {"size": Param("int", 64, "Side of the output in pixels.", 4, 1024, label="Size (pixels)")},
           _b_resize, lambda q: f"resize to {q['size']}x{q['size']} pixels"),
]

CATALOG: dict[str, TransformSpec] = {e.name: e for e in _ENTRIES}
