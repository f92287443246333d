"""The reference loop: the run's method written with the `lightly` 1.6 library and the method's
published settings.

- SimCLR (Chen et al. 2020, ICML): LARS, lr 0.3 x batch / 256, weight decay 1e-6, batch 256,
  temperature 0.5, an MLP head 2048-128 with batch norm, cosine decay; lightly's
  `SimCLRProjectionHead`, `NTXentLoss`, `LARS`.
- MoCo v2 (Chen et al. 2020 / He et al. 2020): SGD with momentum 0.9, lr 0.03 x batch / 256,
  weight decay 1e-4, batch 256, temperature 0.2, an MLP head 2048-128, key-encoder momentum
  0.999, cosine decay; the queue is 4,096 keys (the paper's 65,536 is more than the cells of a
  small dataset). lightly's `MoCoProjectionHead`, `NTXentLoss` with a memory bank,
  `update_momentum`, `deactivate_requires_grad`. It sees exactly the cells and views our trainer
sees (our `ViewPairs` on the same recipe and seed) and the same backbone (`build_backbone`), so
the comparison is of the loop and the method's settings. It trains for a wall-clock budget
(the cosine schedule follows the share of the budget used) and saves the backbone as an
encoder-only checkpoint that `ssrl embed` reads.

Usage: .venv/bin/python benchmarks/lightly_reference.py CONFIG.yaml --minutes 2 --out DIR [--threads 1]
(CONFIG: an `ssrl train` run config; its data, recipes, backbone, crop size, channels and seed are used.)
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PUBLISHED = {
    "moco_v2": {"batch_size": 256, "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4, "temperature": 0.2,
                "key_momentum": 0.999, "queue": 4096, "hidden": 2048, "out": 128},
    "simclr": {"batch_size": 256, "lr": 0.3, "weight_decay": 1e-6, "temperature": 0.5, "hidden": 2048, "out": 128},
}


def train_reference(config: Path, minutes: float, out: Path, threads: int = 0, batch_size: int | None = None) -> dict:
    from lightly.loss import NTXentLoss
    from lightly.models.modules import MoCoProjectionHead, SimCLRProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.utils.lars import LARS
    from torch.utils.data import DataLoader, RandomSampler

    from ssrl_core.models import build_backbone
    from ssrl_core.train.checkpoint import save_checkpoint
    from ssrl_core.train.config import load_config
    from ssrl_core.train.data import ViewPairs, load_cells, prepare_images, resolve_recipes

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config(config)
    torch.manual_seed(cfg.seed)
    cells = load_cells(cfg.data, cfg.seed)
    images01, lo, hi = prepare_images(cells)
    recipes = resolve_recipes(cfg.recipes)[:1]
    data = ViewPairs(images01, recipes, cfg.crop_size, cfg.seed)
    method = "simclr" if cfg.method.name == "simclr" else "moco_v2"
    pub = PUBLISHED[method]
    batch = min(batch_size or pub["batch_size"], len(data))
    backbone, dim = build_backbone(cfg.backbone, cells.images.shape[-1], cfg.crop_size)
    lr = pub["lr"] * batch / 256
    if method == "simclr":
        head = SimCLRProjectionHead(dim, pub["hidden"], pub["out"])
        criterion = NTXentLoss(temperature=pub["temperature"])
        params = list(backbone.parameters()) + list(head.parameters())
        opt = LARS(params, lr=lr, momentum=0.9, weight_decay=pub["weight_decay"])
    else:
        head = MoCoProjectionHead(dim, pub["hidden"], pub["out"])
        key_backbone, key_head = copy.deepcopy(backbone), copy.deepcopy(head)
        deactivate_requires_grad(key_backbone)
        deactivate_requires_grad(key_head)
        criterion = NTXentLoss(temperature=pub["temperature"], memory_bank_size=(pub["queue"], pub["out"]))
        params = list(backbone.parameters()) + list(head.parameters())
        opt = torch.optim.SGD(params, lr=lr, momentum=pub["momentum"], weight_decay=pub["weight_decay"])
    budget, t0, step, epoch, losses = minutes * 60.0, time.time(), 0, 0, []
    backbone.train(), head.train()
    while time.time() - t0 < budget:
        data.set_epoch(epoch)
        loader = DataLoader(data, batch_size=batch, drop_last=True,
                            sampler=RandomSampler(data, generator=torch.Generator().manual_seed(cfg.seed + epoch)))
        for v1, v2 in loader:
            share = min(1.0, (time.time() - t0) / budget)
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * share))
            if method == "simclr":
                loss = criterion(head(backbone(v1)), head(backbone(v2)))
            else:
                update_momentum(backbone, key_backbone, pub["key_momentum"])
                update_momentum(head, key_head, pub["key_momentum"])
                q = head(backbone(v1))
                with torch.no_grad():
                    k = key_head(key_backbone(v2))
                loss = criterion(q, k)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
            if time.time() - t0 >= budget:
                break
        epoch += 1
    out.mkdir(parents=True, exist_ok=True)
    state = {"model": {k: v.detach().clone() for k, v in backbone.state_dict().items()}, "encoder_prefix": "",
             "method": f"lightly-{method}", "backbone": cfg.backbone, "in_channels": int(cells.images.shape[-1]),
             "crop_size": cfg.crop_size, "feat_dim": int(dim), "channels": list(cells.channels),
             "channel_ranges": {"lo": [float(x) for x in lo], "hi": [float(x) for x in hi]},
             "dataset": cfg.data.name, "cells": len(cells), "step": step, "epoch": epoch, "half": False,
             "metrics": {"loss": sum(losses[-10:]) / max(1, len(losses[-10:]))}}
    save_checkpoint(out / "checkpoint.pt", state)
    summary = {"steps": step, "epochs": epoch, "batch_size": batch, "lr": lr, "seconds": round(time.time() - t0, 1),
               "pairs_per_s": round(step * batch / max(1e-9, time.time() - t0), 2), "final_loss": state["metrics"]["loss"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=None)
    args = ap.parse_args()
    print(json.dumps(train_reference(args.config, args.minutes, args.out, args.threads, args.batch_size)))


if __name__ == "__main__":
    main()
