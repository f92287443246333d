"""Parameter sweep orchestration: real (tiny) training runs, resumable results, statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from ssrl_core.evaluate.sweep_runner import (load_sweep, read_results, run_sweep, set_parameter,
                                             sweep_from_dict)

BASE = {"name": "tiny", "data": {"name": "mnist-5k", "max_cells": 120}, "recipes": ["mnist-set1"],
        "method": "simclr", "backbone": "tiny_cnn", "crop_size": 28, "epochs": 1, "batch_size": 32,
        "max_steps": 2, "device": "cpu", "log_every": 1}


def test_set_parameter_paths() -> None:
    raw = set_parameter(BASE, "recipes.0.steps.1.params.degrees", 90.0)
    assert raw["recipes"][0]["recipe"]["steps"][1]["params"]["degrees"] == 90.0
    assert BASE["recipes"] == ["mnist-set1"]  # the base is not changed
    raw = set_parameter(BASE, {"recipe": 0, "step": "rotate", "param": "degrees"}, 45.0)
    assert raw["recipes"][0]["recipe"]["steps"][1]["params"]["degrees"] == 45.0
    assert set_parameter(BASE, "lr", 0.1)["lr"] == 0.1
    with pytest.raises(ValueError, match="no step"):
        set_parameter(BASE, {"recipe": 0, "step": "blur", "param": "sigma"}, 1.0)
    with pytest.raises(ValueError, match="values"):
        sweep_from_dict({"base": BASE, "parameter": "lr", "values": [1]})


def test_sweep_trains_probes_and_resumes(tmp_path) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE))
    sweep_file.write_text(yaml.safe_dump({"base": "base.yaml", "parameter": "recipes.0.steps.1.params.degrees",
                                          "values": [0.0, 90.0], "seeds": [0], "probe_column": "label",
                                          "test_fraction": 0.5}))
    cfg = load_sweep(sweep_file)
    out = tmp_path / "sweep"
    rep = run_sweep(cfg, out)
    res = read_results(out)
    assert len(res) == 2 * 10  # 2 values x 1 seed x 10 digit classes
    assert set(res["value"]) == {0.0, 90.0} and res["accuracy"].between(0, 1).all()
    assert (out / "v00_s0" / "checkpoint.pt").is_file() and (out / "v01_s0" / "checkpoint.pt").is_file()
    for name in ("curves.csv", "pairs.csv", "slopes.csv", "summary.json"):
        assert (out / name).is_file()
    assert len(rep["pairs"]) == 45 and np.isfinite(rep["opposite_ratio"])
    stamp = (out / "v00_s0" / "checkpoint.pt").stat().st_mtime_ns
    rep2 = run_sweep(cfg, out)  # everything done: nothing is retrained or re-appended
    assert (out / "v00_s0" / "checkpoint.pt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(read_results(out), res)
    assert rep2["opposite_ratio"] == rep["opposite_ratio"]
