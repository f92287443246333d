"""What each backbone costs on this machine: multiply-adds per image and training pairs/s.

For every backbone at 28, 64 and 96 px (1 channel, as the per-channel base encoder sees it):
  - GMACs per image (forward pass, counted by torch's FlopCounterMode; a multiply-add counts
    once, which is what vision papers call "FLOPs": ResNet18 at 224 px = 1.8);
  - parameters (millions);
  - training pairs/s of our MoCo v2 step (symmetric: both views through both encoders,
    forward + backward + AdamW + momentum update, batch 32, channels-last), in fp32 and in bf16
    autocast, measured in turns so both precisions see the same machine load;
  - the bf16 / fp32 ratio.
The limit of the fp32 column is the same step at the best precision found (the bf16 column),
not a matmul-rate "FLOP bound" (3x3 convolutions take faster paths than a matmul, so such a
bound does not hold).

Usage: .venv/bin/python benchmarks/backbone_cost.py [--sizes 28 64 96] [--steps 2] [--out benchmarks/backbone_cost.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssrl_core.devices import cpu_has_native_bf16  # noqa: E402
from ssrl_core.methods import build_method  # noqa: E402
from ssrl_core.models import BACKBONES, build_backbone  # noqa: E402

BATCH = 32
ORDER = ["tiny_cnn", "small_cnn", "resnet18_half", "resnet18_s2", "vgg11", "vgg13", "resnet18", "resnet50",
         "convnext_tiny"]


def gmacs(name: str, size: int) -> tuple[float, float]:
    from torch.utils.flop_counter import FlopCounterMode

    net, _ = build_backbone(name, 1, size)
    net.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 1, size, size))
    return counter.get_total_flops() / 2e9, sum(p.numel() for p in net.parameters()) / 1e6


def stepper(name: str, size: int, bf16: bool):
    torch.manual_seed(0)
    backbone, dim = build_backbone(name, 1, size)
    method = build_method("moco_v2", backbone, dim, queue_size=4096, temperature=0.2, momentum=0.99)
    method.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=1e-3)
    g = torch.Generator().manual_seed(0)
    v1, v2 = (torch.rand(BATCH, 1, size, size, generator=g).contiguous(memory_format=torch.channels_last)
              for _ in range(2))

    def step() -> float:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = method.loss(v1, v2)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        method.after_step(0.5)
        return time.perf_counter() - t

    return step


def measure(name: str, size: int, steps: int) -> tuple[float, float]:
    """(fp32 pairs/s, bf16 pairs/s): three warm-up steps each (oneDNN picks its kernels over the
    first calls), then `steps` steps in turns."""
    f32, b16 = stepper(name, size, False), stepper(name, size, True)
    for _ in range(3):
        f32(), b16()
    t32, t16 = [], []
    for _ in range(steps):
        t32.append(f32())
        t16.append(b16())
    return BATCH / statistics.median(t32), BATCH / statistics.median(t16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[28, 64, 96])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--backbones", nargs="+", default=[b for b in ORDER if b in BACKBONES])
    ap.add_argument("--skip-slow", type=float, default=2.0,
                    help="skip timing where one step would exceed this many GMACs per image")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "backbone_cost.md")
    args = ap.parse_args()
    rows = []
    for name in args.backbones:
        for size in args.sizes:
            macs, params = gmacs(name, size)
            if macs > args.skip_slow:
                rows.append((name, size, macs, params, None, None))
            else:
                rows.append((name, size, macs, params, *measure(name, size, args.steps)))
            r = rows[-1]
            print(name, size, f"{macs:.3f} GMACs", f"{params:.2f} M", r[4], r[5], flush=True)
    lines = [
        "# Backbone cost on this machine", "",
        f"`benchmarks/backbone_cost.py`, {time.strftime('%Y-%m-%d')}, {platform.machine()} CPU, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, native bf16: {cpu_has_native_bf16()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end. Training pairs/s of our MoCo v2 step (symmetric, "
        f"batch {BATCH}, 1 channel, channels-last; median of {args.steps} steps after 3 warm-up steps, fp32 and bf16 "
        "in turns). GMACs: multiply-adds per image, forward pass. '-' = not timed (over "
        f"{args.skip_slow:g} GMACs per image: minutes per step here).", "",
        "| backbone | px | GMACs / image | params (M) | pairs/s fp32 | pairs/s bf16 | bf16 / fp32 |",
        "|---|---|---|---|---|---|---|"]
    for name, size, macs, params, f32, b16 in rows:
        timing = (f"{f32:.1f} | {b16:.1f} | {b16 / f32:.2f}" if f32 else "- | - | -")
        lines.append(f"| {name} | {size} | {macs:.3f} | {params:.2f} | {timing} |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
