"""Recipe steps drawn once per view (default) or once per pair (`draw: pair`)."""

from __future__ import annotations

import numpy as np
import pytest

from ssrl_core.augment import Recipe, RecipeError, TwoViews, get_preset
from ssrl_core.augment.preview import make_preview
from ssrl_core.augment.recipe import describe


def _image() -> np.ndarray:
    yy, xx = np.mgrid[:32, :32]
    return (((yy - 12) ** 2 + (xx - 18) ** 2 < 60) * 0.8 + 0.1).astype(np.float32)[..., None]


def _recipe(draw: str) -> Recipe:
    return Recipe.from_dict({"name": "r", "steps": [
        {"name": "rotate", "params": {"degrees": 180.0}, "p": 1.0},
        {"name": "invert", "p": 0.5, "draw": draw},
        {"name": "horizontal_flip", "p": 0.5}]})


def test_pair_draw_gives_both_views_the_same_inversion_and_view_draw_does_not() -> None:
    img = _image()
    polarity = lambda v: v[0, 0, 0] > 0.5  # noqa: E731  the corner is background: bright only if inverted
    agree = {d: np.mean([polarity(a) == polarity(b) for a, b in (TwoViews(_recipe(d), out_size=32)(img, s)
                                                                for s in range(120))]) for d in ("view", "pair")}
    assert agree["pair"] == 1.0
    assert 0.3 < agree["view"] < 0.7  # independent draws agree about half the time
    # the per-view steps still differ between the two views of a pair
    a, b = TwoViews(_recipe("pair"), out_size=32)(img, 3)
    assert not np.array_equal(a, b)


def test_draw_round_trips_through_yaml_and_old_recipes_are_unchanged() -> None:
    r = _recipe("pair")
    back = Recipe.from_yaml(r.to_yaml())
    assert back.to_dict() == r.to_dict() and back.steps[1].draw == "pair"
    assert "draw" not in r.to_dict()["steps"][0]  # the default is not written: older YAML reads the same
    img = _image()
    for s in (0, 7):
        a1, b1 = TwoViews(r, out_size=32)(img, s)
        a2, b2 = TwoViews(back, out_size=32)(img, s)
        assert np.array_equal(a1, a2) and np.array_equal(b1, b2)
    plain = _recipe("view")
    v_old = TwoViews(plain, out_size=32)(img, 11)
    v_new = TwoViews(Recipe.from_yaml(plain.to_yaml()), out_size=32)(img, 11)
    assert all(np.array_equal(x, y) for x, y in zip(v_old, v_new))


def test_bad_draw_is_a_plain_problem_and_describe_says_it() -> None:
    with pytest.raises(RecipeError, match="'draw' must be 'view'"):
        Recipe.from_dict({"name": "r", "steps": [{"name": "invert", "draw": "both"}]})
    assert "the same for both views of a pair" in describe(_recipe("pair"))


def test_mnist_set1_inverts_pairs_together_and_the_preview_pairs_views() -> None:
    step = next(s for s in get_preset("mnist-set1").steps if s.name == "invert")
    assert step.draw == "pair"
    img = _image()
    views = make_preview(_recipe("pair"), img[None], 6, seed=1).views[0]
    assert all((views[2 * k][0, 0, 0] > 0.5) == (views[2 * k + 1][0, 0, 0] > 0.5) for k in range(3))
