"""A run config's recipes are parsed and checked once; one dotted-path setter for --set and sweeps."""

from __future__ import annotations

import pytest
import yaml

from ssrl_core.augment import TwoViews, ViewMaker, get_preset
from ssrl_core.augment import recipe as recipe_module
from ssrl_core.augment.spec import RecipeError
from ssrl_core.train.config import RunConfig, load_config

INLINE = {"name": "mine", "steps": [{"name": "rotate", "params": {"degrees": 30}}]}


@pytest.fixture()
def checks(monkeypatch) -> list[dict]:
    """Every recipe dict that `recipe_problems` (the one recipe check) is asked about."""
    seen: list[dict] = []
    real = recipe_module.recipe_problems

    def counting(d):
        seen.append(d)
        return real(d)

    monkeypatch.setattr(recipe_module, "recipe_problems", counting)
    return seen


def test_an_inline_recipe_is_checked_once_from_config_to_views(checks) -> None:
    cfg = load_config(None, ["epochs=2"], base={"recipes": [{"recipe": INLINE, "weight": 0.5}, "mnist-set2"]})
    assert len(checks) == 1  # the inline recipe, when the config was built
    recipes = cfg.recipe_objects
    assert [r.name for r in recipes] == ["mine", "mnist-set2"]
    assert recipes[0] is cfg.recipes[0].parsed  # the config keeps the objects: no second parse
    for r in recipes:
        TwoViews(r, out_size=28)  # two view makers per recipe
    assert len(checks) == 2  # + the preset (built in code), checked once by its first view maker


def test_the_config_writes_only_plain_recipe_fields() -> None:
    cfg = load_config(None, [], base={"recipes": [{"recipe": INLINE, "weight": 0.5}, "mnist-set2"]})
    written = cfg.to_dict()["recipes"]
    assert written == [{"preset": None, "recipe": INLINE, "weight": 0.5},
                       {"preset": "mnist-set2", "recipe": None, "weight": 1.0}]  # as written, no defaults added
    again = load_config(None, [], base=yaml.safe_load(cfg.to_yaml()))
    assert again == cfg and again.to_yaml() == cfg.to_yaml()
    assert "parsed" not in cfg.to_yaml() and "_checked" not in yaml.safe_dump(written)


def test_setting_a_recipe_anew_parses_the_new_one() -> None:
    cfg = RunConfig()
    assert cfg.recipes[0].parsed.name == "mnist-set1"
    cfg.recipes[0].preset = "simclr"
    assert cfg.recipes[0].parsed.name == "simclr"
    cfg.recipes[0].preset, cfg.recipes[0].recipe = None, {"name": "bad", "steps": [{"name": "rotat"}]}
    with pytest.raises(RecipeError, match="did you mean 'rotate'"):
        cfg.recipes[0].parsed


def test_a_checked_recipe_changed_afterwards_is_checked_again(checks) -> None:
    recipe = get_preset("mnist-set1")
    ViewMaker(recipe)
    ViewMaker(recipe)
    assert len(checks) == 1
    recipe.steps[1].params["degrees"] = 400.0  # out of range: a view maker must not take it
    with pytest.raises(RecipeError, match="degrees"):
        ViewMaker(recipe)


BASE = {"name": "tiny", "data": "mnist-5k", "recipes": ["mnist-set1"], "method": "simclr", "lr": "3e-4"}


def test_set_and_sweeps_share_one_setter() -> None:
    from ssrl_core.sweeps.runner import set_parameter
    from ssrl_core.train.config import apply_overrides

    path = "recipes.0.recipe.steps.1.params.degrees"
    by_set = apply_overrides(BASE, [f"{path}=30"])
    assert by_set == set_parameter(BASE, path, 30)  # the same normalised result
    assert by_set == apply_overrides(BASE, ["recipes.0.steps.1.params.degrees=30"])  # short form, as in sweeps
    assert by_set["recipes"][0]["recipe"]["steps"][1]["params"]["degrees"] == 30  # the preset written out
    assert "preset" not in by_set["recipes"][0] and BASE["recipes"] == ["mnist-set1"]
    assert apply_overrides(BASE, ["recipes.0.weight=0.5"])["recipes"] == [{"preset": "mnist-set1", "weight": 0.5}]
    # the short forms of the base are written out before the path is followed (a sweep of
    # method.params on `method: simclr` used to stop at the text)
    assert set_parameter(BASE, "method.params.temperature", 0.2)["method"] == {"name": "simclr",
                                                                              "params": {"temperature": 0.2}}
    assert load_config(None, [], base=set_parameter(BASE, ["lr", "weight_decay"], 0.5)).weight_decay == 0.5


def test_path_errors_keep_each_callers_words() -> None:
    from ssrl_core.sweeps.runner import set_parameter
    from ssrl_core.train.config import ConfigError, apply_overrides

    with pytest.raises(ConfigError) as info:
        apply_overrides(BASE, ["recipes.3.weight=1"])
    assert info.value.problems == ["--set 'recipes.3.weight=1': '3' must be a position 0..0 in the list"]
    with pytest.raises(ConfigError) as info:
        apply_overrides(BASE, ["name.x.y=1"])
    assert info.value.problems == ["--set 'name.x.y=1': 'x' is not a group of fields"]
    with pytest.raises(ValueError, match=r"the parameter path 'recipes.5.recipe.steps.0.p' does not exist in the "
                                         r"run config \(stopped at 'recipes.5'\)"):
        set_parameter(BASE, "recipes.5.recipe.steps.0.p", 1.0)
    with pytest.raises(ValueError, match="the parameter list is empty"):
        set_parameter(BASE, [], 1.0)


def test_short_forms_are_written_out_once_per_config(monkeypatch) -> None:
    from ssrl_core.train import config

    calls: list[dict] = []
    real = config.normalise
    monkeypatch.setattr(config, "normalise", lambda raw: calls.append(raw) or real(raw))
    cfg = load_config(None, ["recipes=[simclr, byol]", "recipes.1.weight=3e-1", "data=cells.npz", "epochs=2"],
                      base=BASE)
    assert len(calls) == 1
    assert [(r.preset, r.weight) for r in cfg.recipes] == [("simclr", 1.0), ("byol", 0.3)]
    assert cfg.data.name == "cells.npz" and cfg.lr == 3e-4 and cfg.method.name == "simclr"
