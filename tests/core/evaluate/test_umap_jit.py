"""UMAP's compiled code is kept on disk: a new process loads it instead of compiling it again
(`ssrl_core.evaluate.umap_jit`; about 9 CPU-s per process before)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from ssrl_core.evaluate.projection import project
from ssrl_core.evaluate.umap_jit import umap_module, warm

# the functions umap-learn leaves uncached, which a small map compiles
UNCACHED_UPSTREAM = ("umap_.smooth_knn_dist", "umap_.compute_membership_strengths", "utils.fast_knn_indices")

PROBE = """
import json, sys
import numpy as np
from ssrl_core.evaluate.projection import project
from ssrl_core.evaluate.umap_jit import umap_module
xy = project(np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32), method="umap")
umap = umap_module()
stats = {n: getattr(getattr(umap, n.split(".")[0]), n.split(".")[1]).stats for n in sys.argv[1:]}
print(json.dumps({"xy": xy.tolist(), "stats": {n: [s.cache_hits and sum(s.cache_hits.values()),
                                                   s.cache_misses and sum(s.cache_misses.values())]
                                               for n, s in stats.items()}}))
"""


def test_a_new_process_loads_the_compiled_umap_code_and_draws_the_same_map() -> None:
    warm()  # this process: compiled (or loaded) and written to disk
    here = project(np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32), method="umap")
    umap = umap_module()
    for name in UNCACHED_UPSTREAM:
        module, func = name.split(".")
        assert getattr(getattr(umap, module), func).stats.cache_path, name  # caching is on
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", PROBE, *UNCACHED_UPSTREAM], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    there = json.loads(out.stdout.strip().splitlines()[-1])
    for name, (hits, misses) in there["stats"].items():
        assert hits >= 1 and not misses, (name, hits, misses)  # loaded from disk, nothing compiled
    np.testing.assert_array_equal(np.asarray(there["xy"], dtype=np.float32), here)  # the same map
