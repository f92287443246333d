"""A run that meets a full disk: stop in words, leave its files consistent, resume once space is freed.

A write refused because the disk is full (`oserrors.is_disk_full`: ENOSPC, a quota, a short
write) can come from the checkpoint, metrics.jsonl, status.json or the log. The checkpoint is
written atomically, so the last complete `checkpoint.pt` is intact (a half-written temporary
file is removed, which frees its space). Then, without needing any new space:

- metrics.jsonl is cut in place (`os.truncate`) after the last record at or before the
  checkpoint's step, so it never runs ahead of the checkpoint a resume starts from;
- status.json says `stopped` with "stopped: the disk is full (N MB free in FOLDER)", what is kept
  and how to resume (`jobs.write_status` rewrites it in place when a new file cannot be made).

`ssrl train --resume RUN_DIR` then continues from that checkpoint once space is freed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ssrl_core.oserrors import disk_full_text
from ssrl_core.train import rundir as rd


class TrainingStopped(RuntimeError):
    """The run stopped on its own for a reason the user can fix (the message says which)."""


def truncate_metrics_in_place(run_dir: str | Path, step: int) -> None:
    """Cut metrics.jsonl after the last whole record with `step` <= `step` (frees space, needs none)."""
    path = Path(run_dir) / rd.METRICS
    if not path.is_file():
        return
    data = path.read_bytes()
    keep, offset = 0, 0
    for line in data.splitlines(keepends=True):
        offset += len(line)
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            break
        if not line.endswith(b"\n") or not isinstance(rec, dict) or int(rec.get("step", 0)) > step:
            break
        keep = offset
    if keep < len(data):
        os.truncate(path, keep)


def stop_for_full_disk(run_dir: str | Path, saved_step: int | None, step: int, log: Any = None) -> str:
    """Make the run's files consistent after a full disk (see the module docstring); returns the
    message now in status.json."""
    run_dir = Path(run_dir)
    truncate_metrics_in_place(run_dir, saved_step or 0)
    if saved_step is None:
        kept = "no checkpoint had been saved yet, so nothing can be resumed. Free some space, then start the run again"
    else:
        kept = (f"{rd.CHECKPOINT} (step {saved_step}) and {rd.METRICS} up to that step are intact. Free some space, "
                f"then resume with `ssrl train --resume {run_dir}`")
    message = f"stopped: {disk_full_text(run_dir)} at step {step}; {kept}."
    rd.write_status(run_dir, state="stopped", error=message, disk_full=True, step=saved_step or 0)
    if log is not None:
        log.error("run %s", message)
    return message
