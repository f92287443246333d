"""Background parameter sweeps: launch, list, read, stop (on the job layer `ssrl_core.jobs`, like
`ssrl_core.train.jobs` for runs).

A sweep job is `python -m ssrl_core.sweeps.jobs SWEEP_DIR`, started in its own session
(`start_new_session=True`) so it outlives a Streamlit rerun; its output goes to SWEEP_DIR/sweep.log.
The folder is the source of truth:

  sweep.yaml     the sweep (self-contained: the base run config is inline)
  status.json    state (queued | running | finished | stopped | failed), progress, message, error,
                 pid; rewritten atomically by the job (`jobs.write_status`)
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
import sys
from pathlib import Path
from typing import Any, Mapping

import yaml

from ssrl_core import jobs, paths
from ssrl_core.io import atomic_write_json, atomic_write_text

CONFIG = "sweep.yaml"
STATUS = jobs.STATUS
LOG = "sweep.log"
JOB = jobs.JOB
ACTIVE = jobs.ACTIVE


def sweeps_dir() -> Path:
    """`paths.runs_dir()/sweeps`, where sweep folders are made."""
    return paths.runs_dir() / "sweeps"


def launch(sweep: Mapping[str, Any] | str | Path, name: str = "sweep", sweep_dir: str | Path | None = None) -> Path:
    """Check the sweep (a mapping or a sweep YAML path; ValueError in plain words), write
    SWEEP_DIR/sweep.yaml, start the job detached and return SWEEP_DIR at once.

    `sweep_dir=None` makes a fresh unique folder under `sweeps_dir()` named after `name`.
    """
    from ssrl_core.sweeps.runner import load_sweep, sweep_from_dict

    cfg = load_sweep(sweep) if isinstance(sweep, (str, Path)) else sweep_from_dict(dict(sweep))
    from ssrl_core.sweeps.results import check_sweep_folder

    d = Path(sweep_dir) if sweep_dir is not None else jobs.new_run_dir(name, base=sweeps_dir())
    check_sweep_folder(d)
    d.mkdir(parents=True, exist_ok=True)
    with jobs.lock(d):  # RunLocked, and nothing written, when a sweep job is running in it
        atomic_write_text(d / CONFIG, yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    return _start(d, name)


def resume(sweep_dir: str | Path) -> Path:
    """Start the job again on an existing sweep folder (finished points are not redone)."""
    d = Path(sweep_dir)
    if not (d / CONFIG).is_file():
        raise FileNotFoundError(f"No sweep at {d} (it has no {CONFIG}).")
    if jobs.is_active(read_status(d)):
        raise RuntimeError(f"The sweep {d.name} is still running.")
    return _start(d, d.name)


def _start(d: Path, name: str) -> Path:
    with jobs.lock(d):  # the job takes the lock itself once started
        jobs.clear_stop(d)
        atomic_write_json(d / STATUS, {"state": "queued", "name": name, "progress": 0.0, "message": "starting",
                                       "error": None, "queued": jobs.now_iso()})
    jobs.start(d, "ssrl_core.sweeps.jobs", LOG)
    return d


def read_status(sweep_dir: str | Path) -> dict[str, Any]:
    """status.json with the folder's name and path; a queued/running sweep whose process is gone
    reads as `failed` with a plain reason (the file itself is not changed)."""
    d = Path(sweep_dir)
    status = jobs.read(d)
    status.setdefault("state", "unknown")
    status["sweep"], status["path"] = d.name, str(d)
    if jobs.gone(d, status):
        if jobs.stop_requested(d):
            status.update(state="stopped", message="stopped; finished points are kept")
        else:
            status.update(state="failed", error="the sweep process stopped unexpectedly; see sweep.log")
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
    jobs.request_stop(d)
    # a job still starting up (no `running` yet) has no SIGTERM handler: the stop file is enough
    if jobs.read_json(d / STATUS).get("state") == "running":
        jobs.signal_job(jobs.read_json(d / JOB), signal.SIGTERM)  # its process group, while ours
    if grace_s > 0:
        jobs.wait_for(lambda: not jobs.is_active(read_status(d)), grace_s)
    return read_status(d)


def wait(sweep_dir: str | Path, timeout: float = 600.0, interval: float = 0.25) -> dict[str, Any]:
    """Poll until the sweep is no longer queued/running (or timeout); returns its status."""
    return jobs.wait_done(lambda: read_status(sweep_dir), timeout, interval)


class _Stopped(Exception):
    """Raised inside the job when a stop was asked for."""


def main(argv: list[str] | None = None) -> int:
    """Process entry: run the sweep in SWEEP_DIR, keeping status.json current.

    Exit status: 0 finished or stopped on request, 1 failed (the reason is in status.json).
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ssrl_core.sweeps.jobs SWEEP_DIR", file=sys.stderr)
        return 2
    d = Path(args[0])
    asked = {"stop": False}
    # SIGTERM between training steps (training installs its own clean-stop handler meanwhile)
    signal.signal(signal.SIGTERM, lambda *_a: asked.update(stop=True))
    from ssrl_core.sweeps.runner import load_sweep, run_sweep

    def stopping() -> bool:
        return asked["stop"] or jobs.stop_requested(d)

    def progress(done: float, text: str) -> None:
        if stopping():
            raise _Stopped()
        jobs.write_status(d, state="running", progress=float(done), message=text)

    try:
        with jobs.lock(d):  # one job per sweep folder; a second one leaves the first's files alone
            jobs.write_status(d, state="running", progress=0.0, message="starting", error=None, pid=os.getpid(),
                            pid_start=jobs.proc_start(os.getpid()), started=jobs.now_iso())
            try:
                report = run_sweep(load_sweep(d / CONFIG), d, progress=progress)
            except Exception as exc:  # recorded for the page and the CLI, in words
                if stopping():
                    jobs.write_status(d, state="stopped", progress=None, message="stopped; finished points are kept")
                    return 0
                jobs.write_status(d, state="failed", progress=None, error=f"{type(exc).__name__}: {exc}")
                print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
            jobs.write_status(d, state="finished", progress=1.0, message="done", ended=jobs.now_iso(),
                            opposite_ratio=report.get("opposite_ratio"))
            return 0
    except jobs.RunLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
