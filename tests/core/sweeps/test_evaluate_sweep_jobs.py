"""Background sweep jobs (`ssrl_core.sweeps.jobs`): a real tiny sweep process, stop, lost jobs."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import yaml

from ssrl_core.sweeps import jobs as sweep_jobs

BASE = {"name": "tiny", "data": {"name": "mnist-5k", "max_cells": 120}, "recipes": ["mnist-set1"],
        "method": "simclr", "backbone": "tiny_cnn", "crop_size": 28, "epochs": 1, "batch_size": 32,
        "max_steps": 2, "device": "cpu", "log_every": 1, "cpu_threads": 1}
SWEEP = {"base": BASE, "parameter": {"recipe": 0, "step": "rotate", "param": "degrees"},
         "values": [0.0, 90.0], "seeds": [0], "probe_column": "label"}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


@pytest.mark.slow
def test_cli_background_sweep_runs_to_the_end(tmp_path, capsys) -> None:
    """`ssrl sweep CONFIG --background` starts the job; it trains, probes and records `finished`."""
    from ssrl_core.cli import main

    config = tmp_path / "rotate.yaml"
    config.write_text(yaml.safe_dump(SWEEP), encoding="utf-8")
    assert main(["sweep", str(config), "--background", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    d = out["sweep_dir"]
    assert out["state"] == "queued" and sweep_jobs.list_sweeps()[0].name == os.path.basename(d)
    status = sweep_jobs.wait(d, timeout=300)
    assert status["state"] == "finished", (status, open(f"{d}/sweep.log").read()[-2000:])
    assert status["progress"] == 1.0 and status["opposite_ratio"] is not None
    results = pd.read_csv(f"{d}/results.csv")
    assert sorted(results["value"].unique()) == [0.0, 90.0]
    assert os.path.isfile(f"{d}/summary.json")
    # the sweep file is self-contained (the base run config inline)
    assert yaml.safe_load(open(f"{d}/sweep.yaml"))["base"]["backbone"] == "tiny_cnn"


def test_stop_before_the_first_point_records_stopped(tmp_path) -> None:
    d = sweep_jobs.launch(SWEEP, "stop-me")
    status = sweep_jobs.stop(d, grace_s=120)
    assert status["state"] == "stopped", (status, (d / sweep_jobs.LOG).read_text()[-2000:])
    assert not (d / "results.csv").exists()


@pytest.mark.slow
def test_stop_during_training_keeps_the_point_unprobed_and_resume_is_offered(tmp_path) -> None:
    from ssrl_core.train import rundir as rd

    long = dict(SWEEP, base=dict(BASE, max_steps=100000, epochs=1000))
    d = sweep_jobs.launch(long, "long")
    assert rd.wait_for(lambda: rd.read_json(d / "v00_s0" / "status.json").get("step", 0) >= 1, 120, 0.2), \
        (d / sweep_jobs.LOG).read_text()[-2000:]
    status = sweep_jobs.stop(d, grace_s=60)
    assert status["state"] == "stopped", (status, (d / sweep_jobs.LOG).read_text()[-2000:])
    assert rd.read_json(d / "v00_s0" / "status.json")["state"] == "stopped"  # a clean stop, checkpoint kept
    assert (d / "v00_s0" / "checkpoint.pt").is_file() and not (d / "results.csv").exists()
    with pytest.raises(FileNotFoundError):
        sweep_jobs.resume(tmp_path / "nowhere")


def test_bad_sweep_is_refused_in_plain_words_and_makes_no_folder() -> None:
    with pytest.raises(ValueError, match="at least two"):
        sweep_jobs.launch(dict(SWEEP, values=[1.0]))
    assert sweep_jobs.list_sweeps() == []


def test_a_sweep_whose_process_is_gone_reads_as_failed(tmp_path) -> None:
    d = tmp_path / "lost"
    d.mkdir()
    (d / sweep_jobs.CONFIG).write_text(yaml.safe_dump(SWEEP), encoding="utf-8")
    (d / sweep_jobs.STATUS).write_text(json.dumps({"state": "running", "pid": 2 ** 22 + 12345}))
    status = sweep_jobs.read_status(d)
    assert status["state"] == "failed" and "sweep.log" in status["error"]
    assert json.loads((d / sweep_jobs.STATUS).read_text())["state"] == "running"  # the file is unchanged
    assert sweep_jobs.list_sweeps(tmp_path) == [d]


def test_app_sweep_helpers_build_a_valid_sweep() -> None:
    from ssrl_core.augment import get_preset
    from ssrl_core.sweeps.runner import even_values, parse_values, recipe_sweep, set_parameter

    assert parse_values("0.1, 0.5; 0.9") == [0.1, 0.5, 0.9]
    assert parse_values("1.0, 3", integer=True) == [1, 3]
    with pytest.raises(ValueError, match="at least two"):
        parse_values("0.5")
    with pytest.raises(ValueError, match="numbers"):
        parse_values("a, b")
    assert even_values(0.0, 1.0, 0.5) == [0.0, 0.333, 0.667, 1.0]
    assert even_values(0, 180, 90, integer=True) == [0, 60, 120, 180]
    assert even_values(None, None, 2.0) == [1.0, 2.0, 3.0, 4.0]
    raw = recipe_sweep("mnist-5k", get_preset("mnist-set1").to_dict(), "rotate", "degrees", [0.0, 90.0],
                       seeds=2, epochs=1, max_cells=100, backbone="tiny_cnn", image_size=28)
    assert raw["seeds"] == [0, 1] and raw["base"]["batch_size"] == 25 and raw["base"]["crop_size"] == 28
    point = set_parameter(raw["base"], raw["parameter"], 90.0)
    steps = point["recipes"][0]["recipe"]["steps"]
    assert next(s for s in steps if s["name"] == "rotate")["params"]["degrees"] == 90.0
    with pytest.raises(ValueError, match="at least two"):
        recipe_sweep("mnist-5k", get_preset("mnist-set1").to_dict(), "rotate", "degrees", [0.0])
