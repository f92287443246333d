"""RunConfig: YAML loading, --set overrides, validation in plain words, every shipped config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ssrl_core.train.config import ConfigError, RunConfig, apply_overrides, load_config

from app_support import ROOT

CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml")  # sub-folders too
                 if p.parent.name != "sweeps")  # configs/sweeps/*.yaml are sweep files (tests/test_cifar10_sweeps.py)


def test_configs_folder_has_every_method_and_preset() -> None:
    cfgs = [load_config(p) for p in CONFIGS]
    assert {c.method.name for c in cfgs} == {"moco_v2", "byol", "simclr", "vicreg", "barlow_twins"}
    presets = {r.preset for c in cfgs for r in c.recipes}
    assert {"mnist-set1", "mnist-set2", "microscopy-set-a", "microscopy-set-b", "simclr", "byol"} <= presets
    names = {p.name for p in CONFIGS}
    for required in ("moco_v2_mitocheck_set_a.yaml", "moco_v2_mitocheck_set_b.yaml", "moco_v2_mitocheck_a_plus_b.yaml",
                     "mnist_set1_vgg11.yaml", "mnist_set2_vgg11.yaml", "bbbc021_cycloheximide_set_a.yaml",
                     "bbbc021_cycloheximide_set_b.yaml", "bbbc021_cycloheximide_a_plus_b.yaml"):
        assert required in names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.relative_to(p.parents[1]).as_posix() if p.parent.name != "configs" else p.stem for p in CONFIGS])
def test_every_config_validates_and_round_trips(path: Path) -> None:
    cfg = load_config(path)
    again = RunConfig.from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg


def test_a_plus_b_has_two_weighted_recipes() -> None:
    cfg = load_config(ROOT / "configs" / "bbbc021_cycloheximide_a_plus_b.yaml")
    assert [(r.preset, r.weight) for r in cfg.recipes] == [("microscopy-set-a", 0.5), ("microscopy-set-b", 0.5)]
    assert cfg.data.filter["compound"] == ["cyclohexamide", "DMSO"]


def test_overrides_dotted_lists_and_yaml_scalars(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("name: t\ndata: mnist-5k\nrecipes: [mnist-set1, mnist-set2]\nmethod: simclr\n")
    cfg = load_config(p, ["epochs=2", "data.path=cells.npz", "lr=3e-4", "recipes.1.weight=0.25",
                          "method.params.temperature=0.5", "max_steps=null", "data.filter.compound=[DMSO, taxol]",
                          "pretrained=true"])
    assert cfg.epochs == 2 and cfg.data.name == "cells.npz" and cfg.lr == pytest.approx(3e-4)
    assert cfg.recipes[1].weight == 0.25 and cfg.recipes[0].preset == "mnist-set1"
    assert cfg.method.params == {"temperature": 0.5} and cfg.max_steps is None
    assert cfg.data.filter == {"compound": ["DMSO", "taxol"]} and cfg.pretrained is True


def test_every_problem_is_listed_in_plain_words(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, ["lr=-1", "epochs=0", "optimizer=rmsprop", "method.name=nope", "colour=red",
                           "recipes=[simclr]", "recipes.0.weight=-2", "batch_size=1.5"])
    text = str(info.value)
    for fragment in ("'lr' (learning rate) must be a number above 0", "'epochs' must be a whole number",
                     "'optimizer' must be one of adam, adamw, sgd", "'method.name' is 'nope'",
                     "unknown field 'colour'", "recipes[0].weight must be a number >= 0", "'batch_size'"):
        assert fragment in text
    assert len(info.value.problems) >= 7


def test_recipe_needs_exactly_one_source_and_inline_recipe_is_checked() -> None:
    with pytest.raises(ConfigError, match="exactly one of 'preset'"):
        RunConfig.from_dict({"recipes": [{"weight": 1.0}]})
    with pytest.raises(ConfigError, match="not a valid recipe"):
        RunConfig.from_dict({"recipes": [{"recipe": {"name": "x", "steps": [{"name": "no_such_step"}]}}]})
    inline = {"name": "mine", "steps": [{"name": "horizontal_flip", "params": {}, "p": 0.5}]}
    cfg = RunConfig.from_dict({"recipes": [{"recipe": inline, "weight": 2}]})
    assert cfg.recipes[0].label == "mine"


def test_bad_override_and_missing_file_messages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["epochs"])
    with pytest.raises(ConfigError, match="position"):
        apply_overrides({"recipes": ["simclr"]}, ["recipes.3.weight=1"])
    with pytest.raises(FileNotFoundError, match="No run configuration"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
