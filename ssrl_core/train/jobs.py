"""Background training jobs for the app: launch, list, read, stop, re-attach.

A job is `python -m ssrl_core.train RUN_DIR` (or `torchrun --nproc_per_node=N ...` for several
GPUs) started in its own session (`start_new_session=True`), so it outlives a Streamlit rerun or
restart; its stdout/stderr go to RUN_DIR/train.log. The run directory is the truth: after the app
restarts, `list_runs()` reads every status.json again, and a `running` run whose process is gone
is reported as failed ("lost") with a plain reason.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from ssrl_core import jobs, paths
from ssrl_core.io import atomic_write_text
from ssrl_core.train import rundir as rd
from ssrl_core.train.config import RunConfig, load_config

JOB = jobs.JOB  # how the job was started: launcher pid, process group, command


def launch(config: RunConfig | str | Path, run_dir: str | Path | None = None, gpus: int = 1,
           overrides: list[str] | None = None) -> Path:
    """Write RUN_DIR/config.yaml, start the job detached, return RUN_DIR at once (`RunLocked`,
    and nothing written, when another process is training into RUN_DIR).

    `run_dir=None` makes a fresh unique directory under `paths.runs_dir()`; `gpus > 1` starts
    torchrun with that many processes.
    """
    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    if Path(cfg.data.name).expanduser().exists():  # the job runs in the project folder: absolute paths
        cfg.data.name = str(Path(cfg.data.name).expanduser().resolve())
    path = Path(run_dir) if run_dir is not None else rd.new_run_dir(cfg.name)
    path.mkdir(parents=True, exist_ok=True)
    with rd.lock(path):  # RunLocked when a run is training into it; the job takes the lock itself
        if (path / rd.STATUS).is_file() and jobs.is_active(now := read_status(path)):
            pid = now.get("pid") or now.get("launcher_pid")
            raise rd.RunLocked(f"{path} is in use: a job is already {now['state']} in it (pid {pid}); "
                               f"wait for it or stop it (ssrl stop {path})")
        atomic_write_text(path / rd.CONFIG, cfg.to_yaml())
        rd.clear_stop(path)
        rd.write_status(path, state="queued", name=cfg.name, progress=0.0, error=None, queued=rd.now_iso(),
                        epochs=cfg.epochs, method=cfg.method.name, backbone=cfg.backbone, dataset=cfg.data.name)
    cmd = None
    if gpus > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(gpus)}",
               "-m", "ssrl_core.train", str(path)]
    jobs.start(path, "ssrl_core.train", rd.LOG, cmd)
    return path


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """status.json with the run's name and path; a queued/running run whose process is gone is
    reported as `failed` with `lost: true` and a plain reason (the file itself is not changed)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"No run directory at {path}")
    status = jobs.read(path)
    status.setdefault("state", "queued" if (path / rd.CONFIG).exists() else "unknown")
    status["run"] = path.name
    status["path"] = str(path)
    status["has_checkpoint"] = (path / rd.CHECKPOINT).is_file()
    unknown_pid = not any(isinstance(status.get(k), int) for k in ("pid", "launcher_pid"))
    if status["state"] == "queued" and unknown_pid:  # being launched right now: nothing to check yet
        return status
    if jobs.gone(path, status):
        ckpt = f" The last checkpoint ({rd.CHECKPOINT}) is intact; " if status["has_checkpoint"] else " "
        status.update(state="failed", lost=True, error=(
            f"The training process (pid {status.get('pid')}) is no longer running: it was killed or the "
            f"machine restarted before it finished.{ckpt}resume with `ssrl train --resume {path}`. "
            "See train.log for its last messages."))
    return status


def list_runs(base: str | Path | None = None) -> list[dict[str, Any]]:
    """Every run under `base` (default `paths.runs_dir()`), newest first, with its state."""
    base = Path(base) if base is not None else paths.runs_dir()
    if not base.is_dir():
        return []
    out = []
    for d in base.iterdir():
        if d.is_dir() and ((d / rd.STATUS).exists() or (d / rd.CONFIG).exists()):
            out.append(read_status(d))
    return sorted(out, key=lambda s: (s.get("started") or s.get("queued") or "", s["run"]), reverse=True)


def read_metrics(run_dir: str | Path) -> pd.DataFrame:
    """metrics.jsonl as a table (one row per logged step, in step order; empty before the first)."""
    return pd.DataFrame(rd.read_metrics_records(run_dir))


def stop(run_dir: str | Path, grace_s: float = 15.0, wait: bool = False) -> dict[str, Any]:
    """Ask a run to stop: create the stop file (clean stop at the next step, checkpoint saved);
    if it is still running after `grace_s`, send SIGTERM (also a clean stop) to its process group.

    `wait=False` returns at once (a background thread does the follow-up), for the app.
    """
    path = Path(run_dir)
    rd.request_stop(path)

    def follow_up() -> None:
        done = lambda: not jobs.is_active(read_status(path))  # noqa: E731
        if not rd.wait_for(done, grace_s):
            jobs.signal_job(jobs.read(path), signal.SIGTERM)
            rd.wait_for(done, grace_s)

    if wait:
        follow_up()
    else:
        threading.Thread(target=follow_up, daemon=True, name=f"stop-{path.name}").start()
    return read_status(path)


def wait(run_dir: str | Path, timeout: float = 600.0, interval: float = 0.25) -> dict[str, Any]:
    """Poll until the run is no longer queued/running (or timeout); returns its status."""
    return jobs.wait_done(lambda: read_status(run_dir), timeout, interval)
