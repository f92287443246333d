"""View makers: seeding, every catalog entry on 1-6 channels and 3 dtypes, semantics, sizes."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from ssrl_core.augment import (
    CATALOG,
    PRESETS,
    Recipe,
    RecipeError,
    Step,
    TwoViews,
    ViewMaker,
    as_unit_float,
    default_step,
    get_preset,
    make_views,
    step_problems,
)

RGB_ONLY = {n for n, s in CATALOG.items() if s.needs_rgb}
MULTI_ONLY = {n for n, s in CATALOG.items() if s.min_channels > 1}
# With p=1 these give the same output for every seed (no random parameter).
FIXED = {"horizontal_flip", "vertical_flip", "invert", "center_crop", "pad", "resize"}


def _image(c: int, h: int = 20, w: int = 18, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, c)).astype(np.float32)


def _always(name: str) -> Recipe:
    step = default_step(name)
    step.p = 1.0
    return Recipe(name, [step])


def _channels_for(name: str) -> int:
    return 3 if name in RGB_ONLY else 4


@pytest.mark.parametrize("name", list(CATALOG))
def test_same_seed_same_view_before_and_after_yaml(name: str) -> None:
    img = _image(_channels_for(name))
    recipe = _always(name)
    maker = ViewMaker(recipe)
    first = maker(img, 5)
    random.seed(1)
    np.random.seed(1)
    others = [maker(img, s) for s in (6, -7, np.int64(123456789), 2**70)]
    assert np.array_equal(maker(img, 5), first)
    assert np.array_equal(ViewMaker(Recipe.from_yaml(recipe.to_yaml()))(img, 5), first)
    assert np.array_equal(pickle.loads(pickle.dumps(maker))(img, 5), first)
    assert not np.array_equal(first, img[: first.shape[0], : first.shape[1]]) or name == "resize"
    if name not in FIXED:
        assert any(not np.array_equal(first, o) for o in others), "different seeds should give different views"


@pytest.mark.parametrize("c", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("name", list(CATALOG))
def test_every_entry_on_every_channel_count(name: str, c: int) -> None:
    img = _image(c)
    maker = ViewMaker(_always(name))
    if (name in RGB_ONLY and c != 3) or (name in MULTI_ONLY and c < 2):
        with pytest.raises(RecipeError, match="RGB|at least 2 channels"):
            maker(img, 0)
        return
    view = maker(img, 0)
    size = (64, 64) if name == "resize" else (20, 18)  # a resize step sets the output size
    assert view.shape == (*size, c) and view.dtype == np.float32
    assert view.flags.c_contiguous and 0.0 <= view.min() and view.max() <= 1.0


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_accept_any_dtype_and_channels(preset: str, dtype: type) -> None:
    rng = np.random.default_rng(1)
    for c in (1, 2, 5):
        raw = rng.random((24, 24, c))
        img = (raw * 1000).astype(dtype) if dtype != np.float32 else raw.astype(dtype)
        v = ViewMaker(get_preset(preset), out_size=16)(img, 3)
        assert v.shape == (16, 16, c) and v.dtype == np.float32
        assert np.isfinite(v).all() and v.min() >= 0.0 and v.max() <= 1.0


def test_as_unit_float_normalises_per_channel() -> None:
    img = np.zeros((10, 10, 2), np.uint16)
    img[..., 0] = np.arange(100).reshape(10, 10)
    img[..., 1] = np.arange(100).reshape(10, 10) * 600
    out = as_unit_float(img)
    assert out.dtype == np.float32 and out.shape == (10, 10, 2)
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)  # each channel on its own scale
    assert out.min() == 0.0 and out.max() == 1.0
    f = np.full((4, 4), 0.25, np.float64)
    assert as_unit_float(f).shape == (4, 4, 1) and as_unit_float(f).max() == np.float32(0.25)
    nearly = np.array([[[-1e-6], [1.0000001]]], np.float32)  # rounding errors are clipped, not rescaled
    assert as_unit_float(nearly).ravel().tolist() == [0.0, 1.0]
    raw = np.array([[[0.0], [2.0], [4.0]]], np.float32)  # floats outside [0, 1] are rescaled
    assert as_unit_float(raw).max() == 1.0 and as_unit_float(raw)[0, 1, 0] == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="height, width, channels"):
        as_unit_float(np.zeros((2, 3, 4, 5)))


def test_flips_invert_and_centre_crop_do_what_they_say() -> None:
    img = _image(2)
    assert np.array_equal(ViewMaker(_always("horizontal_flip"))(img, 0), img[:, ::-1])
    assert np.array_equal(ViewMaker(_always("vertical_flip"))(img, 0), img[::-1])
    np.testing.assert_allclose(ViewMaker(_always("invert"))(img, 0), 1.0 - img, atol=1e-6)
    square = np.zeros((40, 40, 1), np.float32)
    square[10:30, 10:30] = 1.0  # the centre half is all bright
    centre = ViewMaker(Recipe("c", [Step("center_crop", {"fraction": 0.5})]))(square, 0)
    assert centre.shape == (40, 40, 1) and centre.min() > 0.99


def test_pad_grows_then_final_resize_restores_size() -> None:
    ts, (h, w) = CATALOG["pad"].build({"fraction": 0.15, "border": "constant"}, 24, 20, 2)
    assert (h, w) == (24 + 8, 20 + 6)
    img = np.ones((24, 20, 2), np.float32)
    v = ViewMaker(Recipe("p", [Step("pad", {"fraction": 0.25})]))(img, 0)
    assert v.shape == (24, 20, 2) and v[0, 0, 0] == 0.0 and v[12, 10, 0] == 1.0


def test_rotation_360_keeps_the_centre_and_blanks_corners() -> None:
    img = np.ones((33, 33, 1), np.float32)
    maker = ViewMaker(Recipe("r", [Step("rotate", {"degrees": 360.0})]))
    views = [maker(img, s) for s in range(12)]
    assert all(v[16, 16, 0] > 0.99 for v in views)
    assert sum(v[0, 0, 0] < 0.5 for v in views) >= 6  # most angles uncover the corner


def test_channel_dropout_blanks_whole_channels_but_keeps_one() -> None:
    img = np.full((8, 8, 3), 0.5, np.float32)
    maker = ViewMaker(Recipe("d", [Step("channel_dropout", {"max_channels": 8}, p=1.0)]))
    for s in range(10):
        v = maker(img, s)
        blank = [(v[..., k] == 0).all() for k in range(3)]
        kept = [np.allclose(v[..., k], 0.5) for k in range(3)]
        assert all(b or k for b, k in zip(blank, kept)) and 1 <= sum(blank) <= 2


def test_brightness_per_channel_differs_between_channels() -> None:
    img = np.full((8, 8, 3), 0.5, np.float32)
    shared = ViewMaker(Recipe("b", [Step("brightness_contrast", {"brightness": 0.5}, p=1.0)]))(img, 2)
    own = ViewMaker(Recipe("b", [Step("brightness_contrast", {"brightness": 0.5, "per_channel": True}, p=1.0)]))(img, 2)
    assert np.ptp(shared.mean(axis=(0, 1))) < 1e-6
    assert np.ptp(own.mean(axis=(0, 1))) > 1e-3


def test_hue_on_non_rgb_is_a_clear_error() -> None:
    with pytest.raises(RecipeError, match="needs a 3-channel RGB image, but these images have 2"):
        ViewMaker(_always("hue_saturation"))(_image(2), 0)


def test_out_size_and_resize_step() -> None:
    img = _image(3, 30, 40)
    assert ViewMaker(get_preset("microscopy-set-b"))(img, 0).shape == (30, 40, 3)
    assert ViewMaker(get_preset("microscopy-set-b"), out_size=16)(img, 0).shape == (16, 16, 3)
    r = get_preset("simclr")
    r.out_size = 24
    assert ViewMaker(r)(img, 0).shape == (24, 24, 3)
    r.out_size = None
    r.steps.append(Step("resize", {"size": 12}))
    assert ViewMaker(r)(img, 0).shape == (12, 12, 3)
    with pytest.raises(RecipeError, match="output size"):
        ViewMaker(r, out_size=0)


def test_probability_zero_and_disabled_steps_do_nothing() -> None:
    img = _image(2)
    r = Recipe("n", [Step("invert", {}, p=0.0), Step("rotate", {"degrees": 90.0}, enabled=False)])
    assert np.array_equal(ViewMaker(r)(img, 1), img)
    half = ViewMaker(Recipe("h", [Step("invert", {}, p=0.5)]))
    flipped = sum(not np.array_equal(half(img, s), img) for s in range(200))
    assert 70 < flipped < 130


def test_two_views_and_make_views() -> None:
    img = _image(2, 32, 32)
    tv = TwoViews(get_preset("microscopy-set-a"), get_preset("microscopy-set-b"), out_size=16)
    v1, v2 = tv(img, 9)
    assert v1.shape == v2.shape == (16, 16, 2) and not np.array_equal(v1, v2)
    w1, w2 = tv(img, 9)
    assert np.array_equal(v1, w1) and np.array_equal(v2, w2)
    same = TwoViews(get_preset("microscopy-set-b"))
    a, b = same(img, 0)
    assert a.shape == (32, 32, 2) and not np.array_equal(a, b)  # independent streams per view
    mixed = TwoViews(Recipe("a", [Step("resize", {"size": 8})]), get_preset("byol"))
    assert [v.shape for v in mixed(img, 0)] == [(8, 8, 2), (8, 8, 2)]
    views = make_views(get_preset("microscopy-set-b"), img, 4, seed=3)
    again = make_views(get_preset("microscopy-set-b"), img, 4, seed=3)
    assert len(views) == 4 and all(np.array_equal(x, y) for x, y in zip(views, again))
    assert len({v.tobytes() for v in views}) == 4


def _dataset_item(args: tuple) -> np.ndarray:
    maker, img, seed = args
    return maker(img, seed)


def test_identical_views_in_dataloader_workers() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, Dataset

    img = _image(3, 16, 16)
    maker = ViewMaker(get_preset("microscopy-set-b"))

    class Views(Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> np.ndarray:
            return maker(img, i)

    loaded = torch.cat(list(DataLoader(Views(), batch_size=2, num_workers=2))).numpy()
    expected = np.stack([maker(img, i) for i in range(4)])
    assert np.array_equal(loaded, expected)


def _extreme(name: str, end: str) -> Step:
    """A step of `name` with every numeric parameter at the low or high end of its range."""
    params = {}
    for k, ps in CATALOG[name].params.items():
        if ps.kind == "range":
            params[k] = [ps.low, ps.low] if end == "low" else [ps.high, ps.high]
        elif ps.kind in ("float", "int"):
            params[k] = ps.low if end == "low" else ps.high
        elif ps.kind == "bool":
            params[k] = end == "high"
        else:
            params[k] = ps.choices[-1] if end == "high" else ps.choices[0]
    return Step(name, params, p=1.0)


@pytest.mark.parametrize("end", ["low", "high"])
@pytest.mark.parametrize("name", list(CATALOG))
def test_parameters_at_the_ends_of_their_ranges_work(name: str, end: str) -> None:
    step = _extreme(name, end)
    assert step_problems(step) == []
    c = _channels_for(name)
    maker = ViewMaker(Recipe("x", [step]), out_size=12)
    view = maker(_image(c, 13, 11), 4)
    assert np.array_equal(view, maker(_image(c, 13, 11), 4))
    assert view.shape == (12, 12, c) and np.isfinite(view).all() and 0.0 <= view.min() <= view.max() <= 1.0


def test_brightness_and_contrast_follow_their_formula() -> None:
    img = np.random.default_rng(3).uniform(0.2, 0.5, (16, 16, 2)).astype(np.float32)
    bright = ViewMaker(Recipe("b", [Step("brightness_contrast", {"brightness": 0.6, "contrast": 0.0}, p=1.0)]))
    for s in range(5):
        ratio = bright(img, s) / img  # one factor for every pixel and channel, inside [0.4, 1.6]
        assert np.ptp(ratio) < 1e-4 and 0.4 <= ratio.mean() <= 1.6
    contrast = ViewMaker(Recipe("c", [Step("brightness_contrast", {"brightness": 0.0, "contrast": 0.5}, p=1.0)]))
    v = contrast(img, 1)
    np.testing.assert_allclose(v.mean(axis=(0, 1)), img.mean(axis=(0, 1)), atol=1e-5)  # mean kept
    d_img, d_v = img - img.mean(axis=(0, 1)), v - v.mean(axis=(0, 1))
    k = float((d_v * d_img).sum() / (d_img * d_img).sum())  # one contrast factor, in [0.5, 1.5]
    assert 0.5 <= k <= 1.5 and abs(k - 1.0) > 1e-3
    np.testing.assert_allclose(d_v, k * d_img, atol=1e-5)
    off = ViewMaker(Recipe("o", [Step("brightness_contrast", {"brightness": 0.0, "contrast": 0.0}, p=1.0)]))
    np.testing.assert_allclose(off(img, 0), img, atol=1e-6)


def test_one_maker_shared_by_threads_gives_the_same_views() -> None:
    from concurrent.futures import ThreadPoolExecutor

    img = _image(3, 32, 32)
    maker = ViewMaker(get_preset("microscopy-set-a"))
    expected = [maker(img, s) for s in range(16)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: maker(img, s), range(16)))
    assert all(np.array_equal(a, b) for a, b in zip(expected, got))
