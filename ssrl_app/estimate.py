"""How long a run or a sweep will take on this machine, from a measured training speed.

The speed (cell pairs per second) comes from the newest earlier run with the same backbone,
crop size, batch size and dataset (its `metrics.jsonl`, first record left out: it holds the
warm-up), or from a measurement: a real 4-step run of the same configuration
(`ssrl_core.train.jobs.launch`, a background process, under the cache folder, so it is never
listed as a run). Its start (Python, torch, the cells, the network) costs 8-15 s on a quiet CPU,
so a measurement is done once per machine and configuration: a finished one in the cache is
reused by every session and after a restart, and the Train page starts the measurement of the
configuration on screen in the background when it opens (`warm`; `SSRL_APP_WARM=0` turns it
off), so *Estimate the time* usually finds it done. Estimated time = pairs to train / speed + a
start-up allowance, capped by the time budget.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

from ssrl_app import state
from ssrl_core import jobs as job_layer, paths
from ssrl_core.io import read_yaml
from ssrl_core.train import jobs
from ssrl_core.train.config import RunConfig

STARTUP_S = 12.0  # starting Python + torch, loading the cells, building the model (measured here: 8-15 s)
PROBE_S = 6.0  # a sweep point: embedding and probing after training


def _key(raw: dict[str, Any]) -> str:
    d = raw.get("data", {})
    return f"{raw.get('backbone')}|{raw.get('crop_size')}|{raw.get('batch_size')}|{d.get('name')}|{raw.get('device')}"


def from_runs(raw: dict[str, Any], runs: list[dict[str, Any]]) -> float | None:
    """Median pairs/s of the newest earlier run trained like `raw` (None when there is none)."""
    for r in runs:
        run_dir = Path(str(r.get("path") or ""))
        try:
            cfg = read_yaml(run_dir / "config.yaml") or {}
        except (OSError, ValueError):
            continue
        if _key({**cfg, "device": raw.get("device")}) != _key(raw):
            continue
        m = jobs.read_metrics(run_dir)
        if "pairs_per_s" in m.columns and len(m) > 1:
            return float(m["pairs_per_s"].iloc[1:].median())
    return None


def known_rate(raw: dict[str, Any], runs: list[dict[str, Any]]) -> float | None:
    """A measured speed for `raw`: this session's measurement, else an earlier run's."""
    rates = state.get(state.STEP_RATE) or {}
    return rates.get(_key(raw)) or from_runs(raw, runs) or cached_rate(raw)


def _probe(raw: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """The 4-step speed check of `raw` and its folder (`cache/speed/<hash of the check>`)."""
    probe = copy.deepcopy(raw)
    batch = int(probe.get("batch_size") or 32)
    probe.update(name="speed-check", epochs=1, log_every=2, max_minutes=None, warmup_epochs=0.0)
    probe["data"] = {**probe.get("data", {}), "max_cells": batch * 4}
    digest = hashlib.sha1(json.dumps(probe, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return probe, paths.cache_dir() / "speed" / digest


def _finished_rate(run_dir: Path) -> float | None:
    """The steady pairs/s of a finished speed check (None when it is not finished)."""
    if _status(run_dir).get("state") != "finished":
        return None
    m = jobs.read_metrics(run_dir)
    return float(m["pairs_per_s"].iloc[-1]) if "pairs_per_s" in m.columns and not m.empty else None


def _status(run_dir: Path) -> dict[str, Any]:
    """The speed check's status ({} before it was started)."""
    return (jobs.read_status(run_dir) or {}) if (run_dir / "status.json").is_file() else {}


def _remember(raw: dict[str, Any], rate: float) -> float:
    rates = dict(state.get(state.STEP_RATE) or {})
    rates[_key(raw)] = rate
    state.put(state.STEP_RATE, rates)
    return rate


def cached_rate(raw: dict[str, Any]) -> float | None:
    """The speed of `raw` measured earlier on this machine (a finished speed check in the cache)."""
    try:
        rate = _finished_rate(_probe(raw)[1])
    except (OSError, ValueError):
        return None
    return _remember(raw, rate) if rate is not None else None


def warm(raw: dict[str, Any]) -> bool:
    """Start the speed check of `raw` in the background when none is known, none ran for it and no
    other speed check is running (one at a time, so a shared CPU is not flooded); True if started."""
    if os.environ.get("SSRL_APP_WARM", "1") == "0":
        return False
    probe, run_dir = _probe(raw)
    if (run_dir / "status.json").is_file():
        return False  # measured, measuring, or failed (a click on Estimate tries again)
    folder = run_dir.parent
    if folder.is_dir() and any(job_layer.is_active(_status(d))
                               for d in folder.iterdir() if d.is_dir()):
        return False
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        jobs.launch(RunConfig.from_dict(probe), run_dir=run_dir)
    except Exception:  # warming is best effort: Estimate measures when clicked
        return False
    return True


def measure(raw: dict[str, Any], timeout: float = 180.0,
            progress: Callable[[float, str], None] | None = None) -> float:
    """The steady pairs/s of `raw`: a finished speed check in the cache, else the one running (a
    warm-up), else a new 4-step run in a background process; `progress(share, words)` is called
    about 4 times a second while waiting (share of the expected time, which is about 12 s)."""
    probe, run_dir = _probe(raw)
    rate = _finished_rate(run_dir)
    if rate is not None:
        return _remember(raw, rate)
    if not job_layer.is_active(_status(run_dir)):
        run_dir.mkdir(parents=True, exist_ok=True)
        jobs.launch(RunConfig.from_dict(probe), run_dir=run_dir)
    t0 = time.time()
    while time.time() - t0 < timeout:
        status = _status(run_dir)
        if status and not job_layer.is_active(status):
            break
        if progress is not None:
            spent = time.time() - t0
            steps = int(status.get("step") or 0)
            words = (f"training step {steps} of 4" if steps else "starting the check (Python, torch, the cells)")
            progress(min(0.95, spent / (STARTUP_S + 4.0)), f"Measuring this machine's speed: {words} · "
                     f"{spent:.0f} s")
        time.sleep(0.25)
    status = _status(run_dir)
    rate = _finished_rate(run_dir)
    if rate is None:
        raise RuntimeError(status.get("error") or "the speed check did not finish in time")
    return _remember(raw, rate)


def run_seconds(n_cells: int, epochs: int, batch: int, rate: float, budget_min: float | None = None) -> float:
    """Seconds a run takes: its pairs / rate plus start-up, capped by the time budget."""
    steps = int(epochs) * max(1, math.ceil(int(n_cells) / max(1, int(batch))))
    train_s = steps * int(batch) / max(rate, 1e-6)
    if budget_min:
        train_s = min(train_s, float(budget_min) * 60.0)
    return STARTUP_S + train_s


def words(seconds: float) -> str:
    """"about 40 s", "about 3 min", "about 2 h 10 min"."""
    s = float(seconds)
    if s < 90:
        return f"about {max(5, int(round(s / 5.0)) * 5)} s"
    if s < 3600:
        return f"about {int(round(s / 60.0))} min"
    return f"about {int(s // 3600)} h {int(round((s % 3600) / 60.0))} min"
