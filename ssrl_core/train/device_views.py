"""Views made on the training device, in batches, for the recipes that allow it (`augment_on`).

`augment_on: cpu` (the default) makes every view in the DataLoader (albumentations, one image at
a time per worker core). `augment_on: device` makes the views of every recipe that has a batched
form (`ssrl_core.augment.batched.unsupported` is empty) on the training device from the crops the
loader delivers, batch by batch; the other recipes still get their views from the loader (the CPU
path), so one run may use both executors. A GPU then needs a core or two for reading crops instead
of 8-16 for augmenting them (benchmarks/view_throughput.md). The random draws of a batch are
seeded by (run seed, step, recipe, rank): a run repeats itself, and a resumed run continues with the
draws it would have made.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ssrl_core.augment.batched import BatchTwoViews, unsupported


def device_recipes(recipes: Sequence[Any], augment_on: str) -> list[bool]:
    """Per recipe: made on the device (True) or by the loader on the CPU (False)."""
    return [augment_on == "device" and not unsupported(r) for r in recipes]


class DeviceViews:
    """Inserts the device-made views into a loader batch: `(cpu views..., crops)` -> all views in
    recipe order `(v1_0, v2_0, v1_1, v2_1, ...)`."""

    def __init__(self, recipes: Sequence[Any], on_device: Sequence[bool], crop_size: int, seed: int, rank: int = 0):
        self.on_device = list(on_device)
        self.makers = [BatchTwoViews(r, crop_size) if dev else None for r, dev in zip(recipes, on_device)]
        self.seed, self.rank = int(seed), int(rank)

    @property
    def active(self) -> bool:
        return any(self.on_device)

    def __call__(self, batch: Sequence[torch.Tensor], step: int, fmt: torch.memory_format) -> list[torch.Tensor]:
        if not self.active:
            return list(batch)
        cpu_views, crops = list(batch[:-1]), batch[-1]
        out: list[torch.Tensor] = []
        for r, maker in enumerate(self.makers):
            if maker is None:
                out += cpu_views[:2]
                cpu_views = cpu_views[2:]
                continue
            seed = int(np.random.SeedSequence([self.seed, step, r, self.rank]).generate_state(1)[0] & 0x7FFFFFFF)
            v1, v2 = maker(crops, seed)
            out += [v1.contiguous(memory_format=fmt), v2.contiguous(memory_format=fmt)]
        return out
