"""Background parameter sweeps: launch, list, read, stop (like `ssrl_core.train.jobs` for runs).

A sweep job is `python -m ssrl_core.evaluate.sweep_jobs SWEEP_DIR`, started in its own session
(`start_new_session=True`) so it outlives a Streamlit rerun; its output goes to SWEEP_DIR/sweep.log.
The folder is the source of truth:

  sweep.yaml     the sweep (self-contained: the base run config is inline)
  status.json    state (queued | running | finished | stopped | failed), progress, message, error,
                 pid; rewritten atomically by the job (`rundir.write_status`)
  job.json       how the job was started (launcher pid, process group); written only by `launch`
  stop           created by `stop()`: the job ends cleanly and records `stopped`
  results.csv, curves.csv, ...   written by `sweep_runner.run_sweep` (resumable)

`stop()` creates the stop file and sends SIGTERM to the job's process group: the point being
trained stops cleanly at its next step (checkpoint kept) and is not probed; launching the same
sweep again (`resume(sweep_dir)`) finishes it, skipping the points already in results.csv.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import yaml

from ssrl_core import paths
from ssrl_core.io import atomic_write_json, atomic_write_text
from ssrl_core.train import rundir as rd

CONFIG = "sweep.yaml"
STATUS = rd.STATUS
LOG = "sweep.log"
JOB = "job.json"
ACTIVE = ("queued", "running")
_CHILDREN: dict[int, subprocess.Popen] = {}  # launched here: polled so finished ones are reaped


def sweeps_dir() -> Path:
    """`paths.runs_dir()/sweeps`, where sweep folders are made."""
    return paths.runs_dir() / "sweeps"


def launch(sweep: Mapping[str, Any] | str | Path, name: str = "sweep", sweep_dir: str | Path | None = None) -> Path:
    """Check the sweep (a mapping or a sweep YAML path; ValueError in plain words), write
    SWEEP_DIR/sweep.yaml, start the job detached and return SWEEP_DIR at once.

    `sweep_dir=None` makes a fresh unique folder under `sweeps_dir()` named after `name`.
    """
    from ssrl_core.evaluate.sweep_runner import load_sweep, sweep_from_dict

    cfg = load_sweep(sweep) if isinstance(sweep, (str, Path)) else sweep_from_dict(dict(sweep))
    d = Path(sweep_dir) if sweep_dir is not None else rd.new_run_dir(name, base=sweeps_dir())
    d.mkdir(parents=True, exist_ok=True)
    with rd.lock(d):  # RunLocked, and nothing written, when a sweep job is running in it
        atomic_write_text(d / CONFIG, yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    return _start(d, name)


def resume(sweep_dir: str | Path) -> Path:
    """Start the job again on an existing sweep folder (finished points are not redone)."""
    d = Path(sweep_dir)
    if not (d / CONFIG).is_file():
        raise FileNotFoundError(f"No sweep at {d} (it has no {CONFIG}).")
    if read_status(d).get("state") in ACTIVE:
        raise RuntimeError(f"The sweep {d.name} is still running.")
    return _start(d, d.name)


def _start(d: Path, name: str) -> Path:
    with rd.lock(d):  # the job takes the lock itself once started
        rd.clear_stop(d)
        atomic_write_json(d / STATUS, {"state": "queued", "name": name, "progress": 0.0, "message": "starting",
                                       "error": None, "queued": rd.now_iso()})
    cmd = [sys.executable, "-m", "ssrl_core.evaluate.sweep_jobs", str(d)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(paths.PROJECT_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(d / LOG, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(paths.PROJECT_ROOT), env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    atomic_write_json(d / JOB, {"launcher_pid": proc.pid, "launcher_start": rd.proc_start(proc.pid),
                                "pgid": proc.pid, "command": cmd, "launched": rd.now_iso()})
    return d


def _alive(status: dict[str, Any]) -> bool:
    for pid, proc in list(_CHILDREN.items()):  # reap our own finished children (no zombies)
        if proc.poll() is not None:
            del _CHILDREN[pid]
    return (rd.pid_alive(status.get("pid"), status.get("pid_start"))
            or rd.pid_alive(status.get("launcher_pid"), status.get("launcher_start")))


def read_status(sweep_dir: str | Path) -> dict[str, Any]:
    """status.json with the folder's name and path; a queued/running sweep whose process is gone
    reads as `failed` with a plain reason (the file itself is not changed)."""
    d = Path(sweep_dir)
    status = {**rd.read_json(d / JOB), **rd.read_json(d / STATUS)}
    status.setdefault("state", "unknown")
    status["sweep"], status["path"] = d.name, str(d)
    if status["state"] in ACTIVE and not _alive(status):
        fresh = rd.read_json(d / STATUS)  # the job may have just written its final status
        if fresh.get("state") in ACTIVE and rd.stop_requested(d):
            status.update(state="stopped", message="stopped; finished points are kept")
        elif fresh.get("state") in ACTIVE:
            status.update(state="failed", error="the sweep process stopped unexpectedly; see sweep.log")
        else:
            status.update(fresh)
    return status


def list_sweeps(base: str | Path | None = None) -> list[Path]:
    """Sweep folders under `base` (default `sweeps_dir()`), newest first."""
    base = Path(base) if base is not None else sweeps_dir()
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / CONFIG).is_file()), key=lambda p: p.name, reverse=True)


def stop(sweep_dir: str | Path, grace_s: float = 0.0) -> dict[str, Any]:
    """Ask the sweep to stop: the stop file, then SIGTERM to its process group (the point being
    trained stops cleanly at its next step). Finished points stay in results.csv.

    `grace_s > 0` waits up to that long for the job to record its final state.
    """
    d = Path(sweep_dir)
    rd.request_stop(d)
    job = rd.read_json(d / JOB)
    pgid = job.get("pgid")
    # a job still starting up (no `running` yet) has no SIGTERM handler: the stop file is enough
    running = rd.read_json(d / STATUS).get("state") == "running"
    if running and isinstance(pgid, int) and rd.pid_alive(job.get("launcher_pid"), job.get("launcher_start")):
        try:
            os.killpg(pgid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    if grace_s > 0:
        rd.wait_for(lambda: read_status(d)["state"] not in ACTIVE, grace_s)
    return read_status(d)


def wait(sweep_dir: str | Path, timeout: float = 600.0, interval: float = 0.25) -> dict[str, Any]:
    """Poll until the sweep is no longer queued/running (or timeout); returns its status."""
    rd.wait_for(lambda: read_status(sweep_dir)["state"] not in ACTIVE, timeout, interval)
    return read_status(sweep_dir)


class _Stopped(Exception):
    """Raised inside the job when a stop was asked for."""


def main(argv: list[str] | None = None) -> int:
    """Process entry: run the sweep in SWEEP_DIR, keeping status.json current.

    Exit status: 0 finished or stopped on request, 1 failed (the reason is in status.json).
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ssrl_core.evaluate.sweep_jobs SWEEP_DIR", file=sys.stderr)
        return 2
    d = Path(args[0])
    asked = {"stop": False}
    # SIGTERM between training steps (training installs its own clean-stop handler meanwhile)
    signal.signal(signal.SIGTERM, lambda *_a: asked.update(stop=True))
    from ssrl_core.evaluate.sweep_runner import load_sweep, run_sweep

    def stopping() -> bool:
        return asked["stop"] or rd.stop_requested(d)

    def progress(done: float, text: str) -> None:
        if stopping():
            raise _Stopped()
        rd.write_status(d, state="running", progress=float(done), message=text)

    try:
        with rd.lock(d):  # one job per sweep folder; a second one leaves the first's files alone
            rd.write_status(d, state="running", progress=0.0, message="starting", error=None, pid=os.getpid(),
                            pid_start=rd.proc_start(os.getpid()), started=rd.now_iso())
            try:
                report = run_sweep(load_sweep(d / CONFIG), d, progress=progress)
            except Exception as exc:  # recorded for the page and the CLI, in words
                if stopping():
                    rd.write_status(d, state="stopped", progress=None, message="stopped; finished points are kept")
                    return 0
                rd.write_status(d, state="failed", progress=None, error=f"{type(exc).__name__}: {exc}")
                print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
            rd.write_status(d, state="finished", progress=1.0, message="done", ended=rd.now_iso(),
                            opposite_ratio=report.get("opposite_ratio"))
            return 0
    except rd.RunLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
