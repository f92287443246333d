"""Tiny real training inputs shared by the training tests: a small uint16 crop file and run settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY_LOOP = ["cpu_threads=1", "backbone=tiny_cnn", "crop_size=28", "batch_size=8", "log_every=1", "epochs=2"]
TINY_FINETUNE = ["cpu_threads=1", "backbone=tiny_cnn", "crop_size=28", "batch_size=8", "log_every=1", "epochs=1",
        "recipes=[microscopy-set-b]", "method.name=simclr"]


def tiny_npz(path: Path, n: int = 24, channels: int = 2, size: int = 32) -> Path:
    """A tiny real uint16 crop file: n cells, `channels` channels, compound and plate columns."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((n, size, size, channels), np.uint16)
    for i in range(n):
        r = 4 + i % 7
        blob = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < r * r) * 3000
        for c in range(channels):
            images[i, :, :, c] = blob + rng.integers(100, 400, (size, size)) * (c + 1)
    np.savez(path, images=images, compound=np.array(["DMSO", "taxol", "cyclohexamide"] * (n // 3)),
             plate=np.array(["p1", "p2"] * (n // 2)))
    return path


# `ssrl train --set ...` for a tiny VICReg run on `tiny_run_yaml`'s 24 digits-sized cells
CLI_SETS = ["--set", "cpu_threads=1", "--set", "backbone=tiny_cnn", "--set", "crop_size=28", "--set", "batch_size=8",
            "--set", "log_every=1", "--set", "method.params.hidden_dim=64", "--set", "method.params.out_dim=32"]


def tiny_run_yaml(folder: Path, name: str, epochs: int = 1) -> Path:
    """A run config file (`run.yaml`) on 24 random 28x28 uint8 cells (`cells.npz`) in `folder`."""
    rng = np.random.default_rng(5)
    np.savez(folder / "cells.npz", images=rng.integers(0, 255, (24, 28, 28), dtype=np.uint8))
    path = folder / "run.yaml"
    path.write_text(f"name: {name}\ndata: {folder / 'cells.npz'}\nrecipes: [mnist-set1]\nmethod: vicreg\nepochs: {epochs}\n")
    return path
