"""What the training loop reads from the device, and when: once every `log_every` steps.

Between two agreement points the host never waits for the GPU (issue "The GPU path", item 3):
`DeviceTally.add` keeps the sum of every loss term and the first step whose loss was not finite
as device tensors (no `.item()`, no `bool()`), so kernels of step k+1 queue up while step k runs.
At an agreement point `agree` makes ONE all_reduce under DDP (MAX of: stop requested, the share
of the time budget used, minus the first bad step) and ONE read to the host of that vector and
the local sums together. Every rank then takes the same decisions (stop, fail, out of time) at
the same step; rank 0 logs the means. A NaN is caught at most `log_every - 1` steps late: the
weights of those steps are never saved (a checkpoint is written only after an agreement point
that found every loss finite), and the message names the first bad step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from ssrl_core.train import distributed as dist_

NO_BAD_STEP = 2.0 ** 62  # "no step went wrong" (exact in float64; larger than any step count)


class DeviceTally:
    """Loss terms summed on the device since the last read, and the first non-finite step."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.first_bad: torch.Tensor | None = None

    def add(self, terms: dict[str, torch.Tensor], step: int) -> None:
        """Add one step's terms (0-d tensors); `step` is the 0-based step that made them."""
        for k, v in terms.items():
            v = v.detach().float()
            self.sums[k] = v if k not in self.sums else self.sums[k] + v
        finite = torch.isfinite(terms["loss"].detach()).all()
        bad = torch.where(finite, NO_BAD_STEP, float(step)).to(torch.float64)
        self.first_bad = bad if self.first_bad is None else torch.minimum(self.first_bad, bad)
        self.count += 1


@dataclass
class Agreement:
    """What every rank agreed on at one agreement point, and rank-local means of the loss terms."""

    stop: bool
    share: float | None
    first_bad: int | None  # the 0-based step whose loss first became non-finite on some rank
    means: dict[str, float]
    sums: dict[str, torch.Tensor]  # the device sums, for the message naming the non-finite term


def agree(tally: DeviceTally, stop: bool, share: float | None, info: dist_.DistInfo) -> Agreement:
    """One all_reduce (DDP) and one host read: stop / share / first bad step over ranks, local means."""
    first_bad = tally.first_bad if tally.first_bad is not None else torch.tensor(NO_BAD_STEP, device=tally.device,
                                                                                   dtype=torch.float64)
    flags = torch.stack([torch.tensor(float(stop), dtype=torch.float64, device=tally.device),
                         torch.tensor(-1.0 if share is None else float(share), dtype=torch.float64,
                                      device=tally.device),
                         -first_bad.to(tally.device, torch.float64)])
    if info.enabled:
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    keys = list(tally.sums)
    local = [tally.sums[k].to(torch.float64) for k in keys]
    values = torch.cat([flags, torch.stack(local)]) if local else flags
    read = values.tolist()  # the one host read of the interval
    n = max(tally.count, 1)
    bad = -read[2]
    return Agreement(stop=read[0] > 0, share=None if share is None else read[1],
                     first_bad=None if bad >= NO_BAD_STEP else int(bad),
                     means={k: v / n for k, v in zip(keys, read[3:])}, sums=dict(tally.sums))
