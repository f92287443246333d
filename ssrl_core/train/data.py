"""The training data pipeline: CellSet -> [0, 1] floats -> pairs of views per recipe -> batches.

Pixels are scaled once per run with per-channel percentile ranges (`channel_ranges`,
`to_unit_float`); the ranges go into the checkpoint so embedding uses the same scale. Each item
gives, for every recipe, two views made by `TwoViews(recipe)` with a seed derived from
(run seed, epoch, cell index, recipe index): the same run makes the same views, with or without
DataLoader workers, and a resumed run continues with the views it would have made.

Sets on disk (`ssrl_core.data.store`, `CellSet.lazy`) are never scaled as a whole: the scaled
images are a `UnitFloatImages` view that reads and scales only the crops a batch needs, so each
DataLoader worker reads its own cells from the store (workers fork with the open files; pread
needs no shared file position) and memory does not grow with the set. Under DDP `EpochSampler`
gives each rank its share of one permutation of the same store (as `DistributedSampler`).
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ssrl_core.augment import TwoViews, channel_problems
from ssrl_core.data.cellset import CellSet, channel_ranges, to_unit_float
from ssrl_core.data.registry import load_dataset
from ssrl_core.train.config import DataConfig, RecipeConfig


def load_cells(data: DataConfig, seed: int = 0) -> CellSet:
    """Load the dataset, keep the `filter` rows, drop the `exclude` rows, subsample `max_cells`."""

    cells = load_dataset(data.name)
    cells = _select(cells, data.filter, keep=True)
    cells = _select(cells, data.exclude, keep=False)
    if len(cells) < 2:
        raise ValueError(f"Only {len(cells)} cell(s) left after the filter {data.filter} and exclude "
                         f"{data.exclude}; training needs at least 2")
    if data.max_cells is not None and len(cells) > data.max_cells:
        rng = np.random.default_rng(seed)
        cells = cells.subset(np.sort(rng.choice(len(cells), data.max_cells, replace=False)))
    return cells


def _select(cells: CellSet, rules: dict[str, Any], keep: bool) -> CellSet:
    if not rules:
        return cells
    mask = np.ones(len(cells), dtype=bool)
    for col, value in rules.items():
        if col not in cells.meta.columns:
            raise ValueError(f"The dataset {cells.name!r} has no metadata column {col!r}; its columns are "
                             f"{', '.join(map(str, cells.meta.columns)) or 'none'}")
        wanted = list(value) if isinstance(value, (list, tuple, set)) else [value]
        column = cells.meta[col]
        present = set(column.astype(str))
        missing = [w for w in wanted if str(w) not in present and not column.isin([w]).any()]
        if missing:
            shown = sorted(present)[:20]
            raise ValueError(f"No cell has {col} = {', '.join(map(str, missing))} in {cells.name!r}; values "
                             f"present are: {', '.join(shown)}{' ...' if len(present) > 20 else ''}")
        match = column.isin(wanted).to_numpy() | column.astype(str).isin([str(w) for w in wanted]).to_numpy()
        mask &= match if keep else ~match
    return cells.subset(mask)


def resolve_recipes(recipes: Sequence[RecipeConfig]) -> list[Any]:
    """The Recipe objects the config holds for its presets / inline recipes (parsed once, when
    the config was checked: `RecipeConfig.parsed`)."""
    return [r.parsed for r in recipes]


def view_seed(seed: int, epoch: int, index: int, recipe_index: int) -> int:
    """A 31-bit seed for one (run seed, epoch, cell, recipe): reproducible and well mixed."""
    return int(np.random.SeedSequence([seed, epoch, index, recipe_index]).generate_state(1)[0] & 0x7FFFFFFF)


class ViewPairs(Dataset):
    """For cell i: a flat tuple (v1, v2) per recipe, each view a float32 tensor (C, crop, crop).

    A view's memory is height x width x channels (as albumentations makes it): the tensor is a
    channels-last view of those bytes, so batches are NHWC without a transpose
    (`train.loader.stack_views`). The key is a cell index (views of the epoch set by `set_epoch`)
    or `(epoch, index)`, as `train.loader.RunBatches` gives it to the loader's workers.
    """

    def __init__(self, images01: Any, recipes: Sequence[Any], crop_size: int, seed: int = 0,
                 on_device: Sequence[bool] | None = None):

        if images01.dtype != np.float32 or images01.ndim != 4:
            raise ValueError("ViewPairs needs float32 images (N, H, W, C) scaled to [0, 1]")
        self.images = images01
        # recipes made on the device in batches (`train.device_views`) get no views here: the item
        # ends with the crop itself instead (once, whatever the number of such recipes)
        self.on_device = list(on_device) if on_device is not None else [False] * len(recipes)
        self.makers = [None if dev else TwoViews(r, out_size=crop_size) for r, dev in zip(recipes, self.on_device)]
        self.crop_size = int(crop_size)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, ...]:
        epoch, index = (int(key[0]), int(key[1])) if isinstance(key, tuple) else (self.epoch, int(key))
        image = self.images[index]
        out: list[torch.Tensor] = []
        for r, maker in enumerate(self.makers):
            if maker is not None:
                v1, v2 = maker(image, view_seed(self.seed, epoch, index, r))
                out += [_as_chw(v1, self.crop_size), _as_chw(v2, self.crop_size)]
        if any(self.on_device):
            out.append(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1))
        return tuple(out)


def _as_chw(view: np.ndarray, size: int) -> torch.Tensor:
    """A (C, size, size) tensor over (size, size, C) memory (channels-last strides)."""
    arr = np.asarray(view, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)
    if t.shape[1] != size or t.shape[2] != size:  # a recipe whose last step changes the size
        t = torch.nn.functional.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False)[0]
        t = t.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    return t


class EpochSampler(Sampler[int]):
    """Shuffled indices for one epoch (seeded by run seed + epoch), this rank's share, from a start.

    Like `DistributedSampler` (rank r takes every world-th index of the same permutation) plus
    `start` to skip the items a resumed run already trained on in an interrupted epoch.
    """

    def __init__(self, n: int, seed: int = 0, rank: int = 0, world: int = 1, batch_size: int = 1,
                 drop_last: bool = True):
        self.n, self.seed, self.rank, self.world = n, seed, rank, world
        self.batch_size, self.drop_last = batch_size, drop_last
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start = int(epoch), int(start_batch) * self.batch_size

    def _indices(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        perm = torch.randperm(self.n, generator=g).tolist()
        per_rank = self.n // self.world if self.world > 1 else self.n
        mine = perm[self.rank::self.world][:per_rank]
        if self.drop_last:
            mine = mine[: len(mine) // self.batch_size * self.batch_size]
        elif len(mine) % self.batch_size == 1:  # a last batch of one cell breaks batch norm and the losses
            mine = mine[:-1]
        return mine

    def batches_per_epoch(self) -> int:
        k = len(self._indices())
        return k // self.batch_size if self.drop_last else -(-k // self.batch_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.start:])

    def __len__(self) -> int:
        return max(0, len(self._indices()) - self.start)


class UnitFloatImages:
    """The crops of a lazy set as float32 [0, 1] `(N, H, W, C)`, scaled as they are read.

    `images[i]` reads crop i from the store and applies `to_unit_float` with the run's ranges:
    the same numbers as scaling the whole array first, without holding it.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, images: Any, lo: np.ndarray, hi: np.ndarray):
        self.images = images
        self.lo, self.hi = np.asarray(lo, dtype=np.float32), np.asarray(hi, dtype=np.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape)

    @property
    def ndim(self) -> int:
        return len(self.images.shape)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: Any) -> np.ndarray:
        return to_unit_float(np.asarray(self.images[key]), self.lo, self.hi)


