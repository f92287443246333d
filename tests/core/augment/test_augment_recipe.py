"""Recipe schema: YAML round trips, validation errors in plain words, describe, editor helpers."""

from __future__ import annotations

import pytest

from ssrl_core.augment import (
    CATALOG,
    PRESETS,
    Recipe,
    RecipeError,
    Step,
    channel_problems,
    default_step,
    describe,
    get_preset,
    step_problems,
)
from ssrl_core.params import Param


@pytest.mark.parametrize("name", list(CATALOG))
def test_catalog_entry_is_complete_and_defaults_valid(name: str) -> None:
    spec = CATALOG[name]
    assert spec.title and spec.description.endswith(".") and len(spec.description) < 200
    for pname, ps in spec.params.items():
        assert ps.help, f"{name}.{pname} has no help text"
        assert ps.problem(pname, ps.default) is None
        if ps.kind in ("float", "int", "range"):
            assert ps.low is not None and ps.high is not None and ps.low < ps.high
        if ps.kind == "choice":
            assert ps.default in ps.choices
    assert 0.0 <= spec.default_p <= 1.0
    assert step_problems(default_step(name)) == []


def test_catalog_covers_the_issue_list() -> None:
    wanted = {"rotate", "affine", "random_resized_crop", "center_crop", "horizontal_flip", "vertical_flip",
              "brightness_contrast", "hue_saturation", "gaussian_blur", "gaussian_noise", "random_erasing",
              "pad", "invert", "channel_dropout", "resize", "random_crop"}
    assert wanted <= set(CATALOG)


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_catalog_step_round_trips_through_yaml(name: str) -> None:
    r = Recipe("one", [default_step(name)], out_size=32, description="a test")
    text = r.to_yaml()
    back = Recipe.from_yaml(text)
    assert back == r
    assert back.to_yaml() == text


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_and_are_valid(name: str) -> None:
    r = get_preset(name)
    r.validate()
    assert Recipe.from_yaml(r.to_yaml()) == r
    assert Recipe.from_dict(r.to_dict()) == r


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_describes_itself_in_its_yaml(name: str) -> None:
    """Issue 26 item 5: the preset carries its own description (the app and `ssrl recipe list`
    show this text); a saved recipe keeps it."""
    r = get_preset(name)
    assert len(r.description) > 80 and r.description.endswith((".", '"'))
    text = r.to_yaml()
    assert "description:" in text and Recipe.from_yaml(text).description == r.description
    if not name.startswith(("simclr", "byol")):  # the paper's recipes cite it and quote its words
        assert "Bendidi et al. 2024" in r.description and r.description.count('"') >= 2


