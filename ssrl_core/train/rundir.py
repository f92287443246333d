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

One process owns a run directory at a time: `lock(run_dir)` takes an exclusive `flock` on
`.lock` (the OS releases it when the process dies, even on `kill -9`) and a second start is
refused with `RunLocked`, naming the directory and the pid that holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ssrl_core.io import atomic_write_json, atomic_write_text

CONFIG = "config.yaml"
STATUS = "status.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
LOG = "train.log"
STOP = "stop"
LOCK = ".lock"
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


def truncate_metrics(run_dir: str | Path, step: int) -> None:
    """Keep one record per step up to `step` (where a resume restarts), rewriting atomically."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return
    records = _metric_lines(path)
    keep = [r for r in _one_per_step(records) if r["step"] <= step]
    if keep != records:
        atomic_write_text(path, "".join(json.dumps(r, default=float) + "\n" for r in keep))


class RunLocked(RuntimeError):
    """Another process is training (or sweeping) into this directory."""


_HELD: dict[str, list] = {}  # resolved dir -> [open lock file, depth]: re-entrant within a process
_HELD_GUARD = threading.Lock()


def _locked_message(run_dir: Path, fh: Any) -> str:
    """The refusal, naming the directory and the pid written in its lock file."""
    fh.seek(0)
    pid = fh.read().strip()
    who = f"process {pid}" if pid.isdigit() else "another process"
    return (f"{run_dir} is in use: {who} is training into it (it holds {run_dir / LOCK}). Wait for it to end, "
            f"stop it (ssrl stop {run_dir}), or choose another directory.")


@contextlib.contextmanager
def lock(run_dir: str | Path) -> Iterator[None]:
    """Own `run_dir` for the duration: an exclusive, non-blocking `flock` on RUN_DIR/.lock holding
    our pid. Raises `RunLocked` at once when another process holds it. Re-entrant in one process
    (a sweep job holds its folder while `run_sweep` takes it again)."""
    run_dir = Path(run_dir)
    key = str(run_dir.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            fh = None
        else:
            fh = open(run_dir / LOCK, "a+", encoding="utf-8")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = _locked_message(run_dir, fh)
                fh.close()
                raise RunLocked(message) from None
            fh.truncate(0)
            fh.write(str(os.getpid()))
            fh.flush()
            _HELD[key] = [fh, 1]
    try:
        yield
    finally:
        with _HELD_GUARD:
            _HELD[key][1] -= 1
            if _HELD[key][1] == 0:
                _HELD.pop(key)[0].close()  # closing the file releases the flock


def check_unlocked(run_dir: str | Path) -> None:
    """Raise `RunLocked` when another process owns `run_dir` (for launchers, before they write)."""
    if (Path(run_dir) / LOCK).is_file():
        with lock(run_dir):
            pass


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
