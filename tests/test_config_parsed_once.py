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
