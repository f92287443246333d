"""A run's clock: seconds trained (across resumes) and the share of a `max_minutes` budget used.

With a budget the learning-rate and momentum schedules follow the share of the budget instead of
the step count, and the run ends, `finished`, when the share reaches 1. The share is read from
the wall clock only at the loop's agreement points (every `log_every` steps, one all_reduce under
DDP: `train.agree`), where every rank takes the largest share of all ranks (`agreed`). Between
two agreement points `share_at(step)` extrapolates from the last two agreed shares at the agreed
pace (share per step): a pure function of numbers every rank holds, so all ranks use the same
learning rate at every step without talking to each other, and the host never waits for the GPU.
`share(sync=False)` is this process's own reading (rank-0 reporting).
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
        self._agreed: tuple[float, int] | None = None  # (share, step) at the last agreement point
        self._pace = 0.0  # agreed share per step, from the last two agreement points

    def restart(self) -> None:
        """Start counting this process's training time now (after set-up)."""
        self.start = time.time()

    def seconds(self) -> float:
        """Seconds trained so far, earlier segments of a resumed run included."""
        return self.seconds_before + time.time() - self.start

    def share(self, sync: bool = False) -> float | None:
        """This process's share of the budget used (None without a budget); `sync=True` takes the
        maximum over ranks (a collective every rank must call; the loop agrees in `train.agree`)."""
        if self.budget_s is None:
            return None
        share = min(1.0, self.seconds() / self.budget_s)
        return dist_.max_over_ranks(share, self.info, self.device) if sync else share

    def agreed(self, share: float | None, step: int) -> None:
        """Record the share all ranks agreed on at `step` (the maximum over ranks)."""
        if share is None:
            return
        if self._agreed is not None and step > self._agreed[1]:
            self._pace = max(0.0, (share - self._agreed[0]) / (step - self._agreed[1]))
        self._agreed = (float(share), int(step))

    def share_at(self, step: int) -> float | None:
        """The share used at `step`, extrapolated from the agreed ones (the same on every rank)."""
        if self.budget_s is None:
            return None
        share, at = self._agreed if self._agreed is not None else (min(1.0, self.seconds_before / self.budget_s), 0)
        return min(1.0, share + self._pace * max(0, step - at))

    def left(self, share: float) -> float:
        """Seconds of budget left at `share`."""
        return round((self.budget_s or 0.0) * (1.0 - share), 1)
