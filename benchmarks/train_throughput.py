"""Training throughput: MoCo v2, ResNet18, 64 px crops, batch 64, on this machine's CPU (or GPU).

Measures, in one run (image pairs per second; a pair = the two views of one cell):
  (a) our end-to-end training (`ssrl_core.train.train`): real uint16 BBBC021 crops, scaling,
      albumentations views (microscopy set A), DataLoader, model step, logging, checkpoint;
  (b) our model step alone (MoCo v2 loss + backward + AdamW + momentum update) on ready tensors;
  (c) the same step built from the `lightly` library's MoCo blocks (MoCoProjectionHead,
      NTXentLoss with a 4096-key memory bank, update_momentum) on the same ResNet18 backbone;
      skipped with a message if lightly is not installed (it is not a dependency of ssrl);
  (d) the limit: the same step as (b) at the best precision and layout found on this machine
      (bf16 autocast, channels-last; on a CPU without native bf16 it is slower than fp32 and
      (b) is the limit). It replaces a "FLOP bound" from a measured matmul rate, which was not a
      bound: 3x3 convolutions take faster paths than a matmul, and the step ran at 171% of it.

Usage: .venv/bin/python benchmarks/train_throughput.py [--steps 3] [--warmup 1] [--threads N]
       [--workers 0] [--out benchmarks/train_throughput.md]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH, CROP, CHANNELS, QUEUE, TEMP, MOMENTUM = 64, 64, 3, 4096, 0.2, 0.99
BACKBONE = "resnet18"  # --backbone tiny_cnn only to try the script quickly


def _views(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(BATCH, CHANNELS, CROP, CROP, generator=g).to(device),
            torch.rand(BATCH, CHANNELS, CROP, CROP, generator=g).to(device))


def _step_seconds(step, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def ours_step(device: torch.device, bf16: bool = False):
    """(b) Our MoCo v2 (symmetric, as trained) on our ResNet18, channels-last like the trainer:
    one optimiser step per call; (d) the same under bf16 autocast."""
    from ssrl_core.methods import build_method
    from ssrl_core.models import build_backbone

    torch.manual_seed(0)
    backbone, dim = build_backbone(BACKBONE, CHANNELS, CROP)
    method = build_method("moco_v2", backbone, dim, queue_size=QUEUE, temperature=TEMP, momentum=MOMENTUM)
    method.to(device, memory_format=torch.channels_last)  # as the trainer does (channels_last: true)
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in _views(device))

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = method.loss(v1, v2)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        method.after_step(0.5)

    return step


def lightly_step(device: torch.device):
    """(c) The same step from lightly's blocks (symmetric loss, memory bank of 4096 keys)."""
    from lightly.loss import NTXentLoss
    from lightly.models.modules import MoCoProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum

    from ssrl_core.models import build_backbone

    torch.manual_seed(0)
    backbone, dim = build_backbone(BACKBONE, CHANNELS, CROP)
    head = MoCoProjectionHead(dim, 2048, 128)
    key_backbone, key_head = copy.deepcopy(backbone), copy.deepcopy(head)
    deactivate_requires_grad(key_backbone)
    deactivate_requires_grad(key_head)
    for m in (backbone, head, key_backbone, key_head):
        m.to(device)
    criterion = NTXentLoss(temperature=TEMP, memory_bank_size=(QUEUE, 128))
    opt = torch.optim.AdamW(list(backbone.parameters()) + list(head.parameters()), lr=1e-3)
    v1, v2 = _views(device)

    def step() -> None:
        q1, q2 = head(backbone(v1)), head(backbone(v2))
        with torch.no_grad():
            k1, k2 = key_head(key_backbone(v1)), key_head(key_backbone(v2))
        loss = 0.5 * (criterion(q1, k2) + criterion(q2, k1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        update_momentum(backbone, key_backbone, MOMENTUM)
        update_momentum(head, key_head, MOMENTUM)

    return step


def end_to_end(steps: int, warmup: int, workers: int, threads: int, steppers: dict, device: torch.device) -> dict:
    """(a) The real trainer on real BBBC021 uint16 crops. After each trainer step, its progress
    callback times one call of each other step function (b, c), so all see the same machine load;
    the trainer's own step time is the gap between two callbacks (loading, views, step, logging)."""
    from ssrl_core import paths
    from ssrl_core.train import load_config, train

    shared = paths.shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data is absent: (a) needs the real BBBC021 crops")
    npz = shared / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz"
    cfg = load_config(None, [f"data.name={npz}", "recipes=[microscopy-set-a]", "method.name=moco_v2",
                             f"method.params.queue_size={QUEUE}", f"method.params.temperature={TEMP}",
                             f"method.params.momentum={MOMENTUM}", f"backbone={BACKBONE}", f"crop_size={CROP}",
                             f"batch_size={BATCH}", f"max_steps={steps + warmup}", "epochs=1", "log_every=1",
                             f"num_workers={workers}", f"cpu_threads={threads}", "data.max_cells=1024",
                             "precision=fp32",  # the same precision as (b) and (c); (d) is the bf16 limit
                             "name=throughput"])
    times: dict[str, list[float]] = {"a": [], **{k: [] for k in steppers}}
    last_exit: list[float] = []

    def callback(rec: dict) -> None:
        now = time.perf_counter()
        timed = rec["step"] > warmup
        if timed and last_exit:
            times["a"].append(now - last_exit[-1])
        for k, fn in steppers.items():
            took = _step_seconds(fn, device)
            if timed:
                times[k].append(took)
        print(f"  step {rec['step']}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items() if v and timed),
              flush=True)
        last_exit.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, Path(tmp) / "run", progress=callback)
    return {k: BATCH / statistics.median(v) for k, v in times.items()}


def view_rate(n: int = 128) -> float:
    """Pairs of views per second made by our data pipeline alone (one process), real BBBC021 crops."""
    from ssrl_core import paths
    from ssrl_core.train.config import DataConfig, RecipeConfig
    from ssrl_core.train.data import ViewPairs, load_cells, prepare_images, resolve_recipes

    npz = paths.shared_data_dir() / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz"
    cells = load_cells(DataConfig(name=str(npz), max_cells=n))
    images, _, _ = prepare_images(cells)
    ds = ViewPairs(images, resolve_recipes([RecipeConfig(preset="microscopy-set-a")]), CROP)
    ds[0]
    t = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    return len(ds) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers for (a)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=None, help="write the results as markdown here")
    ap.add_argument("--backbone", default="resnet18", help="resnet18 (the benchmark); tiny_cnn to try the script")
    args = ap.parse_args()
    global BACKBONE
    BACKBONE = args.backbone
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    res: dict = {"backbone": BACKBONE, "device": str(device), "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                 "load_before": os.getloadavg()[0], "torch": torch.__version__, "python": platform.python_version()}
    steppers = {"b": ours_step(device), "d": ours_step(device, bf16=True)}
    try:
        import lightly  # noqa: F401

        steppers["c"] = lightly_step(device)
    except ImportError:
        print("lightly is not installed: (c) skipped (pip install lightly==1.6.0 to compare)", flush=True)
    print("measuring view generation alone ...", flush=True)
    res["views_pairs_s"] = view_rate()
    print(f"measuring a (trainer) with {', '.join(steppers)} (model steps) in turns ...", flush=True)
    threads = torch.get_num_threads() if device.type == "cpu" else 0
    rates = end_to_end(args.steps, args.warmup, args.workers, threads, steppers, device)
    res["a_end_to_end_pairs_s"], res["b_ours_step_pairs_s"] = rates["a"], rates["b"]
    res["c_lightly_step_pairs_s"] = rates.get("c")
    res["d_limit_pairs_s"] = max(rates["d"], rates["b"])
    res["load_after"] = os.getloadavg()[0]
    c = res["c_lightly_step_pairs_s"]
    if c:
        res["b_over_c"] = res["b_ours_step_pairs_s"] / c
        res["a_over_c"] = res["a_end_to_end_pairs_s"] / c
    res["a_over_d"] = res["a_end_to_end_pairs_s"] / res["d_limit_pairs_s"]
    res["steps"], res["warmup"], res["workers"] = args.steps, args.warmup, args.workers
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.write_text(render(res), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def render(r: dict) -> str:
    c = r["c_lightly_step_pairs_s"]
    fmt = lambda v: "skipped (lightly absent)" if v is None else f"{v:.3g}"  # noqa: E731
    lines = [
        f"# Training throughput (MoCo v2, {r['backbone']}, 64 px, batch 64)", "",
        f"Device: {r['device']}, {r['threads']} torch threads, {r['cpus']} CPUs; torch {r['torch']}; "
        f"load average {r['load_before']:.1f} before / {r['load_after']:.1f} after (shared machine); "
        f"median of {r['steps']} timed steps after {r['warmup']} warm-up step(s) each; (a), (b), (c) timed in turns "
        "(one step of each, repeated) so they share the same machine load; "
        f"DataLoader workers: {r['workers']}.", "",
        "| measure | image pairs / s |", "|---|---|",
        f"| (a) ours, end to end, fp32 (real BBBC021 uint16 crops, views, loader, step, logging) | {fmt(r['a_end_to_end_pairs_s'])} |",
        f"| (b) ours, model step alone | {fmt(r['b_ours_step_pairs_s'])} |",
        f"| (c) lightly 1.6.0 MoCo blocks, same step | {fmt(c)} |",
        f"| view generation alone (albumentations, 1 process; not a step) | {fmt(r['views_pairs_s'])} |",
        f"| (d) limit: the step of (b) at the best precision found (bf16 autocast, channels-last) "
        f"| {fmt(r['d_limit_pairs_s'])} |", "",
    ]
    if c:
        lines += [f"- (b)/(c) = {r['b_over_c']:.2f} (target >= 1.0)",
                  f"- (a)/(c) = {r['a_over_c']:.2f} (target >= 0.9)"]
    lines += [f"- (a)/(d) = {r['a_over_d']:.2f}: the fp32 trainer end to end runs at {100 * r['a_over_d']:.0f}% of the "
              "fastest step found (with `precision: auto` the trainer uses bf16 where the CPU has it natively)", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
