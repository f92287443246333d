"""Running a bias sweep (`ssrl_core.evaluate.sweep.run_sweep`) as a background process.

The Bias page must not train inside the Streamlit script, so the sweep runs in its own process
(`python -m ssrl_app.sweep_job SWEEP_DIR`), writing `status.json` (state, progress, message,
error) atomically beside the core's `results.csv`. The folder is the source of truth: the page
can be left and re-opened. Stopping kills the process group; `run_sweep` resumes finished points.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ssrl_core import paths
from ssrl_core.io import atomic_write_json, atomic_write_text

STATUS = "status.json"
CONFIG = "sweep.yaml"


def new_sweep_dir(name: str) -> Path:
    """A fresh folder `runs_dir()/sweeps/<time>-<name>`."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:40] or "sweep"
    d = paths.runs_dir() / "sweeps" / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}"
    d.mkdir(parents=True, exist_ok=False)
    return d


def launch(sweep: dict[str, Any], name: str = "sweep") -> Path:
    """Check the sweep (raises ValueError in plain words), write it and start the process."""
    from ssrl_core.evaluate import sweep_from_dict
    sweep_from_dict(sweep)
    d = new_sweep_dir(name)
    atomic_write_text(d / CONFIG, yaml.safe_dump(sweep, sort_keys=False))
    atomic_write_json(d / STATUS, {"state": "queued", "progress": 0.0, "message": "starting"})
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(paths.PROJECT_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    with open(d / "sweep.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ssrl_app.sweep_job", str(d)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(paths.PROJECT_ROOT),
                                env=env, start_new_session=True)
    atomic_write_json(d / "job.json", {"pid": proc.pid})
    return d


def read_status(sweep_dir: str | Path) -> dict[str, Any]:
    """The sweep's status; a running sweep whose process is gone reads as failed."""
    d = Path(sweep_dir)
    try:
        status = json.loads((d / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {"state": "unknown"}
    if status.get("state") in ("queued", "running") and not _alive(d):
        time.sleep(0.05)
        try:
            status = json.loads((d / STATUS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        if status.get("state") in ("queued", "running"):
            status.update(state="failed", error="the sweep process stopped unexpectedly; see sweep.log")
    return status


def stop(sweep_dir: str | Path) -> None:
    """End the sweep's process group (finished points stay in results.csv)."""
    pid = _pid(Path(sweep_dir))
    if pid:
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    atomic_write_json(Path(sweep_dir) / STATUS, {"state": "stopped", "progress": None, "message": "stopped"})


def list_sweeps() -> list[Path]:
    """Sweep folders, newest first."""
    base = paths.runs_dir() / "sweeps"
    return sorted((p for p in base.iterdir() if (p / CONFIG).is_file()), reverse=True) if base.is_dir() else []


def _pid(d: Path) -> int | None:
    try:
        return int(json.loads((d / "job.json").read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _alive(d: Path) -> bool:
    pid = _pid(d)
    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap our own finished child, if it is one
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(sweep_dir: str) -> int:
    """Process entry: run the sweep, keeping status.json current."""
    from ssrl_core.evaluate import load_sweep, run_sweep
    d = Path(sweep_dir)

    def progress(done: float, text: str) -> None:
        atomic_write_json(d / STATUS, {"state": "running", "progress": float(done), "message": text})

    try:
        progress(0.0, "starting")
        report = run_sweep(load_sweep(d / CONFIG), d, progress=progress)
        atomic_write_json(d / STATUS, {"state": "finished", "progress": 1.0, "message": "done",
                                       "opposite_ratio": report.get("opposite_ratio")})
        return 0
    except Exception as exc:  # recorded for the page, in words
        atomic_write_json(d / STATUS, {"state": "failed", "progress": None, "error": f"{type(exc).__name__}: {exc}"})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
