"""The run directory: the one source of truth about a training run.

Layout (stable names, documented in docs/training.md):
  config.yaml              the run configuration
  status.json              state, progress, epoch, step, eta, error, pid (rewritten atomically)
  metrics.jsonl            one JSON line per logging interval (appended)
  checkpoint.pt            the last checkpoint (always this name)
  checkpoint_epoch{N}.pt   kept every `checkpoint_every` epochs
  train.log                the log (and stdout/stderr of a launched job)
  stop                     create this file to stop the run cleanly at the next step
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ssrl_core.io import atomic_write_json

CONFIG = "config.yaml"
STATUS = "status.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
LOG = "train.log"
STOP = "stop"
STATES = ("queued", "running", "finished", "stopped", "failed")


def epoch_checkpoint_name(epoch: int) -> str:
    """`checkpoint_epoch{N}.pt` for the epoch number N (1-based: after N epochs)."""
    return f"checkpoint_epoch{epoch}.pt"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe short form of a run name."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-.") or "run"
    return s[:limit]


def new_run_dir(name: str, base: str | Path | None = None) -> Path:
    """Create a fresh, unique run directory: `YYYYmmdd-HHMMSS_<name>_<random>`.

    The random suffix and `mkdir(exist_ok=False)` make two runs started in the same second
    never share a directory.
    """
    from ssrl_core import paths

    base = Path(base) if base is not None else paths.runs_dir()
    base.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = base / f"{stamp}_{slug(name)}_{secrets.token_hex(3)}"
        try:
            path.mkdir(parents=False, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"Could not create a new run directory under {base}")


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_status(run_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into status.json and rewrite it atomically; returns the new status."""
    path = Path(run_dir) / STATUS
    status = read_json(path)
    status.update(fields)
    status["updated"] = now_iso()
    atomic_write_json(path, status)
    return status


def append_metrics(run_dir: str | Path, record: dict[str, Any]) -> None:
    """Append one JSON line to metrics.jsonl (flushed at once, so readers see whole lines)."""
    line = json.dumps(record, default=float) + "\n"
    fd = os.open(Path(run_dir) / METRICS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def read_metrics_records(run_dir: str | Path) -> list[dict[str, Any]]:
    """All complete lines of metrics.jsonl (a half-written last line is skipped)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def stop_requested(run_dir: str | Path) -> bool:
    return (Path(run_dir) / STOP).exists()


def request_stop(run_dir: str | Path) -> Path:
    """Create the stop file; the run stops cleanly at its next step."""
    path = Path(run_dir) / STOP
    path.write_text(f"stop requested at {now_iso()}\n", encoding="utf-8")
    return path


def clear_stop(run_dir: str | Path) -> None:
    try:
        (Path(run_dir) / STOP).unlink()
    except FileNotFoundError:
        pass


def proc_start(pid: int) -> int | None:
    """When the process started (clock ticks since boot, Linux /proc), to tell a reused pid apart."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: Any, started: Any = None) -> bool:
    """True when a process with this id exists, is not a zombie and (when `started` is given,
    from `proc_start`) is the same process, not a later one that got the same id."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if isinstance(started, int):
        now = proc_start(pid)
        if now is not None and now != started:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def eta_seconds(elapsed: float, done: int, total: int) -> float | None:
    if done <= 0 or total <= done:
        return 0.0 if total and done >= total else None
    return round(elapsed / done * (total - done), 1)


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate()` until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
