"""Embedding across processes or machines with PyTorch's own launcher (`torchrun`).

`ssrl embed ... --procs N` starts `torchrun --standalone --nproc_per_node=N -m ssrl_core embed ...`
for you; on several machines start the same command line with torchrun yourself on each one
(`--nnodes=M --node_rank=i --rdzv_backend=c10d --rdzv_endpoint=HOST:PORT --rdzv_id=JOB`, see
docs/evaluate.md). No scheduler of our own: torchrun starts, names (RANK, WORLD_SIZE,
LOCAL_RANK) and stops the processes; this module only splits the work and joins the results.

- The selected cells are cut into shards of `shard_cells` consecutive cells (a multiple of the
  batch size, so every forward pass holds the same cells as in one process, and the numbers are
  the same bit for bit). Shard i belongs to rank `i % world`, whatever the number of ranks.
- Each rank embeds its shards with `embedding.embed_with_info` (the same preprocessing, cache and
  finite check as one process; on CUDA each rank takes the GPU `cuda:LOCAL_RANK`) and writes
  each one as a part, `<out>.parts/part_<start>_<stop>.npy`, atomically, then its `.json` (the
  run's signature and the part's sha256), so a part on disk is either whole or absent.
- Ranks meet at a barrier (a gloo process group: only a barrier crosses processes, so no GPU
  collective, NCCL or not, is needed); rank 0 checks every part, stacks them in order and writes
  the one table one process would write (`table_stream.write_embedding_table`, row groups), then
  removes the parts.
- A killed rank leaves its finished parts behind: the rerun (any number of ranks) keeps every
  part whose signature (encoder, data fingerprint, shard layout, batch size, device kind and
  precision) matches and redoes only the missing shards.

Several machines need the output folder on a file system they all see (as a cluster's shared
home or scratch) and the data at the same path on each.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssrl_core.data.cellset import CellSet
from ssrl_core.evaluate.embedding import data_fingerprint, embed_with_info, pick_device
from ssrl_core.evaluate.encoders import resolve
from ssrl_core.evaluate.table_stream import write_embedding_table
from ssrl_core.io import atomic_write, atomic_write_json, sha256_file

SHARD_CELLS = 16_384  # cells a part holds (rounded to a multiple of the batch size)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among those torchrun started (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Ranks":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))


def under_torchrun() -> bool:
    """True in a process started by torchrun (it sets TORCHELASTIC_RUN_ID / WORLD_SIZE)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "WORLD_SIZE" in os.environ