def _scaled(cells: CellSet, lo: np.ndarray, hi: np.ndarray):
    return UnitFloatImages(cells.images, lo, hi) if cells.lazy else to_unit_float(cells.images, lo, hi)


def prepare_images(cells: CellSet) -> tuple[Any, np.ndarray, np.ndarray]:
    """Per-channel ranges over the training cells and the images scaled once to float32 [0, 1]
    (for a lazy set, a `UnitFloatImages` view that scales each crop as it is read)."""
    lo, hi = channel_ranges(cells.images)
    return _scaled(cells, lo, hi), lo, hi


def check_channels(recipes: Sequence[Any], channels: int) -> None:
    """Refuse recipes with steps that cannot work on this channel count (e.g. hue needs RGB)."""

    problems = [p for r in recipes for p in channel_problems(r, channels)]
    if problems:
        raise ValueError(f"The recipe(s) do not fit {channels}-channel images: " + "; ".join(problems))


def prepare_images_with(cells: CellSet, lo: Sequence[float], hi: Sequence[float]):
    """Scale with the ranges saved in a checkpoint (a resumed run keeps the same pixel scale)."""
    lo, hi = np.asarray(lo, dtype=np.float32), np.asarray(hi, dtype=np.float32)
    return _scaled(cells, lo, hi), lo, hi
