"""View throughput per executor, and the CPU cores a GPU needs (issue "The GPU path", items 1-2).

Measures on this machine, on real BBBC021 crops (68 px, 3 channels, uint16, scaled once), 64 px
views, microscopy set A and set B (pairs per second; a pair = the two views of one cell):
  (a) the CPU path: `ViewPairs` (albumentations, one image at a time) in one process, as each
      DataLoader worker runs it; plus the collate (`stack_views`) of a batch;
  (b) the batched executor (`ssrl_core.augment.batched.BatchTwoViews`) on the CPU device, batches
      of 256, with 1 torch thread and with all threads (a GPU runs the same ops as kernels);
  (c) the worker cores an H100 needs with the CPU path: the GPU's demand (4,000-11,000 ResNet18
      MoCo pairs/s at 64 px in bf16, the issue's estimate from ~35 GFLOP a pair) divided by (a);
  (d) CPU training (no GPU): steps/s of a short ResNet18 MoCo run with 0, 1 and 2 loader
      workers, to choose `num_workers: auto` on the CPU.
Usage: python -m benchmarks.view_throughput [--cells 512] [--steps 12] [--skip-training] [--out FILE]
(run under the machine's heavy-work lock: `flock /tmp/ssrl-heavy.lock nice -n 10 ...`).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GPU_DEMAND = (4000, 11000)  # ResNet18 MoCo pairs/s at 64 px on one H100, bf16 (issue estimate)


def cpu_name() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    name = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "")
    return f"{name or platform.processor()} ({os.cpu_count()} logical cores visible)"


def load_crops(n: int):
    from ssrl_core.train import load_config
    from ssrl_core.train.data import load_cells, prepare_images

    cfg = load_config(ROOT / "configs" / "bbbc021_cycloheximide_set_a.yaml")
    cells = load_cells(cfg.data, 0)
    cells = cells.subset(np.arange(min(n, len(cells))))
    images01, _, _ = prepare_images(cells)
    return np.asarray(images01[:n], dtype=np.float32)


def cpu_path(images: np.ndarray, preset: str) -> float:
    from ssrl_core.augment import get_preset
    from ssrl_core.train.data import ViewPairs
    from ssrl_core.train.loader import stack_views

    ds = ViewPairs(images, [get_preset(preset)], 64, seed=0)
    ds[0]  # build the cached pipeline
    t0 = time.perf_counter()
    items = [ds[i] for i in range(len(ds))]
    for k in range(0, len(items), 256):
        stack_views(items[k:k + 256])
    return len(ds) / (time.perf_counter() - t0)


def batched_path(images: np.ndarray, preset: str, threads: int) -> float:
    from ssrl_core.augment import get_preset
    from ssrl_core.augment.batched import BatchTwoViews

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    maker = BatchTwoViews(get_preset(preset), 64)
    x = torch.from_numpy(images).permute(0, 3, 1, 2)
    maker(x[:256], 0)  # warm-up
    t0, done = time.perf_counter(), 0
    for k in range(0, len(x), 256):
        maker(x[k:k + 256], k)
        done += len(x[k:k + 256])
    rate = done / (time.perf_counter() - t0)
    torch.set_num_threads(before)
    return rate


def cpu_training(workers: int, steps: int) -> float:
    """Steady-state pairs/s of a short CPU run (the first log interval is dropped)."""
    from ssrl_core.train import load_config, train
    from ssrl_core.train.rundir import read_metrics_records

    cfg = load_config(ROOT / "configs" / "bbbc021_cycloheximide_set_a.yaml",
                      ["backbone=resnet18", "batch_size=64", f"max_steps={steps}", "log_every=4",
                       f"num_workers={workers}", "device=cpu", "checkpoint_minutes=0", "epochs=100"])
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run")
        rows = read_metrics_records(Path(tmp) / "run")
    return float(np.median([r["pairs_per_s"] for r in rows[1:]] or [rows[-1]["pairs_per_s"]]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=512)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "view_throughput.md"))
    ap.add_argument("--skip-training", action="store_true", help="only the views (under a minute of CPU)")
    args = ap.parse_args()
    images = load_crops(args.cells)
    threads = torch.get_num_threads()
    lines = ["# View throughput per executor, and the CPU cores a GPU needs", "",
             f"CPU: {cpu_name()}; torch {torch.__version__}, {threads} torch threads; the machine was shared "
             f"with other sessions (load average {os.getloadavg()[0]:.1f} at the start: the numbers are lower "
             "bounds of a quiet machine).",
             f"Data: {len(images)} real BBBC021 crops (68 px, 3 channels), 64 px views. "
             "Made by `python -m benchmarks.view_throughput` (docstring: what each row is).", "",
             "| recipe | executor | pairs/s |", "|---|---|---|"]
    per_core, batched_1 = {}, {}
    for preset in ("microscopy-set-a", "microscopy-set-b"):
        per_core[preset] = cpu_path(images, preset)
        batched_1[preset] = batched_path(images, preset, 1)
        lines.append(f"| {preset} | CPU path (albumentations), 1 process | {per_core[preset]:,.0f} |")
        lines.append(f"| {preset} | batched executor on the CPU, 1 thread | {batched_1[preset]:,.0f} |")
        if threads > 1:
            lines.append(f"| {preset} | batched executor on the CPU, {threads} threads | "
                         f"{batched_path(images, preset, threads):,.0f} |")
    lo, hi = GPU_DEMAND
    lines += ["", "## Worker cores one H100 needs with the CPU path", "",
              f"Demand: {lo:,}-{hi:,} ResNet18 MoCo pairs/s at 64 px in bf16 (estimate: ~35 GFLOP a pair).", "",
              "| recipe | pairs/s a core (here) | cores for one H100 |", "|---|---|---|"]
    for preset, rate in per_core.items():
        lines.append(f"| {preset} | {rate:,.0f} | {lo / rate:.0f}-{hi / rate:.0f} |")
    need = max(lo / r for r in per_core.values())
    faster = [p for p in per_core if batched_1[p] > per_core[p]]
    lines += ["", f"Reading: at these rates one H100 needs at least {need:.0f} worker cores for the CPU path; "
              "the lent GPU machine has 16 cores for one GPU (15 workers with `num_workers: auto`), so it is "
              "marginal at best and 8 GPUs would need far more cores than a node has. The batched executor "
              "runs the same recipes as GPU kernels (`augment_on: device`); on one CPU core it was "
              + (f"faster than albumentations for {', '.join(faster)}" if faster else "not faster than albumentations")
              + " in this run. Its GPU rate is for `benchmarks/gpu_check.sh` to measure."]
    if not args.skip_training:
        lines += ["", "## CPU training (no GPU): loader workers", "",
                  f"ResNet18 + MoCo v2, batch 64, {args.steps} steps, steady-state pairs/s (first interval dropped).",
                  "", "| num_workers | pairs/s |", "|---|---|"]
        for w in (0, 1, 2):
            lines.append(f"| {w} | {cpu_training(w, args.steps):.1f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
