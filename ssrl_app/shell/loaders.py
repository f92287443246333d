"""Cached loaders shared by the pages: datasets, intensity ranges, LPIPS, weights status.

Large objects (CellSets, models) use `st.cache_resource` and are never mutated by a page;
small arrays and tables use `st.cache_data`. A second look at anything is instant.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ssrl_app.shell import precompute
from ssrl_core.evaluate import umap_jit

PREFERRED_DATASETS = ("mitocheck_demo", "demo_nuclei", "mnist-5k")  # the labelled sample first


@st.cache_data(ttl=30, show_spinner=False)
def dataset_list() -> list[dict[str, Any]]:
    """`ssrl_core.data.registry.list_datasets()` (refreshed every 30 s)."""
    from ssrl_core.data.registry import list_datasets
    return list_datasets()


def default_dataset(names: list[str]) -> str | None:
    """The shipped labelled sample `mitocheck_demo`, else `demo_nuclei`, else `mnist-5k`, else the first."""
    for name in PREFERRED_DATASETS:
        if name in names:
            return name
    return names[0] if names else None


def cells(name: str):
    """The CellSet called `name` with its hand-made label columns (shared, read-only: never
    modify it in a page). A new hand label makes the next call read the labels again."""
    from ssrl_core.data.annotations import annotations_file

    path = annotations_file(name)
    return _cells(name, path.stat().st_mtime_ns if path.is_file() else 0)


@st.cache_resource(show_spinner="Loading the cells…", max_entries=4)
def _cells(name: str, labels_stamp: int):
    from ssrl_core.data.registry import load_dataset
    return load_dataset(name)  # with the hand labels as of `labels_stamp`


cells.clear = _cells.clear  # type: ignore[attr-defined]  (forget every loaded set, as the tests do)


@st.cache_data(show_spinner=False, max_entries=8)
def ranges(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel display/model ranges (percentiles) of dataset `name`."""
    from ssrl_core.data.cellset import channel_ranges
    return channel_ranges(cells(name).images)


def unit_images(name: str, index: list[int]) -> np.ndarray:
    """Cells `index` of dataset `name` as float32 [0, 1] `(n, H, W, C)` (the model input scale)."""
    from ssrl_core.data.cellset import to_unit_float
    lo, hi = ranges(name)
    return to_unit_float(cells(name).images[np.asarray(index, dtype=int)], lo, hi)


@st.cache_resource(show_spinner="Loading the LPIPS network…")
def lpips_model(device: str = "cpu"):
    """The LPIPS (AlexNet) distance with real ImageNet weights (Zhang et al. 2018)."""
    from ssrl_core.perceptual import LPIPS
    return LPIPS(net="alex", device=device)


@st.cache_data(ttl=60, show_spinner=False)
def weights_status() -> dict[str, bool]:
    """Which ImageNet/LPIPS weights are on disk (`ssrl_core.weights.weights_status()`)."""
    from ssrl_core.weights import weights_status as status
    return dict(status())


@st.cache_data(show_spinner=False)
def device_text() -> str:
    """Where work runs by default, in plain words (`ssrl_core.devices`: the one device resolver),
    e.g. "GPU (NVIDIA H200), bf16 mixed precision" or "CPU, bf16 mixed precision"."""
    import torch

    from ssrl_core.devices import describe, resolve_device
    device, bf16 = resolve_device("auto", "auto")
    text = describe(device, bf16)
    if device.type == "cuda":
        text = text.replace("GPU (CUDA)", f"GPU ({torch.cuda.get_device_name(0)})")
    return text


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Load UMAP's compiled code once per server, in a background thread (under 1 s once `ssrl setup`
    or an earlier process cached it on disk, about 9 CPU-s when it compiles: `umap_jit`), and
    start `ssrl_app.shell.precompute` (the embeddings a demo needs) in a background process.

    The first UMAP map of a session would otherwise wait for it. No Streamlit call is made from
    the thread, and every module it needs is imported here, in the script's thread, first: two
    threads importing the same modules at once can deadlock (`_ModuleLock` "deadlock detected",
    seen once in four AppTest runs). Set `SSRL_APP_WARM=0` to skip (the tests do).
    """
    import os
    import threading
    if os.environ.get("SSRL_APP_WARM", "1") == "0":
        return False
    precompute.start()  # the shipped samples' embeddings, in a low-priority background process
    try:
        umap_jit.umap_module()  # imports umap (numba, pynndescent, sklearn...) here, in the script's thread
    except Exception:  # no UMAP: nothing to warm
        return False

    def work() -> None:
        try:
            umap_jit.warm()  # the same tiny map as `ssrl setup`
        except Exception:  # warming is best effort
            pass

    threading.Thread(target=work, name="ssrl-umap-warmup", daemon=True).start()
    return True
