"""The invariance preview (issue 22): readable factors on both views, their agreement, plain words.

Synthetic cells with known factors (an elongated nucleus of random size, orientation and brightness,
and a second stain of independent brightness) check that each kind of step scrambles the factor it
should and keeps the others; the shipped MitoCheck sample and (when present) BBBC021 check real
cells, including the tubulin-brightness case of benchmarks/base_encoder.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssrl_core.augment import Recipe, Step, get_preset
from ssrl_core.augment.agreement import icc
from ssrl_core.augment.invariance import REFERENCE, as_recipe, as_record, explain, explain_words, sample_cells, verdict
from ssrl_core.augment.measures import factors, measure, measure_factor, otsu_thresholds

from app_support import ROOT
from synthetic_cells import synthetic_cells


def by_factor(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("factor")


def test_icc_is_one_for_identical_views_near_zero_for_unrelated_and_matches_the_anova_formula() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    assert icc(a, a)[0] == pytest.approx(1.0)
    assert abs(icc(a, rng.normal(size=200))[0]) < 0.15
    # ICC(1,1) of Shrout & Fleiss from the one-way ANOVA, on the normal scores the function uses
    b = a + rng.normal(scale=0.7, size=200)
    from scipy.special import ndtri
    from scipy.stats import rankdata
    z = ndtri((rankdata(np.concatenate([a, b])) - 0.5) / 400)
    x = np.stack([z[:200], z[200:]], axis=1)
    msb = 2 * x.mean(axis=1).var(ddof=1)
    msw = ((x - x.mean(axis=1, keepdims=True)) ** 2).sum() / 200
    value, low, high = icc(a, b, boot=100)
    assert value == pytest.approx((msb - msw) / (msb + msw))
    assert low < value < high
    # ranks: a monotone change of units (e.g. log) does not change the agreement
    assert icc(np.exp(a), np.exp(b))[0] == pytest.approx(value)


def test_measures_read_the_factors_they_name() -> None:
    cells = synthetic_cells(8)
    table = measure(cells, ["ch0", "Actin"])
    assert set(table.columns) == {c for f in factors(["ch0", "Actin"]) for c in f.columns}
    brighter = measure(cells * 0.5, ["ch0", "Actin"])
    assert np.allclose(brighter["brightness:ch0"], 0.5 * table["brightness:ch0"], rtol=0.02)
    assert np.allclose(brighter["contrast:Actin"], table["contrast:Actin"], rtol=0.05)  # contrast: not brightness
    assert np.allclose(brighter["nucleus_area"], table["nucleus_area"])
    turned = measure(np.ascontiguousarray(np.rot90(cells, 1, axes=(1, 2))), ["ch0", "Actin"])
    assert np.allclose(turned["nucleus_area"], table["nucleus_area"])
    assert np.allclose(turned["orientation_cos"], -table["orientation_cos"], atol=0.05)  # 90 degrees: 2θ + 180°
    from scipy.ndimage import zoom
    zoomed = measure(zoom(cells, (1, 2, 2, 1), order=1), ["ch0", "Actin"])
    assert np.allclose(zoomed["nucleus_area"], 4 * table["nucleus_area"], rtol=0.1)
    assert (zoomed["scale"] > 1.6 * table["scale"]).all()  # apparent scale doubles
    assert (zoomed["texture"] < table["texture"]).all()
    assert (table["n_nuclei"] >= 1).all() and (table["n_nuclei"] == 1).mean() > 0.8


def test_otsu_thresholds_agree_with_skimage() -> None:
    from skimage.filters import threshold_otsu
    planes = synthetic_cells(6)[..., 0]
    mine = otsu_thresholds(planes)
    theirs = np.array([threshold_otsu(p) for p in planes])
    assert np.allclose(mine, theirs, atol=(planes.max() - planes.min()) / 256 + 1e-6)


def test_ring_sums_are_the_add_at_numbers_bit_for_bit() -> None:
    """The texture/scale rings are summed with one bincount (a fifth of np.add.at's time): the same
    additions in the same order, so exactly np.add.at's numbers, for real-sized rings and odd sizes."""
    from ssrl_core.augment.measures import ring_sums

    rng = np.random.default_rng(3)
    for n, h, w in ((5, 64, 64), (3, 63, 65), (2, 9, 12)):
        values = rng.normal(size=(n, h * w))
        dy, dx = np.meshgrid(np.minimum(np.arange(h), h - np.arange(h)), np.minimum(np.arange(w), w - np.arange(w)),
                             indexing="ij")
        ring = np.rint(np.hypot(dy, dx)).astype(int).ravel()
        reference = np.zeros((n, ring.max() + 1))
        np.add.at(reference, (np.repeat(np.arange(n), ring.size), np.tile(ring, n)), values.reshape(-1))
        assert np.array_equal(ring_sums(values, ring), reference)


def _recipe(*steps: Step) -> Recipe:
    return Recipe("test", list(steps))


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    return synthetic_cells(48)


def test_each_step_scrambles_its_factor_and_keeps_the_others(cells) -> None:
    jitter = by_factor(explain(_recipe(Step("brightness_contrast", {"brightness": 0.7, "contrast": 0.0})),
                               cells, n=48, boot=0))
    assert jitter.loc["brightness:ch0", "verdict"] in ("drops", "partly")
    assert jitter.loc["brightness:ch0", "agreement"] < 0.7
    assert jitter.loc["nucleus_area", "verdict"] == "keeps" and jitter.loc["orientation", "verdict"] == "keeps"
    weak = by_factor(explain(_recipe(Step("brightness_contrast", {"brightness": 0.05, "contrast": 0.0})),
                             cells, n=48, boot=0))
    assert weak.loc["brightness:ch0", "verdict"] == "keeps"
    turn = by_factor(explain(_recipe(Step("rotate", {"degrees": 180.0})), cells, n=48, boot=0))
    assert turn.loc["orientation", "verdict"] == "drops"
    assert turn.loc["brightness:ch0", "verdict"] == "keeps" and turn.loc["nucleus_area", "verdict"] == "keeps"
    zoom = by_factor(explain(_recipe(Step("affine", {"scale": [0.6, 1.6], "translate": 0.0, "shear": 0.0})),
                             cells, n=48, boot=0))
    assert zoom.loc["nucleus_area", "verdict"] in ("drops", "partly") and zoom.loc["scale", "verdict"] != "keeps"
    assert zoom.loc["brightness:ch0", "verdict"] == "keeps"


def test_explain_table_words_json_and_reference(cells) -> None:
    table = explain("microscopy-set-b", cells, n=32, seed=1)
    assert list(table.columns) == ["factor", "channel", "words", "agreement", "low", "high", "cells", "shown", "kept",
                                   "reference", "relative", "verdict", "hidden"]
    assert table["factor"].tolist() == [f.name for f in factors(["ch0", "ch1"])]
    assert table.loc[table["factor"] == "brightness:ch1", "channel"].item() == "ch1"
    ref = by_factor(table)["reference"]
    varied = ["brightness:ch0", "brightness:ch1", "nucleus_area", "orientation", "scale"]
    assert (ref[varied] > 0.9).all()  # near-identical views agree on what differs between these cells
    # every synthetic cell has one nucleus at the centre: nothing to tell apart, and the preview says so
    assert by_factor(table).loc[["n_nuclei", "nucleus_offset"], "verdict"].eq("unclear").all()
    assert set(table["verdict"]) <= {"keeps", "partly", "drops", "unclear"}
    again = explain("microscopy-set-b", cells, n=32, seed=1)
    pd.testing.assert_frame_equal(table, again)  # seeded: the same numbers
    words = explain_words(table)
    assert words.startswith("Recipe microscopy-set-b teaches the encoder to ignore: ") and "orientation" in words
    record = json.loads(json.dumps(as_record(table)))
    assert record["factors"]["orientation"]["verdict"] == "drops" and record["cells"] == 32
    assert verdict(0.95, 1.0) == "keeps" and verdict(0.7, 1.0) == "partly" and verdict(0.2, 1.0) == "drops"
    assert verdict(0.9, 0.3) == "unclear"
    assert explain(REFERENCE, cells, n=32).set_index("factor").loc[varied, "verdict"].eq("keeps").all()


def test_recipes_from_names_files_and_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(get_preset("microscopy-set-a").to_yaml(), encoding="utf-8")
    assert as_recipe(str(path)).name == "microscopy-set-a"
    assert as_recipe("microscopy-set-b").name == "microscopy-set-b"
    with pytest.raises(ValueError, match="unknown preset 'set-c'"):
        as_recipe("set-c")
    with pytest.raises(FileNotFoundError):
        as_recipe(str(tmp_path / "missing.yaml"))
    with pytest.raises(ValueError, match="empty"):
        sample_cells(np.zeros((0, 8, 8, 1), np.float32))


def test_real_nuclei_set_a_scrambles_size_and_set_b_hides_the_neighbours() -> None:
    """MitoCheck nuclei (the shipped sample), the paper's sections 3.3-3.4: set A's random crops and
    zoom scramble the nucleus's size between views; set B's centre crop is the same for both views
    (they agree on it) but cuts the neighbouring nuclei away, so its views no longer show how many
    nuclei the crop holds, which set A's encoders cluster by."""
    from ssrl_core.data.registry import load_dataset
    cells = load_dataset("mitocheck_demo")
    sample = sample_cells(cells, 96, 0)
    a = by_factor(explain("microscopy-set-a", sample, boot=0))
    b = by_factor(explain("microscopy-set-b", sample, boot=0))
    assert b.loc["nucleus_area", "agreement"] > a.loc["nucleus_area", "agreement"] + 0.05
    assert b.loc["n_nuclei", "agreement"] > 0.8 and b.loc["n_nuclei", "shown"] < b.loc["n_nuclei", "agreement"] - 0.3
    assert a.loc["n_nuclei", "kept"] > b.loc["n_nuclei", "kept"] + 0.2
    assert a.loc["orientation", "verdict"] == b.loc["orientation", "verdict"] == "drops"


def test_views_shown_larger_than_the_cells_are_said_so(cells) -> None:
    table = explain(_recipe(Step("center_crop", {"fraction": 0.5})), cells, n=48, boot=0)
    assert table.attrs["zoom"] == pytest.approx(2.0, rel=0.15)
    assert "about 2.0x larger" in explain_words(table)
    assert "larger" not in explain_words(explain(_recipe(Step("rotate", {"degrees": 90.0})), cells, n=48, boot=0))


@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "bbbc021").is_dir(), reason="needs ../shared/data/bbbc021")
def test_bbbc021_tubulin_brightness_set_a_scrambles_what_a_weak_jitter_keeps() -> None:
    """benchmarks/base_encoder.md: set A's jitter 0.4 taught the encoder to drop tubulin brightness,
    a jitter of 0.1 kept it; the preview says so before any training."""
    from ssrl_core.data.registry import load_dataset
    cells = load_dataset("bbbc021_week4_dmso_cycloheximide")
    sample = sample_cells(cells, 128, 0)
    weak = get_preset("microscopy-set-a")
    weak.steps[0].params.update(brightness=0.1, contrast=0.1)
    a = by_factor(explain("microscopy-set-a", sample, boot=0))
    w = by_factor(explain(weak, sample, boot=0))
    assert a.loc["brightness:Tubulin", "verdict"] != "keeps"
    assert w.loc["brightness:Tubulin", "verdict"] == "keeps"


