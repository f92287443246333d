"""The first UMAP map of a new process, before and after `umap_jit` keeps numba's code on disk (not a test).

    .venv/bin/python benchmarks/umap_first_map.py [--out benchmarks/umap_first_map.md]

Each row is a fresh Python process that imports the product, draws one seeded UMAP map of random
features (40 cells: the app's warm-up; 3,000 cells: a demo set) and reports its CPU and wall time
for the map alone (imports excluded). Every process gets its own numba cache folder
(`NUMBA_CACHE_DIR`), so nothing outside this run is reused:

- before: `import umap` as umap-learn ships it (only its few `cache=True` functions are cached):
  the first process on an empty folder, then the next one, i.e. what every process paid before;
- after, first ever: `umap_jit.umap_module()` on an empty folder (it compiles and writes);
- after, next process: the same folder again (it loads).

The maps are compared: the same seed must give the same coordinates in every row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from view_throughput import cpu_name  # noqa: E402

CHILD = """
import json, sys, time
import numpy as np
from ssrl_core.evaluate import umap_jit, projection
if sys.argv[1] == "before":  # umap-learn as shipped: no caching switched on
    import umap
    projection.umap_module = lambda: umap
n = int(sys.argv[2])
x = np.random.default_rng(0).normal(size=(n, 32)).astype(np.float32)
c0, w0 = time.process_time(), time.perf_counter()
xy = projection.project(x, method="umap")
print(json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0, "sum": float(np.abs(xy).sum()),
                  "xy": xy[:5].tolist()}))
"""


def child(mode: str, n: int, cache: Path) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT),
               PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(n)], capture_output=True, text=True, env=env,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "umap_first_map.md"))
    args = ap.parse_args()
    rows, maps = [], {}
    for n in (40, 3000):
        with tempfile.TemporaryDirectory() as before_dir, tempfile.TemporaryDirectory() as after_dir:
            cases = [("before, first ever (fills umap-learn's own cache=True functions)",
                      child("before", n, Path(before_dir))),
                     ("before, every next process", child("before", n, Path(before_dir))),
                     ("after, first ever (compiles, writes)", child("after", n, Path(after_dir))),
                     ("after, every next process (loads)", child("after", n, Path(after_dir)))]
        for label, r in cases:
            rows.append((n, label, r["cpu"], r["wall"]))
            maps.setdefault(n, []).append(np.asarray(r["xy"]))
    same = all(np.array_equal(m[0], other) for m in maps.values() for other in m[1:])
    before = {n: cpu for n, label, cpu, _ in rows if label.startswith("before") and "next" in label}
    after = {n: cpu for n, label, cpu, _ in rows if label.startswith("after") and "next" in label}
    lines = ["# The first UMAP map of a new process", "",
             f"CPU: {cpu_name()} ({os.cpu_count()} cores), one thread per process. Made by "
             "`benchmarks/umap_first_map.py`.", "",
             "| cells | process | map CPU s | map wall s |", "|---|---|---|---|"]
    lines += [f"| {n:,} | {label} | {cpu:.2f} | {wall:.2f} |" for n, label, cpu, wall in rows]
    lines += ["", "After / before, map CPU of a new process: " + ", ".join(
        f"{n:,} cells {after[n] / before[n]:.2f}" for n in before) + ".",
        f"Same coordinates in every row (same seed): {'yes' if same else 'NO'}.", ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
