"""The training DataLoader, built once per run (issue "The GPU path", items 1 and 7).

- `RunBatches` is a batch sampler over the whole run: epoch after epoch, it gives each batch as a
  list of `(epoch, cell index)` (this rank's share of one permutation per epoch, `EpochSampler`),
  from where a resumed run stopped. The epoch travels with each index, so views stay seeded per
  (run seed, epoch, cell, recipe) inside long-lived workers, and the loader's iterator runs once
  for the whole run: workers are not restarted and prefetching does not pause between epochs.
- `choose_workers` picks the number of worker processes: on CUDA the cores this process may use
  per GPU of the node, less one for the training process, at most `MAX_WORKERS` (an H100 eats
  4,000-11,000 ResNet18 pairs/s at 64 px; one core makes 370-1,500: benchmarks/view_throughput.md);
  on the CPU none (`CPU_WORKERS`): the model's own threads use the cores, and on this project's
  2-core machine 0 workers measured faster than 1 or 2 (docs/training.md).
- `stack_views` collates the views (made height x width x channels by albumentations) into
  channels-last NCHW batches without a transpose: the bytes are already NHWC, so the copy to the
  GPU and the convolutions (channels_last) use them as they are.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ssrl_core.train.data import EpochSampler

MAX_WORKERS = 16
CPU_WORKERS = 0
PREFETCH = 2  # batches each worker keeps ready (pinned, in shared memory)


def usable_cores() -> int:
    """CPU cores this process may run on (affinity / cgroup-aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def choose_workers(setting: int | str, device: torch.device, local_world: int | None = None) -> int:
    """The number of DataLoader workers for `setting` (a number, or `auto`)."""
    if setting != "auto":
        return int(setting)
    if device.type != "cuda":
        return CPU_WORKERS
    per_node = local_world or int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(0, min(MAX_WORKERS, usable_cores() // max(1, per_node) - 1))


class RunBatches(Sampler[list[tuple[int, int]]]):
    """Batches of `(epoch, index)` for epochs `start_epoch .. epochs - 1`, the first one from
    `start_batch` on (a resumed run); `len` is the number of batches left in the run."""

    def __init__(self, epochs: EpochSampler, n_epochs: int, start_epoch: int = 0, start_batch: int = 0):
        self.sampler, self.n_epochs = epochs, int(n_epochs)
        self.start_epoch, self.start_batch = int(start_epoch), int(start_batch)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        size = self.sampler.batch_size
        for epoch in range(self.start_epoch, self.n_epochs):
            self.sampler.set_epoch(epoch, self.start_batch if epoch == self.start_epoch else 0)
            indices = list(self.sampler)
            for i in range(0, len(indices), size):
                yield [(epoch, j) for j in indices[i:i + size]]

    def __len__(self) -> int:
        per_epoch = self.sampler.batches_per_epoch()
        return max(0, (self.n_epochs - self.start_epoch) * per_epoch - self.start_batch)


def stack_views(items: Sequence[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Collate: per view position, stack `(C, H, W)` views held as `(H, W, C)` memory
    (`ViewPairs`) into an `(N, C, H, W)` tensor whose memory is NHWC (channels_last): the pixels
    are copied once, never transposed."""
    return tuple(torch.stack([item[k].permute(1, 2, 0) for item in items]).permute(0, 3, 1, 2)
                 for k in range(len(items[0])))


def build_loader(dataset: Dataset, batches: RunBatches, workers: int, pin: bool) -> DataLoader:
    """The run's one DataLoader, iterated once for the whole run (`RunBatches`): its workers
    live as long as the run and prefetch `PREFETCH` batches each. (`persistent_workers` would only
    matter for a loader iterated again; here the one iterator is dropped at the end of the run,
    which stops the workers.)"""
    extra: dict[str, Any] = {"prefetch_factor": PREFETCH} if workers else {}
    return DataLoader(dataset, batch_sampler=batches, num_workers=workers, collate_fn=stack_views,
                      pin_memory=pin, **extra)


class TimedBatches:
    """Iterates a loader and adds up the seconds the training process waited for its batches
    (`take()` returns them and starts again): the share of a log interval spent waiting for
    data, recorded as `data_wait_share` in metrics.jsonl (near 0 when the loader keeps up)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader, self.waited = loader, 0.0

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.waited += time.perf_counter() - t0
            yield batch

    def take(self) -> float:
        waited, self.waited = self.waited, 0.0
        return waited
