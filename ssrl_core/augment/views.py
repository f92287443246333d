"""Turn a recipe into random views of a cell image, reproducibly.

`ViewMaker(recipe)(image, seed)` returns one augmented view, float32 in [0, 1], `(h, w, C)` for
any channel count C. The albumentations pipeline is built once per input shape and cached; the
random state is reset from `seed` on every call (one numpy Generator and one `random.Random`
shared by all steps), so a view depends only on (recipe, image, seed): not on global random
state, call order, thread or DataLoader worker. `TwoViews` makes the two views of a
self-supervised pair (SimCLR, Chen et al. 2020; Bendidi et al. 2024 use one recipe per loss).
"""

from __future__ import annotations

import random
import threading
from typing import Any

import albumentations as A
import cv2
import numpy as np

from ssrl_core.data.cellset import channel_ranges, to_unit_float

from .catalog import CATALOG
from .recipe import Recipe, channel_problems
from .spec import RecipeError


def as_unit_float(image: np.ndarray) -> np.ndarray:
    """A `(H, W, C)` float32 image in [0, 1] from any input.

    float32/float64 images already inside [0, 1] are used as they are (rounding errors up to
    0.001 outside it are clipped). Other images (uint8,
    uint16, floats outside [0, 1]) are scaled per channel between their own 0.5th and 99.5th
    percentiles, with `ssrl_core.data.cellset.channel_ranges`/`to_unit_float`. That is a
    fallback for a single picture: for a data set, scale with the ranges of the whole set first
    (`channel_ranges(cells.images)`), or brightness differences between cells are erased.
    A 2-D image is treated as one channel.
    """
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or min(img.shape) < 1:
        raise ValueError(f"expected one image shaped (height, width, channels), got an array of shape {img.shape}")
    if img.dtype.kind == "f" and np.isfinite(img).all() and img.min() >= -1e-3 and img.max() <= 1.0 + 1e-3:
        out = np.ascontiguousarray(img, dtype=np.float32)
        return out if out.min() >= 0.0 and out.max() <= 1.0 else np.clip(out, 0.0, 1.0)
    if img.dtype.kind not in "uif":
        raise ValueError(f"cannot augment pixels of type {img.dtype}; use integer or floating-point images")
    lo, hi = channel_ranges(img[None])
    return np.ascontiguousarray(to_unit_float(img, lo, hi))


