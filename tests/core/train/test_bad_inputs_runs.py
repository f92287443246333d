"""Bad inputs that could lose a run (issue 10): two trainings into one directory, a refused
resume, duplicate metrics after a resume, a sweep folder used twice. Each builds its inputs in
tmp_path and checks that the first run's files are left exactly as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssrl_core import paths
from ssrl_core.cli import main
from ssrl_core.sweeps import jobs as sweep_jobs
from ssrl_core.train import jobs
from ssrl_core.train import rundir as rd

from tiny_runs import CLI_SETS, tiny_run_yaml

SETS = CLI_SETS


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    return tiny_run_yaml(tmp_path, "first", epochs=1)


def snapshot(run: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of a run directory (but the lock file, which only holds a pid) with its mtime."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(run.iterdir())
            if p.is_file() and p.name != rd.LOCK}


def test_second_training_into_a_busy_directory_is_refused_and_the_first_run_is_intact(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(paths.PROJECT_ROOT), OMP_NUM_THREADS="1")
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen([sys.executable, "-m", "ssrl_core", "train", str(config), "--out", str(run),
                                  "--set", "epochs=100000", *SETS], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert rd.wait_for(lambda: len(rd.read_metrics_records(run)) >= 2, 120), (tmp_path / "first.log").read_text()
        status = rd.read_json(run / rd.STATUS)
        assert status["state"] == "running" and status["pid"] == first.pid
        config_before = (run / rd.CONFIG).read_text()
        other = tmp_path / "other.yaml"
        other.write_text(config.read_text().replace("name: first", "name: second"))

        assert main(["train", str(other), "--out", str(run), *SETS]) == 2  # the CLI, in the foreground
        err = capsys.readouterr().err
        assert f"{run} is in use: process {first.pid} is training into it" in err
        with pytest.raises(rd.RunLocked, match=f"process {first.pid}"):  # the app's Train page and --background
            jobs.launch(other, run, overrides=SETS[1::2])
        second = subprocess.run([sys.executable, "-m", "ssrl_core.train", str(run)], env=env,
                                capture_output=True, text=True, timeout=120)  # what a launched job runs
        assert second.returncode == 1 and f"process {first.pid}" in second.stderr

        assert (run / rd.CONFIG).read_text() == config_before
        status = rd.read_json(run / rd.STATUS)
        assert status["state"] == "running" and status["pid"] == first.pid and status["name"] == "first"
        assert first.poll() is None
    finally:
        rd.request_stop(run)
        first.wait(timeout=120)
    assert first.returncode == 0
    launched = jobs.launch(config, tmp_path / "job", overrides=[*SETS[1::2], "epochs=100000"])
    try:  # a second launch while the first job is still starting (before it takes the lock)
        with pytest.raises(rd.RunLocked, match="is in use: a job is already (queued|running) in it"):
            jobs.launch(config, launched, overrides=SETS[1::2])
    finally:
        jobs.stop(launched, wait=True)
    assert rd.read_json(run / rd.STATUS)["state"] == "stopped" and (run / rd.CHECKPOINT).is_file()
    steps = [r["step"] for r in rd.read_metrics_records(run)]
    assert steps == sorted(set(steps))


def test_refused_resume_changes_no_file_and_metrics_have_one_record_per_step(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--json", "--set", "epochs=2", *SETS]) == 0
    capsys.readouterr()
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--set", "backbone=resnet18"]) == 2
    err = capsys.readouterr().err
    assert f"Cannot resume {run}" in err and "backbone: checkpoint has 'tiny_cnn', config has 'resnet18'" in err
    assert snapshot(run) == before  # config.yaml, status.json, train.log, metrics, checkpoints: untouched

    # a run that logged past its last checkpoint (killed mid-epoch) and is then resumed
    ckpt_step = rd.read_metrics_records(run)[-1]["step"]
    rd.append_metrics(run, {"step": ckpt_step + 1, "epoch": 3, "loss": 9.0})
    rd.append_metrics(run, {"step": ckpt_step, "epoch": 2, "loss": 8.0})  # a duplicate step
    assert [r["step"] for r in rd.read_metrics_records(run)].count(ckpt_step) == 1  # the reader dedupes
    assert main(["train", "--resume", str(run), "--json", "--set", "epochs=3", *SETS]) == 0
    capsys.readouterr()
    lines = [json.loads(x) for x in (run / rd.METRICS).read_text().splitlines()]
    steps = [r["step"] for r in lines]
    assert len(steps) == len(set(steps)) and steps == sorted(steps)  # truncated to the checkpoint, then appended
    assert 9.0 not in [r["loss"] for r in lines]
    assert list(jobs.read_metrics(run)["step"]) == steps


def test_a_sweep_folder_is_owned_by_one_job(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / sweep_jobs.CONFIG).write_text("base: {}\nparameter: lr\nvalues: [0.1, 0.2]\n")
    code = ("import sys, time\nfrom ssrl_core.train import rundir as rd\n"
            f"with rd.lock({str(folder)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(paths.PROJECT_ROOT)))
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(folder)
        with pytest.raises(rd.RunLocked, match=f"process {holder.pid}"):
            sweep_jobs.resume(folder)
        assert sweep_jobs.main([str(folder)]) == 1  # a second job process refuses at once
        assert snapshot(folder) == before
    finally:
        holder.kill()
        holder.wait()