def test_recipe_list_shows_every_preset_with_its_description(capsys) -> None:
    import json

    from ssrl_core.cli import main

    assert main(["recipe", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["presets"]}
    assert list(rows) == list(PRESETS)
    for name, row in rows.items():
        assert row["description"] == PRESETS[name].description
        assert row["steps"] == [s.name for s in PRESETS[name].steps]


def test_get_preset_is_a_copy_and_unknown_name_is_explained() -> None:
    r = get_preset("microscopy-set-b")
    r.steps[0].params["degrees"] = 5.0
    r.steps.pop()
    assert PRESETS["microscopy-set-b"].steps[0].params["degrees"] == 360.0
    assert len(PRESETS["microscopy-set-b"].steps) == 5
    with pytest.raises(RecipeError, match="available: mnist-set1"):
        get_preset("set-b")


def test_copy_is_deep() -> None:
    r = get_preset("simclr")
    c = r.copy()
    c.steps[0].params["scale"][0] = 0.5
    assert r.steps[0].params["scale"][0] == 0.08 and c != r


def test_partial_params_get_defaults_and_ints_become_floats() -> None:
    r = Recipe.from_yaml("name: x\nsteps:\n- name: rotate\n  params: {degrees: 90}\n- name: horizontal_flip\n")
    assert r.steps[0].params == {"degrees": 90.0, "border": "constant"}
    assert isinstance(r.steps[0].params["degrees"], float)
    assert r.steps[0].p == 1.0 and r.steps[1].p == 0.5  # the transform's usual probability
    assert r.out_size is None


def test_one_error_lists_every_problem() -> None:
    text = """
name: broken
out_size: -3
colour: red
steps:
- name: rotat
- name: rotate
  p: 1.5
  params: {degrees: 400, border: wavy, speed: 3}
- name: affine
  params: {scale: [1.2, 0.9], shear: "ten"}
- name: resize
  enabled: maybe
  params: {size: 12.5}
- 7
"""
    with pytest.raises(RecipeError) as info:
        Recipe.from_yaml(text)
    err = info.value
    assert isinstance(err, ValueError)
    msg = str(err)
    expected = ["out_size", "unexpected key 'colour'", "unknown transform 'rotat' (did you mean 'rotate'?)",
                "'p' must be a number between 0 and 1", "'degrees' must be between 0 and 360",
                "'border' must be one of constant, reflect, edge", "unknown parameter 'speed'",
                "'scale': the first number (min) must not be larger", "'shear' must be a number",
                "'enabled' must be true or false", "'size' must be a whole number", "a step must be a mapping"]
    for part in expected:
        assert part in msg, part
    assert len(err.problems) == len(expected)
    assert "step 2 (rotate)" in msg and "step 5" in msg


@pytest.mark.parametrize("text,part", [
    ("name: [unclosed", "not valid YAML"),
    ("- just\n- a list", "must be a mapping"),
    ("", "must be a mapping"),
    ("name: x\nsteps: rotate", "'steps' must be a list"),
    ("steps: []", "needs a 'name'"),
    ("name: x\nsteps:\n- name: rotate\n  params: !!python/object/apply:os.system [ls]", "not valid YAML"),
])
def test_bad_yaml_is_one_plain_error(text: str, part: str) -> None:
    with pytest.raises(RecipeError, match="recipe has") as info:
        Recipe.from_yaml(text)
    assert part in str(info.value)


def test_param_checks_reject_wrong_types() -> None:
    f = Param("float", 0.5, "h", 0.0, 1.0)
    assert f.problem("x", True) is not None  # a bool is not a number
    assert f.problem("x", float("nan")) is not None
    assert f.problem("x", 1) is None
    i = Param("int", 2, "h", 1, 8)
    assert i.problem("n", 2.0) is None and i.problem("n", 2.5) is not None
    b = Param("bool", False, "h")
    assert b.problem("b", "yes") is not None and b.problem("b", True) is None
    r = Param("range", [0.1, 1.0], "h", 0.0, 1.0)
    assert r.problem("r", [0.2]) is not None and r.problem("r", [0.0, 1.1]) is not None
    assert r.problem("r", (0.2, 0.3)) is None


def test_step_problems_for_the_editor() -> None:
    assert step_problems(Step("rotate", {"degrees": 30.0})) == []
    probs = step_problems(Step("rotate", {"degrees": -1.0}, p=2.0))
    assert len(probs) == 2
    assert step_problems({"name": "blur"})[0].startswith("unknown transform 'blur'")
    with pytest.raises(RecipeError):
        default_step("nope")
    with pytest.raises(RecipeError, match="'degrees' must be between"):
        Recipe("x", [Step("rotate", {"degrees": 999.0})]).validate()


def test_channel_problems_explain_rgb_and_channel_needs() -> None:
    r = Recipe("x", [default_step("hue_saturation"), default_step("channel_dropout")])
    assert channel_problems(r, 3) == []
    two = channel_problems(r, 1)
    assert len(two) == 2 and "RGB" in two[0] and "at least 2 channels" in two[1]
    assert len(channel_problems(r, 2)) == 1
    r.steps[0].enabled = False
    assert channel_problems(r, 2) == []


def test_describe_has_one_sentence_per_step() -> None:
    r = get_preset("microscopy-set-b")
    r.steps[3].enabled = False
    text = describe(r)
    lines = text.splitlines()
    assert len(lines) == len(r.steps) + 1
    assert lines[0] == "1. Rotate by a random angle of up to ±360° (always)."
    assert "central 50%" in lines[1] and "80% of the time" in lines[2] and "turned off" in lines[3]
    assert all(line.endswith(".") for line in lines)
    for name in CATALOG:  # every transform can be described
        assert describe(Recipe("x", [default_step(name)], out_size=32)).endswith("32x32 pixels.")


def test_recipes_carry_a_schema_version_and_older_files_still_read() -> None:
    from ssrl_core.augment.recipe import SCHEMA_VERSION

    r = Recipe("v", [default_step("rotate")])
    assert r.to_dict()["version"] == SCHEMA_VERSION and "version: 1" in r.to_yaml()
    old = {k: v for k, v in r.to_dict().items() if k != "version"}  # saved before versions existed
    assert Recipe.from_dict(old) == r
    with pytest.raises(RecipeError, match="newer version of ssrl"):
        Recipe.from_dict({**r.to_dict(), "version": SCHEMA_VERSION + 1})
    with pytest.raises(RecipeError, match="'version' must be a whole number"):
        Recipe.from_dict({**r.to_dict(), "version": "one"})
