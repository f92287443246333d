"""How long a run or a sweep will take on this machine, from a measured training speed.

The speed (cell pairs per second) comes from the newest earlier run with the same backbone,
crop size, batch size and dataset (its `metrics.jsonl`, first record left out: it holds the
warm-up), or from a measurement: a real 4-step run of the same configuration
(`ssrl_core.train.jobs.launch`, a background process, under the cache folder, so it is never
listed as a run), about 10-20 s. Estimated time = pairs to train / speed + a start-up allowance,
capped by the time budget.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ssrl_app import state
from ssrl_core import paths
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
    return rates.get(_key(raw)) or from_runs(raw, runs)


def measure(raw: dict[str, Any], timeout: float = 120.0) -> float:
    """Train 4 steps of `raw` in a background process and return its steady pairs/s."""
    probe = copy.deepcopy(raw)
    batch = int(probe.get("batch_size") or 32)
    probe.update(name="speed-check", epochs=1, log_every=2, max_minutes=None, warmup_epochs=0.0)
    probe["data"] = {**probe.get("data", {}), "max_cells": batch * 4}
    digest = hashlib.sha1(json.dumps(probe, sort_keys=True, default=str).encode()).hexdigest()[:12]
    run_dir = paths.cache_dir() / "speed" / digest
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs.launch(RunConfig.from_dict(probe), run_dir=run_dir)
    status = jobs.wait(run_dir, timeout=timeout)
    m = jobs.read_metrics(run_dir)
    if status.get("state") != "finished" or "pairs_per_s" not in m.columns or m.empty:
        raise RuntimeError(status.get("error") or "the speed check did not finish in time")
    rate = float(m["pairs_per_s"].iloc[-1])
    rates = dict(state.get(state.STEP_RATE) or {})
    rates[_key(raw)] = rate
    state.put(state.STEP_RATE, rates)
    return rate


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
