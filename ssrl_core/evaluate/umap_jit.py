"""UMAP (McInnes et al. 2018, umap-learn) with its compiled code kept on disk between processes.

umap-learn compiles its numba functions the first time a process draws a map. Most of them are not
marked `cache=True` (`smooth_knn_dist`, `compute_membership_strengths`, the exact-neighbour
`fast_knn_indices` used below 4,096 cells...), so every new process (each app server, each
`ssrl` command, each test worker) paid about 9 CPU-seconds before its first map, also for 40
cells. `umap_module()` turns on numba's own on-disk cache (`Dispatcher.enable_caching`, the
switch `cache=True` sets) for every jitted function of umap's modules: the first process compiles
and writes the cache, the next ones load it (under 1 s). Same machine code, same maps; numba keys the
cache by the source file and the CPU, and recompiles when either changes. The cache lies in
umap's `__pycache__` folder, or in numba's user-wide folder when that one is read-only
(`NUMBA_CACHE_DIR` chooses another); with no writable folder at all, UMAP compiles as before.
Measured in `benchmarks/umap_first_map.md`.
"""

from __future__ import annotations

import sys
import time
from types import ModuleType

import numpy as np

_CACHED = False


def umap_module() -> ModuleType:
    """`import umap`, with every jitted function of its modules caching its compiled code on disk."""
    global _CACHED
    import umap
    import umap.layouts
    import umap.umap_
    import umap.utils

    if not _CACHED:
        from numba.core.dispatcher import Dispatcher

        _CACHED = True  # once per process, whether or not a folder could be found
        for name, module in list(sys.modules.items()):
            if name == "umap" or name.startswith("umap."):
                for obj in list(vars(module).values()):
                    if isinstance(obj, Dispatcher) and obj.__module__ == name:
                        try:
                            obj.enable_caching()
                        except RuntimeError:  # no writable cache folder anywhere: compile as before
                            return umap
    return umap


def warm(cells: int = 40) -> float:
    """Draw one tiny map so the compiled code is on disk (`ssrl setup`, the app's warm-up); returns
    the seconds it took (about 9 the first time on a CPU, under 1 once cached)."""
    umap = umap_module()
    t0 = time.perf_counter()
    x = np.random.default_rng(0).normal(size=(cells, 8)).astype(np.float32)
    umap.UMAP(n_components=2, n_neighbors=min(15, cells - 1), random_state=0, n_jobs=1).fit_transform(x)
    return round(time.perf_counter() - t0, 2)
