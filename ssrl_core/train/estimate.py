"""How long a run or a sweep will take on this machine, from a measured training speed.

The speed (cell pairs per second) comes from the newest earlier run with the same backbone,
crop size, batch size, dataset and device (its `metrics.jsonl`, first record left out: it holds
the warm-up), or from a measurement: a real 4-step run of the same configuration
(`train.jobs.launch`, a background process, under the cache folder `cache_dir()/speed/<hash>`,
so it is never listed as a run). Its start (Python, torch, the cells, the network) costs 8-15 s
on a quiet CPU, so a measurement is done once per machine and configuration: a finished one in
the cache is reused by every process and after a restart. Estimated time = pairs to train /
speed + a start-up allowance, capped by the time budget. The app's Train and Bias pages draw
these numbers (`ssrl_app/shell/estimate.py` remembers them per session).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, Callable

from ssrl_core import jobs as job_layer
from ssrl_core import paths
from ssrl_core.io import read_yaml
from ssrl_core.train import jobs
from ssrl_core.train.config import RunConfig

STARTUP_S = 12.0  # starting Python + torch, loading the cells, building the model (measured here: 8-15 s)
PROBE_S = 6.0  # a sweep point: embedding and probing after training
CHECK_STEPS = 4  # training steps of a speed check


def speed_key(raw: dict[str, Any]) -> str:
    """What a training speed depends on: backbone, crop size, batch size, dataset, device."""
    d = raw.get("data", {})
    return f"{raw.get('backbone')}|{raw.get('crop_size')}|{raw.get('batch_size')}|{d.get('name')}|{raw.get('device')}"


def rate_from_runs(raw: dict[str, Any], runs: list[dict[str, Any]]) -> float | None:
    """Median pairs/s of the newest earlier run (`jobs.list_runs()`, newest first) trained like
    `raw` (None when there is none)."""
    for r in runs:
        run_dir = Path(str(r.get("path") or ""))
        try:
            cfg = read_yaml(run_dir / "config.yaml") or {}
        except (OSError, ValueError):
            continue
        if speed_key({**cfg, "device": raw.get("device")}) != speed_key(raw):
            continue
        m = jobs.read_metrics(run_dir)
        if "pairs_per_s" in m.columns and len(m) > 1:
            return float(m["pairs_per_s"].iloc[1:].median())
    return None


def speed_check(raw: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """The 4-step speed check of `raw` and its folder (`cache_dir()/speed/<hash of the check>`)."""
    probe = copy.deepcopy(raw)
    batch = int(probe.get("batch_size") or 32)
    probe.update(name="speed-check", epochs=1, log_every=2, max_minutes=None, warmup_epochs=0.0)
    probe["data"] = {**probe.get("data", {}), "max_cells": batch * CHECK_STEPS}
    digest = hashlib.sha1(json.dumps(probe, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return probe, paths.cache_dir() / "speed" / digest


def check_status(run_dir: Path) -> dict[str, Any]:
    """A speed check's status ({} before it was started)."""
    return (jobs.read_status(run_dir) or {}) if (run_dir / "status.json").is_file() else {}


def finished_rate(run_dir: Path) -> float | None:
    """The steady pairs/s of a finished speed check (None when it is not finished)."""
    if check_status(run_dir).get("state") != "finished":
        return None
    m = jobs.read_metrics(run_dir)
    return float(m["pairs_per_s"].iloc[-1]) if "pairs_per_s" in m.columns and not m.empty else None


def cached_rate(raw: dict[str, Any]) -> float | None:
    """The speed of `raw` measured earlier on this machine (a finished speed check in the cache)."""
    try:
        return finished_rate(speed_check(raw)[1])
    except (OSError, ValueError):
        return None


def start_check(raw: dict[str, Any]) -> bool:
    """Start the speed check of `raw` in the background when none ran for it and no other speed
    check is running (one at a time, so a shared CPU is not flooded); True if started. Best
    effort: False when it cannot start (`measure` tries again)."""
    probe, run_dir = speed_check(raw)
    if (run_dir / "status.json").is_file():
        return False  # measured, measuring, or failed
    folder = run_dir.parent
    if folder.is_dir() and any(job_layer.is_active(check_status(d)) for d in folder.iterdir() if d.is_dir()):
        return False
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        jobs.launch(RunConfig.from_dict(probe), run_dir=run_dir)
    except Exception:  # warming is best effort: a measurement starts its own when asked
        return False
    return True


def measure(raw: dict[str, Any], timeout: float = 180.0,
            progress: Callable[[float, str], None] | None = None) -> float:
    """The steady pairs/s of `raw`: a finished speed check in the cache, else the one running (a
    warm-up), else a new 4-step run in a background process; `progress(share, words)` is called
    about 4 times a second while waiting (share of the expected time, which is about 12 s).
    RuntimeError with the check's own error when it fails or does not finish in `timeout` s."""
    probe, run_dir = speed_check(raw)
    rate = finished_rate(run_dir)
    if rate is not None:
        return rate
    if not job_layer.is_active(check_status(run_dir)):
        run_dir.mkdir(parents=True, exist_ok=True)
        jobs.launch(RunConfig.from_dict(probe), run_dir=run_dir)
    t0 = time.time()
    while time.time() - t0 < timeout:
        status = check_status(run_dir)
        if status and not job_layer.is_active(status):
            break
        if progress is not None:
            spent = time.time() - t0
            steps = int(status.get("step") or 0)
            words = (f"training step {steps} of {CHECK_STEPS}" if steps
                     else "starting the check (Python, torch, the cells)")
            progress(min(0.95, spent / (STARTUP_S + CHECK_STEPS)), f"Measuring this machine's speed: {words} · "
                     f"{spent:.0f} s")
        time.sleep(0.25)
    rate = finished_rate(run_dir)
    if rate is None:
        raise RuntimeError(check_status(run_dir).get("error") or "the speed check did not finish in time")
    return rate


def run_seconds(n_cells: int, epochs: int, batch: int, rate: float, budget_min: float | None = None) -> float:
    """Seconds a run takes: its pairs (epochs x whole batches of the cells) / rate plus start-up,
    the training part capped by the time budget (`max_minutes`)."""
    steps = int(epochs) * max(1, math.ceil(int(n_cells) / max(1, int(batch))))
    train_s = steps * int(batch) / max(rate, 1e-6)
    if budget_min:
        train_s = min(train_s, float(budget_min) * 60.0)
    return STARTUP_S + train_s
