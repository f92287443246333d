"""The run directory: the one source of truth about a training run.

Layout (stable names, documented in docs/training.md):
  config.yaml              the run configuration
  status.json              state, progress, epoch, step, eta, error, pid (rewritten atomically)
  metrics.jsonl            one JSON line per logging interval (appended)
  checkpoint.pt            the last checkpoint (always this name)
  checkpoint_epoch{N}.pt   kept every `checkpoint_every` epochs
  train.log                the log (and stdout/stderr of a launched job)
  stop                     create this file to stop the run cleanly at the next step
  .lock                    held (fcntl.flock) by the one process training into the directory

A run directory is a job folder (`ssrl_core.jobs`): status.json, job.json, the stop file and the
lock (one process owns a run directory at a time; a second start is refused with `RunLocked`) are
the job layer's, and their helpers are named here too so that training code reads one module.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

from ssrl_core.io import atomic_write_text
from ssrl_core.jobs import (
    LOCK,
    STATES,
    STATUS,
    STOP,
    RunLocked,
    check_unlocked,
    clear_stop,
    lock,
    new_run_dir,
    now_iso,
    pid_alive,
    proc_start,
    read_json,
    request_stop,
    slug,
    stop_requested,
    wait_for,
    write_status,
)
from ssrl_core.models.encoder_file import CHECKPOINT

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
LOG = "train.log"
__all__ = ["CONFIG", "METRICS", "CHECKPOINT", "LOG", "epoch_checkpoint_name", "append_metrics",
           "read_metrics_records", "truncate_metrics", "eta_seconds", "run_logger", "close_logger",
           # the job layer's, named here for training code
           "LOCK", "STATES", "STATUS", "STOP", "RunLocked", "check_unlocked", "clear_stop", "lock", "new_run_dir",
           "now_iso", "pid_alive", "proc_start", "read_json", "request_stop", "slug", "stop_requested",
           "wait_for", "write_status"]


def epoch_checkpoint_name(epoch: int) -> str:
    """`checkpoint_epoch{N}.pt` for the epoch number N (1-based: after N epochs)."""
    return f"checkpoint_epoch{epoch}.pt"


def append_metrics(run_dir: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line to metrics.jsonl (flushed at once, so readers see whole lines)."""
    line = json.dumps(record, default=float) + "\n"
    path = Path(run_dir) / METRICS
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if os.write(fd, data) != len(data):  # a short write: the disk filled up mid-line
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    finally:
        os.close(fd)


def _metric_lines(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON record of metrics.jsonl, in file order."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a half-written last line
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _one_per_step(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last record written for each step, in step order."""
    by_step: dict[int, dict[str, Any]] = {}
    for rec in records:  # the last one belongs to the run that went on
        if isinstance(rec.get("step"), int):
            by_step[rec["step"]] = rec
    return [by_step[k] for k in sorted(by_step)]


def read_metrics_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """One record per step from metrics.jsonl, in step order (a step logged twice, by a run
    resumed from an earlier checkpoint, shows its last record)."""
    path = Path(run_dir) / METRICS
    return _one_per_step(_metric_lines(path)) if path.is_file() else []


def run_seconds(run_dir: str | Path) -> float | None:
    """Wall-clock training time of a run: the last `elapsed_s` in its metrics.jsonl (None when unknown)."""
    times = [r["elapsed_s"] for r in read_metrics_records(run_dir) if r.get("elapsed_s") is not None]
    return float(times[-1]) if times else None


def truncate_metrics(run_dir: str | Path, step: int) -> None:
    """Keep one record per step up to `step` (where a resume restarts), rewriting atomically."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return
    records = _metric_lines(path)
    keep = [r for r in _one_per_step(records) if r["step"] <= step]
    if keep != records:
        atomic_write_text(path, "".join(json.dumps(r, default=float) + "\n" for r in keep))


def eta_seconds(elapsed: float, done: int, total: int) -> float | None:
    if done <= 0 or total <= done:
        return 0.0 if total and done >= total else None
    return round(elapsed / done * (total - done), 1)


class _LogFile(logging.FileHandler):
    """train.log; a line that cannot be written (a full disk) is dropped, not printed as a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def run_logger(run_dir: Path, active: bool) -> logging.Logger:
    """The run's logger, writing train.log (on rank 0 only: `active`)."""
    log = logging.getLogger(f"ssrl_core.train.run.{run_dir.name}.{os.getpid()}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if active and not log.handlers:
        h = _LogFile(run_dir / LOG, encoding="utf-8")
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(h)
    return log


def close_logger(log: logging.Logger) -> None:
    """Close and remove the logger's file handlers (the run is over)."""
    for h in list(log.handlers):
        h.close()
        log.removeHandler(h)
