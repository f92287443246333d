"""Bad configs, YAML files and checkpoints (issue 10), built here in tmp_path: every message
names the file and the reason, and an alias bomb is refused at once, before it expands."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ssrl_core.cli import main
from ssrl_core.io import YAML_MAX_BYTES, parse_yaml, read_yaml
from ssrl_core.models.encoder_file import load_checkpoint, load_encoder
from ssrl_core.sweeps.runner import load_sweep
from ssrl_core.train.checkpoint import save_checkpoint
from ssrl_core.train.config import ConfigError, load_config

BOMB = "".join([
    "a: &a [x, x, x, x, x, x, x, x, x]\n",
    *(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)),
])  # "billion laughs": 9**9 = 387 million values once expanded


def test_alias_bomb_in_data_filter_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text("data:\n  name: mnist-5k\n  filter:\n" + "".join(f"    {line}\n" for line in BOMB.splitlines())
                   .replace("    a:", "    label:", 1))
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert time.monotonic() - start < 5
    assert info.value.problems == [f"{cfg} was refused: it expands to more than 100,000 values through aliases (&/*)"]
    assert main(["train", str(cfg)]) == 2
    assert f"{cfg} was refused: it expands to more than 100,000 values" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="the value of --set data.filter was refused"):
        load_config(None, ["data.filter=" + "{" + BOMB.replace("\n", ", ").rstrip(", ") + "}"])


def test_alias_bomb_and_bad_text_in_sweep_files(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(BOMB)
    with pytest.raises(ValueError, match=f"^{sweep} was refused: it expands"):
        load_sweep(sweep)
    base = tmp_path / "base.yaml"
    base.write_bytes(b"name: caf\xe9\n")  # Latin-1, not UTF-8
    sweep.write_text("base: base.yaml\nparameter: lr\nvalues: [0.1, 0.2]\n")
    with pytest.raises(ValueError) as info:
        load_sweep(sweep)
    assert str(info.value) == f"{base} is not UTF-8 text (byte 0xe9 at position 9); save it as UTF-8"


def test_non_utf8_recursive_and_oversized_yaml_name_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "latin1.yaml"
    cfg.write_bytes("name: réplique\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.problems == [f"{cfg} is not UTF-8 text (byte 0xe9 at position 7); save it as UTF-8"]
    loop = tmp_path / "loop.yaml"
    loop.write_text("data: &d {filter: *d}\n")
    with pytest.raises(ValueError, match=f"^{loop} was refused: an alias refers to itself"):
        read_yaml(loop)
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * YAML_MAX_BYTES)
    with pytest.raises(ValueError, match=f"^{big} is {YAML_MAX_BYTES + 2:,} bytes; a YAML file here is at most"):
        read_yaml(big)
    with pytest.raises(ValueError, match="^deep was refused: it is nested too deeply$"):
        parse_yaml("[" * 20000 + "]" * 20000, "deep")
    assert parse_yaml("base: &b {x: 1}\nother: {<<: *b, y: 2}\n") == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}


def test_out_of_range_and_non_finite_values_are_all_listed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("recipes: [{preset: simclr, weight: .nan}]\ncrop_size: 100000000000000000000000\n"
                   "epochs: 100000000000000000000000000000000\nlr: .inf\nseed: 340282366920938463463374607431768211456\n"
                   "momentum: .nan\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert set(info.value.problems) >= {
        "recipes[0].weight must be a number >= 0 and at most 1000; got nan",
        "'crop_size' must be a whole number from 16 to 1,024; got 100000000000000000000000",
        "'epochs' must be a whole number from 1 to 100,000; got 100000000000000000000000000000000",
        "'seed' must be a whole number from 0 to 4,294,967,295; got 340282366920938463463374607431768211456",
        "'lr' (learning rate) must be a number above 0 and finite, e.g. 0.001; got inf",
        "'momentum' must be a number from 0 to 1; got nan",
    }
    with pytest.raises(ConfigError, match="'lr' .* got nan"):
        load_config(None, ["lr=.nan"])
    with pytest.raises(ConfigError, match="'crop_size' must be a whole number from 16 to 1,024; got '1e23'"):
        load_config(None, ["crop_size=1e23"])


def test_checkpoint_without_weights_says_what_is_missing_and_what_it_is(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    path = save_checkpoint(tmp_path / "gutted.pt", {"method": "moco_v2", "backbone": "tiny_cnn", "step": 40,
                                                    "in_channels": 1, "crop_size": 28})
    expected = ("gutted.pt is an ssrl checkpoint (method moco_v2, backbone tiny_cnn, step 40) but its model weights "
                "('model') are missing, so it can neither embed cells nor resume training; use the run's complete "
                "checkpoint.pt")
    for load in (load_checkpoint, load_encoder):
        with pytest.raises(ValueError) as info:
            load(path)
        assert str(info.value) == expected
    assert main(["export-checkpoint", str(path), str(tmp_path / "small.pt")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {expected}"
