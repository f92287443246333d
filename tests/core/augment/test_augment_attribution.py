"""Which step scrambles a factor, the smallest change that keeps it, and the advisor (issue 22, items 2-3).

Synthetic cells with known factors (`synthetic_cells.py`): a recipe of a strong brightness jitter, a
rotation and a flip. The jitter alone is responsible for brightness, the rotation and the flip
together for orientation; the smallest change that keeps brightness turns the jitter down and
leaves the rest of the recipe as it was.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssrl_core.augment import Recipe, Step
from ssrl_core.augment.advisor import cohens_d, group_effects, match, rank_recipes, suggestions
from ssrl_core.augment.attribution import (
    Change,
    apply_changes,
    changes_words,
    diagnose,
    explain_fix,
    smallest_change,
    step_changes,
    step_effects,
)
from ssrl_core.augment.invariance import KEEPS, explain, sample_cells

from synthetic_cells import synthetic_cells, synthetic_cellset


def recipe() -> Recipe:
    return Recipe("jitter-turn-flip", [Step("brightness_contrast", {"brightness": 0.8, "contrast": 0.0}),
                                       Step("rotate", {"degrees": 180.0}),
                                       Step("horizontal_flip", {}, 0.5)])


@pytest.fixture(scope="module")
def sample():
    return sample_cells(synthetic_cells(48), 48, 0)


def test_step_effects_find_the_step_of_each_factor(sample) -> None:
    eff = step_effects(recipe(), sample)
    assert set(eff["title"]) == {"Brightness/contrast jitter", "Rotation", "Horizontal flip"}
    resp = eff[eff["responsible"]].groupby("factor")["title"].apply(set).to_dict()
    assert resp["brightness:ch0"] == {"Brightness/contrast jitter"}
    assert "Rotation" in resp["orientation"] and "Brightness/contrast jitter" not in resp["orientation"]
    assert "nucleus_area" not in resp  # kept: nobody is blamed


def test_smallest_change_turns_the_jitter_down_and_leaves_the_rest(sample) -> None:
    rec = recipe()
    fix = smallest_change(rec, "brightness:ch0", sample)
    assert fix.steps == ["Brightness/contrast jitter"] and fix.relative_after >= KEEPS
    assert [c.step for c in fix.changes] == [0] and fix.changes[0].param in ("brightness", "draw")
    assert fix.changes[0].param != "enabled"  # a smaller change than turning the jitter off is enough
    changed = apply_changes(rec, fix.changes)
    assert changed.steps[1:] == rec.steps[1:] and changed.steps[0].params["contrast"] == 0.0
    assert changed.name == "jitter-turn-flip (changed)" and rec.steps[0].params["brightness"] == 0.8
    assert explain(changed, sample, boot=0).set_index("factor").loc["brightness:ch0", "verdict"] == "keeps"
    assert fix.words.startswith("Brightness/contrast jitter: ")
    sentence = explain_fix(fix, "brightness of DNA")
    assert sentence.startswith("brightness of DNA: scrambled by Brightness/contrast jitter. ")
    assert sentence.endswith("the rest of the recipe unchanged.")


def test_orientation_needs_the_rotation_and_the_flip_changed_together(sample) -> None:
    fix = smallest_change(recipe(), "orientation", sample)
    assert set(fix.steps) == {"Rotation", "Horizontal flip"}
    assert {c.step for c in fix.changes} == {1, 2} and fix.relative_after >= KEEPS
    diag = diagnose(recipe(), sample)
    row = diag.set_index("factor").loc["orientation"]
    assert row["together"] and "together" in explain_fix(row)


def test_a_weaker_jitter_is_found_when_it_is_enough(sample) -> None:
    rec = Recipe("jitter", [Step("brightness_contrast", {"brightness": 0.8, "contrast": 0.0})])
    fix = smallest_change(rec, "brightness:ch0", sample)
    assert len(fix.changes) == 1 and fix.changes[0].param == "brightness" and 0 < fix.changes[0].new < 0.8
    assert fix.words == f"Brightness/contrast jitter: brightness 0.8 -> {fix.changes[0].new:g}"


def test_candidate_changes_go_from_small_to_off_and_are_valid() -> None:
    rec = Recipe("r", [Step("affine", {"scale": [0.5, 1.5], "translate": 0.2, "shear": 10.0})])
    options = step_changes(rec, 0)
    sizes = [s for s, _ in options]
    assert sizes == sorted(sizes) and options[-1][1] == (Change(0, "enabled", True, False),)
    first = options[0][1]
    assert len(first) == 1 and first[0].new in ([0.625, 1.375], 0.15, 7.5)  # a quarter of the way to no change
    pair = (Change(0, "draw", "view", "pair"),)
    assert changes_words(rec, pair) == "Affine (zoom, shift, shear): the same for both views"
    assert apply_changes(rec, (Change(0, "draw", "view", "pair"),)).steps[0].draw == "pair"


def test_group_effects_find_the_factor_that_separates_the_groups() -> None:
    cells = synthetic_cellset(64)
    eff = group_effects(cells, "group")
    top = eff.iloc[0]
    assert top["factor"] == "brightness:Body" and top["size"] == "large" and top["p"] < 0.001
    assert abs(eff.set_index("factor").loc["nucleus_area", "d"]) < 0.8
    assert cohens_d(np.array([1.0, 2, 3]), np.array([1.0, 2, 3])) == 0.0
    with pytest.raises(KeyError, match="no metadata column"):
        group_effects(cells, "compound")


def test_advisor_ranks_the_recipe_that_keeps_the_wished_factor_first() -> None:
    cells = synthetic_cellset(64)
    jitter = Recipe("jitter", [Step("brightness_contrast", {"brightness": 0.8, "contrast": 0.0}),
                               Step("rotate", {"degrees": 180.0})])
    turn = Recipe("turn only", [Step("rotate", {"degrees": 180.0})])
    fixes = suggestions(jitter, cells, ["brightness:Body"], n=64)
    assert len(fixes) == 1
    changed = next(iter(fixes.values()))
    assert changed.steps[0].params["brightness"] < 0.8 and changed.steps[1] == jitter.steps[1]
    ranking = rank_recipes({"jitter": jitter, "turn only": turn, **fixes}, cells, ["brightness:Body"],
                           ["orientation"], n=64)
    assert ranking.iloc[-1]["recipe"] == "jitter" and ranking.iloc[-1]["misses"] == ["brightness of Body"]
    assert ranking.iloc[0]["fits"] and ranking.iloc[0]["recipe"] in ("turn only", *fixes)
    with pytest.raises(ValueError, match="mark at least one factor"):
        rank_recipes({"jitter": jitter}, cells, [], [], n=32)
    table = explain(turn, cells, n=32, boot=0)
    assert match(table, ["brightness:Body"], ["orientation"])["misses"] == []
    with pytest.raises(KeyError, match="unknown factor"):
        match(table, ["brightness:Nope"], [])
