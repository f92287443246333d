"""The run-time estimate on the Train and Bias pages: `ssrl_core.train.estimate`, remembered per session.

The arithmetic and the speed check live in `ssrl_core.train.estimate`; this module keeps the
speeds this session already knows (`state.STEP_RATE`, keyed by `speed_key`), starts the speed
check of the configuration on screen when the Train page opens (`warm`; `SSRL_APP_WARM=0` turns
it off), so *Estimate the time* usually finds it done, and says a duration in words.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ssrl_app.shell import state
from ssrl_core.train import estimate as core
from ssrl_core.train.estimate import PROBE_S, STARTUP_S, run_seconds

__all__ = ["PROBE_S", "STARTUP_S", "cached_rate", "known_rate", "measure", "run_seconds", "warm", "words"]


def _remember(raw: dict[str, Any], rate: float) -> float:
    rates = dict(state.get(state.STEP_RATE) or {})
    rates[core.speed_key(raw)] = rate
    state.put(state.STEP_RATE, rates)
    return rate


def cached_rate(raw: dict[str, Any]) -> float | None:
    """The speed of `raw` measured earlier on this machine, remembered for this session."""
    rate = core.cached_rate(raw)
    return _remember(raw, rate) if rate is not None else None


def known_rate(raw: dict[str, Any], runs: list[dict[str, Any]]) -> float | None:
    """A measured speed for `raw`: this session's measurement, else an earlier run's, else the cache's."""
    rates = state.get(state.STEP_RATE) or {}
    return rates.get(core.speed_key(raw)) or core.rate_from_runs(raw, runs) or cached_rate(raw)


def warm(raw: dict[str, Any]) -> bool:
    """Start the speed check of `raw` in the background (`core.start_check`) unless
    `SSRL_APP_WARM=0`; True if started."""
    if os.environ.get("SSRL_APP_WARM", "1") == "0":
        return False
    return core.start_check(raw)


def measure(raw: dict[str, Any], timeout: float = 180.0,
            progress: Callable[[float, str], None] | None = None) -> float:
    """`core.measure`, remembered for this session."""
    return _remember(raw, core.measure(raw, timeout, progress))


def words(seconds: float) -> str:
    """"about 40 s", "about 3 min", "about 2 h 10 min"."""
    s = float(seconds)
    if s < 90:
        return f"about {max(5, int(round(s / 5.0)) * 5)} s"
    if s < 3600:
        return f"about {int(round(s / 60.0))} min"
    return f"about {int(s // 3600)} h {int(round((s % 3600) / 60.0))} min"
