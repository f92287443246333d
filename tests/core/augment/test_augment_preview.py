"""The recipe preview (`ssrl_core.augment.preview`): views per cell, LPIPS pairs, plain warnings."""

from __future__ import annotations

import numpy as np

from ssrl_core.augment import Recipe, get_preset
from ssrl_core.augment.preview import blank_fraction, judge, make_preview, pair_distances


def test_preview_function_shapes_seeds_and_warnings():
    rng = np.random.default_rng(0)
    images = rng.random((2, 32, 32, 3)).astype(np.float32)
    a = make_preview(get_preset("microscopy-set-b"), images, 4, seed=1, lpips=None, size=24)
    b = make_preview(get_preset("microscopy-set-b"), images, 4, seed=1, lpips=None, size=24)
    assert len(a.views) == 2 and len(a.views[0]) == 4 and a.views[0][0].shape == (24, 24, 3)
    assert all(np.array_equal(x, y) for r1, r2 in zip(a.views, b.views) for x, y in zip(r1, r2))
    assert any("nearly identical" in w for w in judge(np.array([0.01, 0.02]), 1.0))
    assert any("hardly look like" in w for w in judge(np.array([0.8, 0.9]), 1.0))
    assert any("mostly blank" in w for w in judge(None, 0.1))
    assert judge(np.array([0.2, 0.3]), 0.9) == []
    identity = make_preview(Recipe("none", []), images, 2, 0, None, 32)
    assert np.allclose(identity.views[0][0], identity.views[0][1])


class _FakeLPIPS:
    """Mean absolute difference per pair: enough to check which views are paired."""

    def batch(self, a, b):
        return np.abs(a - b).mean(axis=(1, 2, 3))


def test_pairs_are_views_2k_and_2k_plus_1():
    images = np.random.default_rng(1).random((3, 32, 32, 2)).astype(np.float32)
    prev = make_preview(get_preset("microscopy-set-b"), images, 4, seed=2, lpips=_FakeLPIPS(), size=24)
    assert prev.lpips.shape == (3, 2)
    assert np.isclose(prev.lpips[1, 1], np.abs(prev.views[1][2] - prev.views[1][3]).mean())
    two = make_preview(get_preset("microscopy-set-b"), images, 2, seed=2, lpips=_FakeLPIPS(), size=24)
    d = pair_distances(get_preset("microscopy-set-b"), images, 2, _FakeLPIPS(), size=24)
    assert d.shape == (3,) and np.allclose(d, two.lpips[:, 0])  # the same pairs as a 2-view preview
    assert blank_fraction(np.zeros((4, 4, 2), np.float32)) == 1.0
