"""Named recipes from Bendidi et al. 2024 and the usual SimCLR/BYOL defaults.

- `mnist-set1` / `mnist-set2`: the two MNIST sets of section 3.2 (Table 2, Figure 4): set 1
  keeps the digit (padding, inversion drawn once per pair, slight rotation, random crop); set 2 destroys part of it
  (vertical flip, strong rotation, random crop, random erasing).
- `microscopy-set-a` / `microscopy-set-b`: the two BBBC021 sets of sections 3.3-3.4 (Table 3,
  Figures 6-7): A = colour jitter, flips, rotation, affine, random crop; B = 360-degree rotation,
  centre crop keeping 50% around the central cell, colour jitter, flips.
- `simclr` / `byol`: the usual SSL defaults adapted to any channel count: brightness/contrast
  jitter replaces colour (hue/saturation) jitter and grayscale, which need RGB.

The parameter values, and why, are documented in docs/recipes.md. Each preset carries its own
description (the paper's words where it is a paper recipe): `ssrl recipe list`, the Augment page
and a saved recipe YAML (`description:`) all show this one text.
"""

from __future__ import annotations

from .recipe import Recipe, Step
from .spec import RecipeError


def _s(name: str, p: float = 1.0, draw: str = "view", **params) -> Step:
    return Step(name, params, float(p), True, draw)


def _build() -> dict[str, Recipe]:
    jitter = dict(brightness=0.4, contrast=0.4, per_channel=False)
    return {r.name: r for r in [
        Recipe("mnist-set1", [
            _s("pad", fraction=0.15, border="constant"),
            _s("rotate", degrees=15.0, border="constant"),
            _s("random_crop", fraction=0.78),
            _s("invert", p=0.5, draw="pair"),
        ], None, "MNIST set 1 (Bendidi et al. 2024, section 3.2): \"padding, color inversion, slight rotation, "
                 "and random cropping\", which \"aims to maximize the intra-class overlap of digits\": the digit "
                 "stays whole, so the encoder learns which digit it is. The inversion is drawn once per pair "
                 "(both views share one polarity)."),
        Recipe("mnist-set2", [
            _s("vertical_flip", p=0.5),
            _s("rotate", degrees=180.0, border="constant"),
            _s("random_crop", fraction=0.7),
            _s("random_erasing", p=0.5, scale=[0.02, 0.33], ratio=[0.3, 3.3], fill="zero"),
        ], None, "MNIST set 2 (Bendidi et al. 2024, section 3.2): \"vertical flips, strong rotation, random "
                 "cropping, and random erasing\" destroy part of the digit; the clusters then follow "
                 "\"handwriting attributes such as line thickness and writing flow\" rather than the digit."),
        Recipe("microscopy-set-a", [
            _s("brightness_contrast", p=0.8, **jitter),
            _s("horizontal_flip", p=0.5),
            _s("vertical_flip", p=0.5),
            _s("rotate", degrees=30.0, border="constant"),
            _s("affine", scale=[0.9, 1.1], translate=0.1, shear=10.0, border="constant"),
            _s("random_resized_crop", scale=[0.5, 1.0], ratio=[0.75, 4 / 3]),
        ], None, "Microscopy set A (Bendidi et al. 2024, sections 3.3-3.4, Figure 6a): \"color jitter, flips, "
                 "rotation, and affine, in addition to random crops\", which \"results in clustering images by "
                 "the number and size of cells, rather than by morphological features\"."),
        Recipe("microscopy-set-b", [
            _s("rotate", degrees=360.0, border="constant"),
            _s("center_crop", fraction=0.5),
            _s("brightness_contrast", p=0.8, **jitter),
            _s("horizontal_flip", p=0.5),
            _s("vertical_flip", p=0.5),
        ], None, "Microscopy set B (Bendidi et al. 2024, sections 3.3-3.4, Figure 6b): rotations of any angle "
                 "and \"a center crop that preserves 50% of the image around the central cell\", with colour "
                 "jitter and flips; the clusters follow the central cell's phenotype (\"rotation-invariant "
                 "features and the cellular center\")."),
        Recipe("simclr", [
            _s("random_resized_crop", scale=[0.08, 1.0], ratio=[0.75, 4 / 3]),
            _s("horizontal_flip", p=0.5),
            _s("brightness_contrast", p=0.8, brightness=0.8, contrast=0.8, per_channel=False),
            _s("gaussian_blur", p=0.5, sigma=[0.1, 2.0]),
        ], None, "SimCLR's usual recipe for photos (Chen et al. 2020), made to work on any number of "
                 "channels: random resized crop, flip, brightness/contrast jitter (strength 1; no hue, "
                 "saturation or grayscale, which need colour photos) and blur. Not a recipe of the paper."),
        Recipe("byol", [
            _s("random_resized_crop", scale=[0.08, 1.0], ratio=[0.75, 4 / 3]),
            _s("horizontal_flip", p=0.5),
            _s("brightness_contrast", p=0.8, brightness=0.4, contrast=0.4, per_channel=False),
            _s("gaussian_blur", p=1.0, sigma=[0.1, 2.0]),
        ], None, "BYOL's usual recipe for photos (Grill et al. 2020, its first view), made to work on any "
                 "number of channels: random resized crop, flip, brightness/contrast jitter (no hue, "
                 "saturation or grayscale) and blur. Not a recipe of the paper."),
    ]}


PRESETS: dict[str, Recipe] = _build()


def get_preset(name: str) -> Recipe:
    """A copy of the preset called `name` (safe to edit)."""
    if name not in PRESETS:
        raise RecipeError(f"unknown preset '{name}'; available: {', '.join(PRESETS)}")
    return PRESETS[name].copy()