def parts_dir(out: str | Path) -> Path:
    """The folder of the parts of `out` (`EMB.parquet` -> `EMB.parquet.parts`)."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def shard_size(batch_size: int | None, shard_cells: int = SHARD_CELLS) -> int:
    """`shard_cells` rounded up to a multiple of the batch size (at least one batch; `shard_cells`
    itself when the batch size is left to the device)."""
    b = max(1, int(batch_size or 1))
    return max(b, -(-int(shard_cells) // b) * b)


def shards(n: int, size: int) -> list[tuple[int, int]]:
    """Consecutive `(start, stop)` ranges of at most `size` cells covering `0..n`."""
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def signature(cells: CellSet, encoder: str, device: str, precision: str, batch_size: int | None, size: int) -> str:
    """What a part's numbers depend on; a part with another signature is redone."""
    dev, bf16 = pick_device(device, precision)
    raw = json.dumps({"encoder": resolve(encoder).identity, "data": data_fingerprint(cells), "cells": len(cells),
                      "device": dev.split(":")[0], "bf16": bool(bf16), "batch": int(batch_size or 0), "shard": int(size)},
                     sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _part(folder: Path, start: int, stop: int) -> tuple[Path, Path]:
    stem = f"part_{start:012d}_{stop:012d}"
    return folder / f"{stem}.npy", folder / f"{stem}.json"


def part_done(folder: Path, start: int, stop: int, sig: str) -> bool:
    """True when the part of `start..stop` is on disk, whole, and made for this signature."""
    npy, js = _part(folder, start, stop)
    if not (npy.is_file() and js.is_file()):
        return False
    try:
        info = json.loads(js.read_text(encoding="utf-8"))
        return info.get("signature") == sig and info.get("sha256") == sha256_file(npy)
    except (OSError, ValueError):
        return False


def embed_rank(cells: CellSet, encoder: str, out: str | Path, ranks: Ranks, device: str = "auto",
               batch_size: int | None = None, precision: str = "auto", shard_cells: int = SHARD_CELLS,
               use_cache: bool = True, progress: Any = None) -> dict:
    """Embed this rank's shards of `cells` that are not done yet; returns what it did."""
    size = shard_size(batch_size, shard_cells)
    sig = signature(cells, encoder, device, precision, batch_size, size)
    folder = parts_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    dev, _ = pick_device(device, precision)
    if dev.startswith("cuda"):
        dev = f"cuda:{ranks.local_rank}"
    mine = [s for i, s in enumerate(shards(len(cells), size)) if i % ranks.world == ranks.rank]
    done, kept = 0, 0
    for k, (start, stop) in enumerate(mine):
        if part_done(folder, start, stop, sig):
            kept += 1
            continue
        feats, info = embed_with_info(cells.subset(np.arange(start, stop)), encoder, device=dev,
                                      batch_size=batch_size, use_cache=use_cache, precision=precision)
        npy, js = _part(folder, start, stop)
        atomic_write(npy, lambda p: _save(p, feats))
        atomic_write_json(js, {"signature": sig, "sha256": sha256_file(npy), "start": start, "stop": stop,
                               "rank": ranks.rank, "dim": int(feats.shape[1]), "cached": bool(info.get("cached"))})
        done += 1
        if progress is not None:
            progress((k + 1) / len(mine))
    return {"rank": ranks.rank, "world": ranks.world, "shards": len(mine), "computed": done, "kept": kept,
            "signature": sig, "shard_cells": size}


def _save(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: np.save would add `.npy` to a temporary name
        np.save(fh, arr, allow_pickle=False)


def merge_parts(cells: CellSet, out: str | Path, sig: str, size: int, dataset: str = "",
                cell_index: np.ndarray | None = None, keep_parts: bool = False) -> np.ndarray:
    """Stack every part in order and write the one table (rank 0); returns the features."""
    folder = parts_dir(out)
    ranges = shards(len(cells), size)
    missing = [f"{a}-{b}" for a, b in ranges if not part_done(folder, a, b, sig)]
    if missing:
        raise RuntimeError(f"{len(missing)} of {len(ranges)} parts are missing or damaged in {folder} "
                           f"(cells {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); run the same "
                           "command again: finished parts are kept, only these are redone")
    feats: np.ndarray | None = None
    for a, b in ranges:
        part = np.load(_part(folder, a, b)[0], allow_pickle=False)
        if feats is None:
            feats = np.empty((len(cells), part.shape[1]), dtype=np.float32)
        feats[a:b] = part
    assert feats is not None
    write_embedding_table(cells.meta, feats, out, dataset=dataset, cell_index=cell_index)
    if not keep_parts:
        shutil.rmtree(folder, ignore_errors=True)
    return feats


def embed_distributed(cells: CellSet, encoder: str, out: str | Path, device: str = "auto", batch_size: int | None = None,
                      precision: str = "auto", shard_cells: int = SHARD_CELLS, use_cache: bool = True,
                      dataset: str = "", cell_index: np.ndarray | None = None, progress: Any = None,
                      keep_parts: bool = False) -> dict:
    """This process's part of a torchrun job (or the whole job in one process): embed the rank's
    shards, wait for every rank, and on rank 0 write the table. Returns a report (rank 0: the
    table's `cells` and `dim`)."""
    import torch.distributed as dist

    ranks = Ranks.from_env()
    joined = False
    if ranks.world > 1 and not dist.is_initialized():
        from datetime import timedelta

        dist.init_process_group("gloo", timeout=timedelta(hours=12))  # a barrier only: gloo on CPU and CUDA
        joined = True
    try:
        report = embed_rank(cells, encoder, out, ranks, device, batch_size, precision, shard_cells, use_cache,
                            progress)
        if ranks.world > 1:
            dist.barrier()
        if ranks.rank == 0:
            feats = merge_parts(cells, out, report["signature"], report["shard_cells"], dataset, cell_index,
                                keep_parts)
            report.update(out=str(out), cells=len(cells), dim=int(feats.shape[1]))
        if ranks.world > 1:
            dist.barrier()  # rank 0 has written the table before any rank reports success
        return report
    finally:
        if joined:
            dist.destroy_process_group()
