"""Item 2 of "The GPU path": each step's batched (torch) form matches its albumentations form in
distribution, on the CPU device.

For every step of the catalog that has a batched form, 300 views of the same real-looking crop
(an off-centre cell with a bright spot, two stains, an intensity ramp) are made by both executors
with one-step recipes, and six statistics of each view are compared (mean, standard deviation,
intensity-weighted centroid x and y, mean gradient, share of zero pixels): their distributions
must be close (`_disagreement`: Wasserstein-1 distance under a quarter of the albumentations
spread, plus a small margin for steps without randomness, whose resampling differs by OpenCV vs
grid_sample rounding). A swapped
step (e.g. a rotation of 90 instead of 15 degrees) fails it: `test_the_comparison_sees_a_wrong_step`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssrl_core.augment import ViewMaker
from ssrl_core.augment.batched import OPS, BatchTwoViews, BatchViews, unsupported
from ssrl_core.augment.recipe import Recipe, Step, default_step

N, SIZE = 300, 32


def _cell() -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    blob = np.exp(-((yy - 12) ** 2 / 40 + (xx - 19) ** 2 / 18))
    spot = np.exp(-((yy - 22) ** 2 + (xx - 9) ** 2) / 4.0)
    return np.stack([0.75 * blob + 0.1 * xx / SIZE, 0.9 * spot + 0.3 * blob], -1).astype(np.float32)


def _stats(v: np.ndarray) -> np.ndarray:
    """(n, 6) statistics of views (n, H, W, C)."""
    m = v.mean(-1)
    w = m.sum((1, 2)) + 1e-6
    yy, xx = np.mgrid[:m.shape[1], :m.shape[2]]
    grad = np.abs(np.diff(m, axis=2)).mean((1, 2)) + np.abs(np.diff(m, axis=1)).mean((1, 2))
    return np.stack([m.mean((1, 2)), m.std((1, 2)), (m * xx).sum((1, 2)) / w, (m * yy).sum((1, 2)) / w, grad,
                     (v.max(-1) < 1e-3).mean((1, 2))], 1)


def _reference(recipe: Recipe) -> np.ndarray:
    maker, cell = ViewMaker(recipe, SIZE), _cell()
    return _stats(np.stack([maker(cell, seed) for seed in range(N)]))


def _batched(recipe: Recipe, seed: int = 0) -> np.ndarray:
    x = torch.from_numpy(_cell()).permute(2, 0, 1)[None].repeat(N, 1, 1, 1)
    views = BatchViews(recipe, SIZE)(x, torch.Generator().manual_seed(seed))
    return _stats(views.permute(0, 2, 3, 1).numpy())


def _disagreement(ref: np.ndarray, got: np.ndarray) -> float:
    """The largest distance between the two distributions over all statistics: the Wasserstein-1
    distance (mean gap of the sorted values) in units of the reference spread (10-90% range) plus
    a margin of 5% of the statistic's size (steps without randomness differ only by resampling)."""
    qr = np.quantile(ref, (0.1, 0.5, 0.9), axis=0)
    scale = (qr[2] - qr[0]) + 0.05 * (np.abs(qr[1]) + 0.05)
    w1 = np.abs(np.sort(ref, axis=0) - np.sort(got, axis=0)).mean(axis=0)
    return float((w1 / scale).max())


STEPS = [n for n in OPS if n not in ("pad", "resize")]  # pad/resize change the size: their own test below


@pytest.mark.parametrize("name", STEPS)
def test_each_batched_step_matches_albumentations_in_distribution(name: str, one_torch_thread) -> None:
    step = default_step(name)
    step.p = 0.5 if name.endswith("flip") or name == "invert" else 1.0
    recipe = Recipe(name, [step])
    assert _disagreement(_reference(recipe), _batched(recipe)) < 0.25, name


def test_size_changing_steps_and_a_preset(one_torch_thread) -> None:
    for recipe in (Recipe("pad", [Step("pad", {"fraction": 0.2}), Step("random_crop", {"fraction": 0.8})]),
                   Recipe("resize", [Step("resize", {"size": 20})])):
        assert _disagreement(_reference(recipe), _batched(recipe)) < 0.25, recipe.name
    from ssrl_core.augment import get_preset

    recipe = get_preset("microscopy-set-a")
    assert _disagreement(_reference(recipe), _batched(recipe)) < 0.25


def test_the_comparison_sees_a_wrong_step(one_torch_thread) -> None:
    ref = _reference(Recipe("r", [Step("rotate", {"degrees": 15.0})]))
    assert _disagreement(ref, _batched(Recipe("r", [Step("rotate", {"degrees": 90.0})]))) > 0.5
    ref = _reference(Recipe("b", [Step("gaussian_blur", {"sigma": [0.1, 0.5]})]))
    assert _disagreement(ref, _batched(Recipe("b", [Step("gaussian_blur", {"sigma": [1.5, 2.0]})]))) > 0.5


def test_pair_draws_are_shared_and_unsupported_steps_are_named() -> None:
    recipe = Recipe("pair", [Step("invert", {}, 0.5, True, "pair"), Step("gaussian_noise", {"std": [0.01, 0.02]})])
    x = torch.rand(64, 2, 16, 16)
    v1, v2 = BatchTwoViews(recipe, 16)(x, seed=3)
    inverted1 = (v1 - (1 - x)).abs().mean((1, 2, 3)) < (v1 - x).abs().mean((1, 2, 3))
    inverted2 = (v2 - (1 - x)).abs().mean((1, 2, 3)) < (v2 - x).abs().mean((1, 2, 3))
    assert torch.equal(inverted1, inverted2) and 10 < int(inverted1.sum()) < 54
    assert not torch.equal(v1, v2)  # the noise is drawn per view
    assert unsupported(Recipe("h", [Step("hue_saturation", {})])) == ["hue_saturation has no batched form"]
    assert "several sizes" in unsupported(Recipe("p", [Step("pad", {}, 0.5)]))[0]
    with pytest.raises(ValueError, match="cannot make views in batches"):
        BatchViews(Recipe("h", [Step("hue_saturation", {})]), 16)
