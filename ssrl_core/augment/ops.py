"""Channel-agnostic transforms that albumentations does not offer in the form we need.

`BrightnessContrast` follows torchvision's ColorJitter brightness/contrast semantics (the
"colour jitter" of SimCLR, Chen et al. 2020, and of the microscopy sets of Bendidi et al. 2024,
section 3.4), but works on any number of channels and can jitter each channel independently,
which suits fluorescence stains that vary independently. It draws its random numbers from the
generators albumentations gives every transform, so `Compose` seeding covers it.
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import numpy as np
from albumentations import ImageOnlyTransform


class BrightnessContrast(ImageOnlyTransform):
    """Multiply by a brightness factor in [1-b, 1+b], then scale contrast around the mean by
    a factor in [1-c, 1+c]; one factor pair for all channels, or one per channel."""

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4,
                 per_channel: bool = False, p: float = 1.0):
        super().__init__(p=p)
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.per_channel = bool(per_channel)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        n = data["image"].shape[-1] if self.per_channel else 1
        rng = self.random_generator
        b = rng.uniform(1.0 - self.brightness, 1.0 + self.brightness, size=n)
        c = rng.uniform(1.0 - self.contrast, 1.0 + self.contrast, size=n)
        return {"b": b.astype(np.float32), "c": c.astype(np.float32)}

    def apply(self, img: np.ndarray, b: np.ndarray, c: np.ndarray, **params: Any) -> np.ndarray:
        out = img.astype(np.float32, copy=True) if img.ndim == 3 else img[..., None].astype(np.float32)
        out *= b
        mean = out.mean(axis=(0, 1), keepdims=True)
        out = mean + c * (out - mean)
        np.clip(out, 0.0, 1.0, out=out)
        return out if img.ndim == 3 else out[..., 0]

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("brightness", "contrast", "per_channel")


class Erasing(A.Erasing):
    """albumentations' Random Erasing (Zhong et al. 2020), fixed for one corner case: when no
    rectangle of the requested area and ratio fits the image, 2.0.8 returns no `seed` and fails;
    here the image is then left unchanged, as torchvision does."""

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        out = super().get_params_dependent_on_data(params, data)
        out.setdefault("seed", 0)  # no holes: the seed is unused
        return out
