"""Background jobs: real subprocesses launched, polled, listed, stopped, and found lost."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ssrl_core.models.encoder_file import load_checkpoint
from ssrl_core.train import jobs, load_config
from ssrl_core.train import rundir as rd


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jobs") / "cells.npz"
    rng = np.random.default_rng(2)
    np.savez(path, images=rng.integers(0, 255, (32, 28, 28), dtype=np.uint8))
    return path


def cfg(npz: Path, name: str, *extra: str):
    return load_config(None, [f"name={name}", f"data.name={npz}", "recipes=[mnist-set1]", "method.name=simclr",
                              "backbone=tiny_cnn", "crop_size=28", "batch_size=8", "log_every=1", "cpu_threads=1", *extra])


def running_with_steps(run: Path, steps: int = 1) -> bool:
    s = jobs.read_status(run)
    return s["state"] == "running" and (s.get("step") or 0) >= steps


@pytest.mark.slow
def test_two_jobs_at_once_finish_in_their_own_directories(npz: Path) -> None:
    a = jobs.launch(cfg(npz, "twin", "max_steps=3", "epochs=1"))
    b = jobs.launch(cfg(npz, "twin", "max_steps=3", "epochs=1"))
    assert a != b and a.parent == b.parent and "twin" in a.name
    for run in (a, b):
        status = jobs.wait(run, timeout=120)
        assert status["state"] == "finished", (status, (run / "train.log").read_text()[-2000:])
        for name in ("config.yaml", "status.json", "metrics.jsonl", "checkpoint.pt", "train.log", "job.json"):
            assert (run / name).is_file(), name
        metrics = jobs.read_metrics(run)
        assert list(metrics["step"]) == [1, 2, 3] and metrics["loss"].notna().all()
        assert load_checkpoint(run / "checkpoint.pt")["step"] == 3
    listed = {r["run"]: r for r in jobs.list_runs()}
    assert {a.name, b.name} <= set(listed) and listed[a.name]["state"] == "finished"


@pytest.mark.slow
def test_stop_file_sigterm_and_kill_mid_run(npz: Path) -> None:
    """Three long jobs at once: one stopped via jobs.stop (stop file), one by SIGTERM, one killed."""
    stop = jobs.launch(cfg(npz, "stop", "epochs=100000"))
    term = jobs.launch(cfg(npz, "term", "epochs=100000"))
    kill = jobs.launch(cfg(npz, "kill", "epochs=100000", "checkpoint_steps=4"))  # saved every 4 steps
    for run in (stop, term, kill):
        assert rd.wait_for(lambda: running_with_steps(run, 8), 120), (run / "train.log").read_text()[-2000:]
    os.kill(jobs.read_status(term)["pid"], signal.SIGTERM)
    os.kill(jobs.read_status(kill)["pid"], signal.SIGKILL)
    status = jobs.stop(stop, grace_s=30, wait=True)
    assert status["state"] == "stopped" and "stop file" in status["error"]
    assert load_checkpoint(stop / "checkpoint.pt")["step"] == status["step"] >= 8
    status = jobs.wait(term, timeout=60)
    assert status["state"] == "stopped" and "SIGTERM" in status["error"]
    assert load_checkpoint(term / "checkpoint.pt")["step"] == status["step"]
    lost = jobs.wait(kill, timeout=30)
    assert lost["state"] == "failed" and lost["lost"] is True and "no longer running" in lost["error"]
    assert load_checkpoint(kill / "checkpoint.pt")["step"] >= 4  # the last checkpoint is intact


@pytest.mark.slow
def test_a_stop_pressed_while_the_job_starts_is_not_lost(npz: Path) -> None:
    """The stop file written before the process has started training (it was still importing) ends
    the run at its first step; it used to be cleared at start, and the run trained on until SIGTERM."""
    run = jobs.launch(cfg(npz, "early", "epochs=100000"))
    rd.request_stop(run)
    status = jobs.wait(run, timeout=120)
    assert status["state"] == "stopped" and "stop file" in status["error"], status
    assert load_checkpoint(run / "checkpoint.pt")["step"] == status["step"] == 1


def test_only_a_stop_file_older_than_the_queued_job_is_cleared(tmp_path: Path) -> None:
    rd.write_status(tmp_path, state="queued", queued=rd.now_iso())
    stop = rd.request_stop(tmp_path)
    rd.clear_stop(tmp_path, keep_if_queued=True)
    assert stop.is_file()  # asked of this job while it was starting
    os.utime(stop, (stop.stat().st_mtime - 3600,) * 2)
    rd.clear_stop(tmp_path, keep_if_queued=True)
    assert not stop.exists()  # left from an hour before it was queued
    rd.request_stop(tmp_path)
    rd.write_status(tmp_path, state="stopped")
    rd.clear_stop(tmp_path, keep_if_queued=True)
    assert not stop.exists()  # a run started from the command line, not queued: any old stop file goes


def test_dead_pid_in_a_running_status_is_lost(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    run = tmp_path / "old_run"
    run.mkdir()
    rd.write_status(run, state="running", pid=proc.pid, step=5)
    status = jobs.read_status(run)
    assert status["state"] == "failed" and status["lost"] and "resume" in status["error"]
    assert rd.read_json(run / "status.json")["state"] == "running"  # the directory itself is not rewritten
    assert jobs.read_metrics(run).empty


def test_a_reused_pid_is_not_mistaken_for_the_run(tmp_path: Path) -> None:
    """After a restart another process may get the run's pid: its start time gives it away."""
    run = tmp_path / "reused"
    run.mkdir()
    me = os.getpid()
    rd.write_status(run, state="running", pid=me, pid_start=rd.proc_start(me))
    assert jobs.read_status(run)["state"] == "running"
    rd.write_status(run, pid_start=rd.proc_start(me) - 1)
    assert jobs.read_status(run)["state"] == "failed"
