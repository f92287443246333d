"""`ssrl train`, `ssrl runs`, `ssrl export-checkpoint`: in-process and as a real process (Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ssrl_core import paths
from ssrl_core.cli import main
from ssrl_core.train import rundir as rd

from tiny_runs import CLI_SETS, tiny_run_yaml

SETS = CLI_SETS


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return tiny_run_yaml(tmp_path, "cli", epochs=1)


def test_train_json_then_runs_and_export(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out_dir = tmp_path / "out"
    assert main(["train", str(config), "--out", str(out_dir), "--json", "--set", "max_steps=2", *SETS]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "finished" and result["step"] == 2 and Path(result["checkpoint"]).is_file()
    assert main(["runs", "--json", "--dir", str(tmp_path)]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run"] for r in runs] == ["out"] and runs[0]["state"] == "finished"
    assert main(["train", str(config), "--out", str(out_dir), "--json"]) == 2  # would overwrite a run
    assert "--resume" in capsys.readouterr().err
    assert main(["export-checkpoint", result["checkpoint"], str(tmp_path / "small.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["half"] is True


def test_bad_config_is_reported_on_stderr(config: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", str(config), "--set", "lr=0", "--set", "epochs=-1", "--json"]) == 2
    err = capsys.readouterr().err
    assert "'lr' (learning rate)" in err and "'epochs'" in err


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_finishes(config: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(paths.PROJECT_ROOT), OMP_NUM_THREADS="1")
    out_f, err_f = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(out_f, "w") as o, open(err_f, "w") as e:  # files, not pipes: the progress bar never blocks
        proc = subprocess.Popen([sys.executable, "-m", "ssrl_core", "train", str(config), "--out", str(run),
                                 "--set", "epochs=100000", *SETS], env=env, stdout=o, stderr=e)
    try:
        rd.wait_for(lambda: proc.poll() is not None or (rd.read_json(run / "status.json").get("step") or 0) >= 6, 120)
        started = proc.poll() is None
        assert started, err_f.read_text()[-2000:]
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = out_f.read_text(), err_f.read_text()
    assert proc.returncode == 0, err[-2000:]
    status = rd.read_json(run / "status.json")
    assert status["state"] == "stopped" and "Ctrl-C" in status["error"] and "stopped at step" in out
    stopped_at = status["step"]
    assert main(["train", "--resume", str(run), "--json", "--set", f"max_steps={stopped_at + 3}", *SETS]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["state"] == "finished" and result["step"] == stopped_at + 3


def test_init_flag_takes_the_parents_architecture(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parent = tmp_path / "parent"
    assert main(["train", str(config), "--out", str(parent), "--json", "--set", "max_steps=1", *SETS,
                 "--set", "per_channel=true", "--set", "backbone=small_cnn"]) == 0
    capsys.readouterr()
    # the child's config names another backbone and crop: --init replaces them by the parent's
    assert main(["train", str(config), "--out", str(tmp_path / "child"), "--json", "--init", str(parent),
                 "--set", "max_steps=1", "--set", "cpu_threads=1", "--set", "batch_size=8"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "finished"
    child = (tmp_path / "child" / "config.yaml").read_text()
    assert "backbone: small_cnn" in child and "per_channel: true" in child and "crop_size: 28" in child