def _seed_pair(seed: int, stream: int) -> int:
    """A well-mixed 63-bit seed for view number `stream` of `seed` (independent streams)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, stream]).generate_state(2, np.uint64)[0] >> 1)


def _last_resize(recipe: Recipe) -> int | None:
    """The size of the last enabled `resize` step: the output size when none is given."""
    sizes = [s.params["size"] for s in recipe.steps if s.name == "resize" and s.enabled and s.p > 0]
    return sizes[-1] if sizes else None


class ViewMaker:
    """Callable `(image, seed) -> view` for one recipe; `out_size` overrides `recipe.out_size`.

    The output is square `(out_size, out_size, C)` when a size is set (here, else in
    `recipe.out_size`, else by the recipe's last `resize` step), else the input's `(H, W, C)`.
    Pickles cleanly (the cached pipeline is rebuilt in each process); safe to share by threads.
    The recipe is checked here unless it was checked before and not changed since (a run
    config's recipes are parsed and checked once, when the config is built: `Recipe.validate`).
    """

    def __init__(self, recipe: Recipe, out_size: int | None = None):
        recipe.validate()  # a no-op for a recipe already checked and unchanged
        self.recipe = recipe.copy()
        size = out_size if out_size is not None else recipe.out_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise RecipeError(f"the output size must be a whole, positive number of pixels, got {size!r}")
        self.out_size = None if size is None else int(size)
        self._cache: dict[tuple[int, int, int], A.Compose] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "out_size": self.out_size}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.recipe, self.out_size = state["recipe"], state["out_size"]
        self._cache, self._lock = {}, threading.Lock()

    def pipeline(self, height: int, width: int, channels: int) -> list[tuple[str, A.Compose]]:
        """The albumentations pipeline for inputs of this shape (built once, then cached): one
        `(draw, Compose)` segment per run of consecutive steps with the same `draw`."""
        key = (height, width, channels)
        if key not in self._cache:
            problems = channel_problems(self.recipe, channels)
            if problems:
                raise RecipeError(problems)
            segments: list[tuple[str, list]] = []
            h, w = height, width
            for step in self.recipe.steps:
                if not step.enabled or step.p <= 0:
                    continue
                built, (h, w) = CATALOG[step.name].build(step.params, h, w, channels)
                if step.p < 1:
                    built = [A.Sequential(built, p=step.p)]
                if not segments or segments[-1][0] != step.draw:
                    segments.append((step.draw, []))
                segments[-1][1].extend(built)
            size = self.out_size or _last_resize(self.recipe)
            oh, ow = (size, size) if size else (height, width)
            if (h, w) != (oh, ow):
                small = oh * ow < h * w
                if not segments:
                    segments.append(("view", []))
                segments[-1][1].append(A.Resize(oh, ow, interpolation=cv2.INTER_AREA if small else cv2.INTER_LINEAR,
                                                p=1.0))
            self._cache[key] = [(draw, A.Compose(t, p=1.0, is_check_shapes=False, strict=False))
                                for draw, t in segments or [("view", [])]]
        return self._cache[key]

    def __call__(self, image: np.ndarray, seed: int, pair_seed: int | None = None) -> np.ndarray:
        """One view; steps with `draw: pair` draw from `pair_seed` (the same for both views of a
        pair), the others from `seed`. Without `pair_seed` every step draws from `seed`."""
        img = as_unit_float(image)
        h, w, c = img.shape
        with self._lock:
            segments = self.pipeline(h, w, c)
            out = img
            for k, (draw, pipe) in enumerate(segments):
                base = pair_seed if draw == "pair" and pair_seed is not None else seed
                key = int(base) & 0xFFFFFFFFFFFFFFFF  # any int, negative ones included
                if len(segments) > 1:  # independent streams per segment; one segment keeps the plain seed
                    key = _seed_pair(key, 1000 + k)
                pipe.set_random_state(np.random.default_rng(key), random.Random(key))
                out = pipe(image=out)["image"]
        if out.ndim == 2:
            out = out[..., None]
        out = np.clip(out, 0.0, 1.0, out=np.array(out, dtype=np.float32, copy=True))
        return np.ascontiguousarray(out)


def make_views(recipe: Recipe, image: np.ndarray, n: int, seed: int = 0,
               out_size: int | None = None) -> list[np.ndarray]:
    """`n` views of one image; view i uses a seed derived from (seed, i), so results repeat."""
    maker = ViewMaker(recipe, out_size)
    img = as_unit_float(image)
    return [maker(img, _seed_pair(seed, i)) for i in range(n)]


class TwoViews:
    """The two views of a self-supervised pair: view 1 from `recipe_a`, view 2 from `recipe_b`
    (or `recipe_a` again). The size is `out_size`, else a recipe's `out_size`, else a recipe's
    last `resize` step (recipe_a first), else the input size: both views always share one size
    so they batch together."""

    def __init__(self, recipe_a: Recipe, recipe_b: Recipe | None = None, out_size: int | None = None):
        both = [recipe_a] + ([recipe_b] if recipe_b is not None else [])
        candidates = [out_size] + [r.out_size for r in both] + [_last_resize(r) for r in both]
        size = next((s for s in candidates if s is not None), None)
        self.a = ViewMaker(recipe_a, size)
        self.b = ViewMaker(recipe_b if recipe_b is not None else recipe_a, size)

    def __call__(self, image: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        img = as_unit_float(image)
        pair = _seed_pair(seed, 2)
        return self.a(img, _seed_pair(seed, 0), pair), self.b(img, _seed_pair(seed, 1), pair)
