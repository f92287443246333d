"""Each run field declared once (`ssrl_core.train.fields`), checked from that declaration, and one
short run for the CLI and the Train page (issue 26 item 1)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import yaml

from ssrl_core.cli import main
from ssrl_core.train.checks import validate
from ssrl_core.train.config import ConfigError, DataConfig, MethodConfig, RecipeConfig, RunConfig, apply_overrides
from ssrl_core.train.defaults import short_run_defaults
from ssrl_core.train.fields import FIELDS, PARAM, value_in
from ssrl_core.train.overrides import OverrideError, set_values

from app_support import ROOT, write_tiny

SECTIONS = {"data": DataConfig, "method": MethodConfig, "recipes": RecipeConfig}


def _leaves() -> dict[str, dataclasses.Field]:
    out = {f.name: f for f in dataclasses.fields(RunConfig) if f.name not in SECTIONS}
    for prefix, cls in SECTIONS.items():
        out.update({f"{prefix}.{f.name}": f for f in dataclasses.fields(cls) if not f.name.startswith("_")})
    return out


def test_every_field_carries_its_one_declaration_and_its_default() -> None:
    leaves = _leaves()
    assert set(leaves) == set(FIELDS)
    cfg = RunConfig()
    for path, f in leaves.items():
        assert f.metadata[PARAM] is FIELDS[path], path
        group, _, key = path.rpartition(".")
        holder = {"": cfg, "data": cfg.data, "method": cfg.method, "recipes": RecipeConfig()}[group]
        assert getattr(holder, key) == FIELDS[path].default, path
    assert RunConfig().data.filter is not RunConfig().data.filter  # a fresh mapping each time


def _with(path: str, value):
    cfg = RunConfig(recipes=[RecipeConfig(preset="simclr"), RecipeConfig(preset="simclr")])  # one may weigh 0
    group, _, key = path.rpartition(".")
    holder = {"": cfg, "data": cfg.data, "recipes": cfg.recipes[0]}[group]
    setattr(holder, key, value)
    return cfg


@pytest.mark.parametrize("path", [k for k, p in FIELDS.items() if p.kind in ("int", "float")])
def test_the_checks_use_the_declared_range(path: str) -> None:
    spec = FIELDS[path]
    name = path.replace("recipes.", "recipes[0].")
    for edge in (spec.low, spec.high):
        if edge is not None:
            assert validate(_with(path, edge)) == [], (path, edge)
    step = 1 if spec.kind == "int" else max(abs(spec.low) * 0.5, 1e-3)
    below = validate(_with(path, spec.low - step))
    assert len(below) == 1 and name in below[0], below
    if spec.high is not None:
        above = validate(_with(path, spec.high + step))
        assert len(above) == 1 and name in above[0], above
    assert validate(_with(path, math.nan)), path


def test_overrides_edit_a_plain_dict_and_config_words_their_errors() -> None:
    raw: dict = {"recipes": [{"preset": "simclr"}]}
    with pytest.raises(OverrideError, match="position 0..0"):
        set_values(raw, ["recipes.2.weight=1"])
    set_values(raw, ["lr=3e-4", "data.max_cells=5"])  # no type known here: "3e-4" stays the YAML text
    assert raw["lr"] == "3e-4" and raw["data"] == {"max_cells": 5}
    assert RunConfig.from_dict(raw).lr == 3e-4  # the config reads it as the number its field declares
    with pytest.raises(ConfigError) as info:
        apply_overrides({}, ["epochs"])
    assert info.value.problems == ["--set needs key=value; got 'epochs'"]


def test_ssrl_train_without_a_config_starts_the_short_run(tmp_path, capsys) -> None:
    npz = write_tiny(tmp_path / "data", n=16)
    out = tmp_path / "run"
    small = ["backbone=tiny_cnn", f"data.name={npz}", "crop_size=16", "batch_size=8", "max_steps=1", "device=cpu"]
    assert main(["train", "--out", str(out), "--json", *(a for s in small for a in ("--set", s))]) == 0
    written = yaml.safe_load((out / "config.yaml").read_text())
    short = short_run_defaults()
    for key in ("epochs", "max_minutes", "lr", "optimizer", "weight_decay", "warmup_epochs", "log_every", "method"):
        assert written[key] == short[key], key
    assert '"state": "finished"' in capsys.readouterr().out


def test_the_docs_table_shows_the_declared_defaults() -> None:
    """docs/training.md's field table (hand-written for readers) says the defaults FIELDS declares."""
    rows = re.findall(r"^\| `([a-z_.]+)`[^|]*\| ([^|]+) \|", (ROOT / "docs" / "training.md").read_text(), re.M)
    shown = {path: None if cell == "none" else yaml.safe_load(cell.strip("`")) for path, cell in rows if path in FIELDS}
    assert len(shown) >= len(FIELDS) - 3  # all but recipes.preset / recipe / weight (one `recipes` row)
    assert {k: v for k, v in shown.items() if v != FIELDS[k].default} == {}


def test_a_form_starts_from_the_short_run_else_the_declared_default() -> None:
    short = short_run_defaults("cpu")
    assert value_in(short, "epochs") == short["epochs"] != FIELDS["epochs"].default
    assert value_in({"data": {"max_cells": 500}}, "data.max_cells") == 500  # a nested field
    assert value_in({}, "data.max_cells") == FIELDS["data.max_cells"].default
    assert value_in(short, "seed") == FIELDS["seed"].default  # the short run leaves it to the declaration
