"""The job layer: a folder owned by one background process, for training runs, sweeps and later jobs.

A job folder holds (stable names; a training run directory adds its own, see `train.rundir`):
  status.json   state (queued | running | finished | stopped | failed), progress, error, pid;
                rewritten atomically, by the job only
  job.json      how the job was started (launcher pid, its start time, process group, command);
                written only by `start`, so no two writers race on a file
  stop          created by `request_stop`: the job ends cleanly at its next step
  .lock         held (fcntl.flock) by the one process working in the folder

A job is `python -m MODULE FOLDER`, started in its own session (`start_new_session=True`) so it
outlives a Streamlit rerun or restart. The folder is the truth: a queued/running job whose process
is gone is found by `gone` (pids are checked with their start time, so a reused pid is not
mistaken for the job). One process owns a folder at a time: `lock(folder)` takes an exclusive,
non-blocking `flock` (the OS releases it when the process dies, even on `kill -9`); a second start
is refused with `RunLocked`, naming the folder and the pid that holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from ssrl_core import paths
from ssrl_core.io import atomic_write_json, overwrite_in_place
from ssrl_core.oserrors import is_disk_full

STATUS = "status.json"
JOB = "job.json"
STOP = "stop"
LOCK = ".lock"
STATES = ("queued", "running", "finished", "stopped", "failed")
ACTIVE = STATES[:2]  # the states of a job that has not ended
_CHILDREN: dict[int, subprocess.Popen] = {}  # launched here: polled so finished ones are reaped


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe short form of a run name."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-.") or "run"
    return s[:limit]


def new_run_dir(name: str, base: str | Path | None = None) -> Path:
    """Create a fresh, unique job folder: `YYYYmmdd-HHMMSS_<name>_<random>` under `base`
    (default `paths.runs_dir()`).

    The random suffix and `mkdir(exist_ok=False)` make two jobs started in the same second
    never share a folder.
    """
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
    """The JSON object in `path`, or `{}` when it is missing or half-written."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_status(folder: str | Path, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into status.json and rewrite it atomically; returns the new status.

    On a full disk, where not even a small new file can be made, the existing status.json is
    overwritten in place (its blocks are already allocated), so a job can still say why it stopped."""
    path = Path(folder) / STATUS
    status = read_json(path)
    status.update(fields)
    status["updated"] = now_iso()
    try:
        atomic_write_json(path, status)
    except OSError as exc:
        if not (is_disk_full(exc) and path.is_file()):
            raise
        overwrite_in_place(path, (json.dumps(status, indent=2, default=str) + "\n").encode("utf-8"))
    return status


def is_active(status: dict[str, Any]) -> bool:
    """True while the job is queued or running."""
    return status.get("state") in ACTIVE


# -- one process per folder ------------------------------------------------------------------------

class RunLocked(RuntimeError):
    """Another process is training (or sweeping) into this directory."""


_HELD: dict[str, list] = {}  # resolved dir -> [open lock file, depth]: re-entrant within a process
_HELD_GUARD = threading.Lock()


def _locked_message(folder: Path, fh: Any) -> str:
    """The refusal, naming the directory and the pid written in its lock file."""
    fh.seek(0)
    pid = fh.read().strip()
    who = f"process {pid}" if pid.isdigit() else "another process"
    return (f"{folder} is in use: {who} is training into it (it holds {folder / LOCK}). Wait for it to end, "
            f"stop it (ssrl stop {folder}), or choose another directory.")


@contextlib.contextmanager
def lock(folder: str | Path) -> Iterator[None]:
    """Own `folder` for the duration: an exclusive, non-blocking `flock` on FOLDER/.lock holding
    our pid. Raises `RunLocked` at once when another process holds it. Re-entrant in one process
    (a sweep job holds its folder while `run_sweep` takes it again)."""
    folder = Path(folder)
    key = str(folder.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
        else:
            fh = open(folder / LOCK, "a+", encoding="utf-8")
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                message = _locked_message(folder, fh)
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


def check_unlocked(folder: str | Path) -> None:
    """Raise `RunLocked` when another process owns `folder` (for launchers, before they write)."""
    if (Path(folder) / LOCK).is_file():
        with lock(folder):
            pass


# -- the stop file ---------------------------------------------------------------------------------

def stop_requested(folder: str | Path) -> bool:
    return (Path(folder) / STOP).exists()


def request_stop(folder: str | Path) -> Path:
    """Create the stop file; the job stops cleanly at its next step."""
    path = Path(folder) / STOP
    path.write_text(f"stop requested at {now_iso()}\n", encoding="utf-8")
    return path


def clear_stop(folder: str | Path, keep_if_queued: bool = False) -> None:
    """Remove the stop file; with `keep_if_queued` (a job's start), keep one written since the job was
    queued (status.json's `queued`, while it reads "queued"): Stop was pressed as the job started."""
    path, status = Path(folder) / STOP, read_json(Path(folder) / STATUS) if keep_if_queued else {}
    with contextlib.suppress(FileNotFoundError, ValueError):  # no stop file, or no queued time: remove
        if status.get("state") == "queued" and \
                path.stat().st_mtime >= datetime.fromisoformat(status.get("queued", "")).timestamp():
            return
    path.unlink(missing_ok=True)


# -- processes -------------------------------------------------------------------------------------

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


def start(folder: Path, module: str, log_name: str, command: list[str] | None = None) -> list[str]:
    """Start `python -m MODULE FOLDER` (or `command`) detached, output appended to FOLDER/LOG_NAME,
    and record it in job.json; returns the command. The project root is put on PYTHONPATH."""
    cmd = command or [sys.executable, "-m", module, str(folder)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(paths.PROJECT_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("PYTHONUNBUFFERED", "1")
    with open(folder / log_name, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=str(paths.PROJECT_ROOT), env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
    atomic_write_json(folder / JOB, {"launcher_pid": proc.pid, "launcher_start": proc_start(proc.pid),
                                     "pgid": proc.pid, "command": cmd, "launched": now_iso()})
    return cmd


def read(folder: str | Path) -> dict[str, Any]:
    """job.json and status.json merged (status wins): what the folder says about its job."""
    folder = Path(folder)
    return {**read_json(folder / JOB), **read_json(folder / STATUS)}


def alive(status: dict[str, Any]) -> bool:
    """True while the job's own process or its launcher is running (finished children reaped)."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]
    return (pid_alive(status.get("pid"), status.get("pid_start"))
            or pid_alive(status.get("launcher_pid"), status.get("launcher_start")))


def gone(folder: str | Path, status: dict[str, Any]) -> bool:
    """True when `status` says queued/running but no process of the job is left. A job that has
    just written its final state is not gone: `status` is then updated with it in place."""
    if not is_active(status) or alive(status):
        return False
    time.sleep(0.05)  # the job may have just written its final status
    fresh = read_json(Path(folder) / STATUS)
    if is_active(fresh):
        return True
    status.update(fresh)
    return False


def signal_job(status: dict[str, Any], sig: int) -> bool:
    """Send `sig` to the job's process group (or, without one, to its pid); True when sent.
    The group is signalled only while its leader (the launcher) is the process we started."""
    pgid = status.get("pgid")
    if isinstance(pgid, int) and pid_alive(pgid, status.get("launcher_start")):
        try:
            os.killpg(pgid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            pass
    pid = status.get("pid")
    if pid_alive(pid, status.get("pid_start")):
        try:
            os.kill(pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            pass
    return False


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.2) -> bool:
    """Poll `predicate()` until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def wait_done(read_status: Callable[[], dict[str, Any]], timeout: float = 600.0,
              interval: float = 0.25) -> dict[str, Any]:
    """Poll `read_status()` until the job is no longer queued/running (or timeout); returns it."""
    wait_for(lambda: not is_active(read_status()), timeout, interval)
    return read_status()
