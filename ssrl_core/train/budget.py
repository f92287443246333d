"""A run's clock: seconds trained (across resumes) and the share of a `max_minutes` budget used.

With a budget the learning-rate and momentum schedules follow `share()` instead of the step
count, and the run ends, `finished`, when the share reaches 1. Under DDP `share()` is the
maximum over ranks (a collective every rank calls), so all ranks use the same learning rate
and stop at the same step; `share(sync=False)` is for rank-0-only reporting.
"""

from __future__ import annotations

import time

import torch

from ssrl_core.train import distributed as dist_


class Clock:
    """Training time of a run: `seconds_before` (from the checkpoint) plus this process's."""

    def __init__(self, max_minutes: float | None, seconds_before: float, info: dist_.DistInfo,
                 device: torch.device) -> None:
        self.budget_s = float(max_minutes) * 60.0 if max_minutes else None
        self.seconds_before = float(seconds_before)
        self.info, self.device = info, device
        self.start = time.time()

    def restart(self) -> None:
        """Start counting this process's training time now (after set-up)."""
        self.start = time.time()

    def seconds(self) -> float:
        """Seconds trained so far, earlier segments of a resumed run included."""
        return self.seconds_before + time.time() - self.start

    def share(self, sync: bool = True) -> float | None:
        """The share of the budget used (None without a budget); see the module docstring for `sync`."""
        if self.budget_s is None:
            return None
        share = min(1.0, self.seconds() / self.budget_s)
        return dist_.max_over_ranks(share, self.info, self.device) if sync else share

    def out_of_time(self) -> bool:
        """True once the budget is used up (a collective under DDP)."""
        share = self.share()
        return share is not None and share >= 1.0

    def left(self, share: float) -> float:
        """Seconds of budget left at `share`."""
        return round((self.budget_s or 0.0) * (1.0 - share), 1)