def test_cli_recipe_explain_json_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = subprocess.run([sys.executable, "-m", "ssrl_core", "recipe", "explain", "microscopy-set-b", "--data",
                          "mitocheck_demo", "--cells", "24", "--where", "split=held-out", "--json"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["cells"] == 24 and obj["where"] == {"split": ["held-out"]}
    assert set(obj["factors"]) >= {"brightness:H2B-GFP", "nucleus_area", "orientation", "scale"}
    assert all(isinstance(v["agreement"], float) for v in obj["factors"].values())
    from ssrl_core.cli import main
    path = tmp_path / "mine.yaml"
    path.write_text(get_preset("microscopy-set-a").to_yaml(), encoding="utf-8")
    assert main(["recipe", "explain", str(path), "--data", "mitocheck_demo", "--cells", "16"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("microscopy-set-a on 16 cells of mitocheck_demo") and "teaches the encoder" in text
    assert main(["recipe", "explain", "set-c", "--data", "mitocheck_demo"]) == 2
    err = capsys.readouterr()
    assert "unknown preset 'set-c'" in err.err and not err.out
    assert main(["recipe", "explain", "microscopy-set-a", "--data", "mitocheck_demo", "--where", "split=nowhere"]) == 2
    assert "no cell matches" in capsys.readouterr().err


def test_one_factor_alone_is_the_whole_tables_column() -> None:
    """`measure_factor` (the Home demo's factor) computes one channel's brightness or contrast alone:
    the same numbers as `measure`'s table, and any other factor read off that table."""
    x = synthetic_cells(24, seed=5)  # float32 in [0, 1], two channels
    names = ["DNA", "Body"]
    table = measure(x, names)
    for f in factors(names):
        np.testing.assert_array_equal(measure_factor(x, names, f.name), table[f.columns[0]].to_numpy(float), f.name)
