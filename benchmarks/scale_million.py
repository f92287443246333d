"""A whole screen on this machine: a 1,000,000-cell store embedded whole, in parts, by `ssrl embed --procs`.

Cells: the 2,808 real BBBC021 crops of ../shared/data (68x68x3 uint16), their centre 64x64 averaged
2x2 to 32x32 (so `small_cnn` runs at ~550 cells/s a core instead of ~110 at 64 px, and the whole
store embeds in the time a helper session has), then repeated with seeded flips/rotations and
intensity gains 0.85-1.15. Layout of a real screen: plate P1 holds 700,000 cells (384 wells, ~1,823
cells a well, 9 sites), plate P2 the other 300,000; each well has one treatment (DMSO, or
cycloheximide at 5, 15 or 50 uM, in turn) and its cells are copies of real crops of that treatment.

Phases (each in its own process, timed, with the peak RSS of the biggest process it started):
- write: the 1 M store (`StoreWriter`, one unit per site).
- embed: `ssrl embed --encoder random-small_cnn --procs 2 --no-cache` on all 1 M cells.
- map: UMAP of the 1 M embeddings (fitted on 20k, the rest placed by `transform`), drawn to PNG.
- procs: the first 100,000 cells (a store of their own) embedded with `--procs 1` and `--procs 2`,
  and the two tables compared value by value.
- profiles (run later with `--phase profiles`): per-well profiles and per-plate normalisation of
  the 700k-cell plate, streamed (`ssrl_core.evaluate.plate_stream`).

    flock /tmp/ssrl-heavy.lock nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/scale_million.py --out /tmp/ssrl_1m
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCE = ROOT.parent / "shared" / "data" / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz"
RESULTS = ROOT / "benchmarks" / "scale_million.json"
TREATMENTS = [("DMSO", 0.0), ("cyclohexamide", 5.0), ("cyclohexamide", 15.0), ("cyclohexamide", 50.0)]
WELLS = [f"{r}{c:02d}" for r in "ABCDEFGHIJKLMNOP" for c in range(1, 25)]  # 384
SITES = 9


def peak_rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def _small_sources():
    from ssrl_core.data.registry import load_dataset

    cells = load_dataset(SOURCE)  # the shared crops store no channel names: the source table gives them
    x = cells.images[:, 2:66, 2:66, :].astype(np.float32)
    small = x.reshape(len(x), 32, 2, 32, 2, 3).mean(axis=(2, 4)).round().astype(np.uint16)
    return small, cells.meta, cells.channels


def plate_layout(n: int, first: int = 700_000) -> list[tuple[str, str, int, int]]:
    """(plate, well, site, cells) units in acquisition order: P1 with `first` cells, P2 the rest."""
    units = []
    for plate, total in (("P1", min(n, first)), ("P2", max(0, n - first))):
        per = np.full(len(WELLS) * SITES, total // (len(WELLS) * SITES))
        per[: total - per.sum()] += 1
        k = 0
        for well in WELLS:
            for site in range(1, SITES + 1):
                if per[k]:
                    units.append((plate, well, site, int(per[k])))
                k += 1
    return units


def phase_write(out: Path, n: int, name: str) -> dict:
    from ssrl_core.data.store import StoreWriter

    small, meta, channels = _small_sources()
    groups = {t: np.flatnonzero((meta["compound"].to_numpy() == t[0]) &
                                (meta["concentration"].to_numpy(dtype=float) == t[1])) for t in TREATMENTS}
    path = out / name
    shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    w = StoreWriter(path, channels, path.stem, params={"n": n}, resume=False)
    for u, (plate, well, site, k) in enumerate(plate_layout(n)):
        treat = TREATMENTS[WELLS.index(well) % len(TREATMENTS)]
        rng = np.random.default_rng([7, u])
        pick = rng.choice(groups[treat], k)
        turn = rng.integers(0, 8, k)
        imgs = small[pick]
        for t in range(8):
            sel = np.flatnonzero(turn == t)
            if len(sel):
                block = imgs[sel][:, :, ::-1] if t >= 4 else imgs[sel]
                imgs[sel] = np.rot90(block, t % 4, axes=(1, 2))
        gain = rng.uniform(0.85, 1.15, k).astype(np.float32)[:, None, None, None]
        imgs = np.clip(imgs * gain, 0, 65535).astype(np.uint16)
        rows = pd.DataFrame({"plate": plate, "well": well, "site": site, "compound": treat[0],
                             "concentration": treat[1], "copy_of": pick})
        w.add(imgs, rows, unit=f"{plate}-{well}-{site}")
    w.close()
    os.sync()
    s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in path.iterdir())
    return {"phase": "write", "cells": n, "seconds": round(s, 1), "cells_per_s": round(n / s),
            "disk_gb": round(size / 1e9, 2), "peak_rss_mb": round(peak_rss_mb())}


def phase_embed(store: Path, out_table: Path, procs: int, batch: int = 256) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "ssrl_core", "embed", "--encoder", "random-small_cnn", "--data", str(store),
           "--out", str(out_table), "--batch-size", str(batch), "--no-cache", "--device", "cpu", "--procs",
           str(procs), "--json"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    s = time.perf_counter() - t0
    if res.returncode != 0:
        return {"phase": "embed", "procs": procs, "error": res.stderr[-2000:]}
    report = json.loads(res.stdout.strip().splitlines()[-1])
    return {"phase": "embed", "store": store.name, "procs": procs, "cells": report["cells"], "dim": report["dim"],
            "seconds": round(s, 1), "cells_per_s": round(report["cells"] / s, 1),
            "peak_rss_mb_biggest_process": round(peak_rss_mb(children=True)),
            "table_gb": round(out_table.stat().st_size / 1e9, 3), "load_average": os.getloadavg()}


def read_features(table: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """The embedding columns of a table as one `(N, D)` float32 array, row group by row group."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(table)
    names = [c for c in f.schema_arrow.names if c.startswith("emb_")]
    x = np.empty((f.metadata.num_rows, len(names)), dtype=np.float32)
    row = 0
    for g in range(f.num_row_groups):
        t = f.read_row_group(g, columns=names)
        k = t.num_rows
        for j, name in enumerate(names):
            x[row:row + k, j] = t.column(name).to_numpy()
        row += k
    meta = f.read(columns=["plate", "well", "compound", "concentration"]).to_pandas()
    return x, meta


def phase_map(table: Path, png: Path) -> dict:
    from ssrl_core.evaluate.projection import project_with_info

    t0 = time.perf_counter()
    x, meta = read_features(table)
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    xy, info = project_with_info(x, "umap", seed=0)
    map_s = time.perf_counter() - t0
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = meta["compound"].astype(str) + " " + meta["concentration"].astype(float).map("{:g}".format)
    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    order = np.random.default_rng(0).permutation(len(xy))
    colours = {name: plt.cm.tab10(i) for i, name in enumerate(sorted(label.unique()))}
    ax.scatter(xy[order, 0], xy[order, 1], s=0.05, c=[colours[v] for v in label.to_numpy()[order]],
               linewidths=0, rasterized=True)
    for name, c in colours.items():
        ax.scatter([], [], s=20, color=c, label=name)
    ax.legend(markerscale=1, fontsize=8, loc="best")
    ax.set_title(f"UMAP of {len(xy):,} cells (random small_cnn, fitted on {info['fitted_on']:,})", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(png)
    return {"phase": "map", "cells": len(xy), "read_s": round(read_s, 1), "map_s": round(map_s, 1),
            "fitted_on": info["fitted_on"], "placement": info["placement"], "finite": bool(np.isfinite(xy).all()),
            "peak_rss_mb": round(peak_rss_mb())}


def phase_profiles(table: Path) -> dict:
    from ssrl_core.evaluate.plate_stream import plate_profiles

    t0 = time.perf_counter()
    got = plate_profiles(table, control="DMSO", scratch=table.parent)
    s = time.perf_counter() - t0
    m = got["map"]
    return {"phase": "profiles", "cells": int(got["wells"]["cells"].sum()), "wells": len(got["wells"]),
            "plates": got["scale"].plates, "scope": got["scale"].scope, "seconds": round(s, 1),
            "map": {str(t): round(float(v), 4) for t, v in zip(m["treatment"], m["mean_average_precision"])},
            "peak_rss_mb": round(peak_rss_mb())}


def phase_compare(a: Path, b: Path) -> dict:
    from ssrl_core.evaluate.export import read_table

    ta, tb = read_table(a), read_table(b)
    pd.testing.assert_frame_equal(ta, tb)
    return {"phase": "compare", "cells": len(ta), "equal": True}


def _child(out: Path, args: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--out", str(out), "--phase", *args]
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        rec = {"phase": args[0], "error": res.stderr[-2000:]}
    else:
        rec = json.loads(res.stdout.strip().splitlines()[-1])
    rec["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(rec), flush=True)
    return rec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/ssrl_1m")
    ap.add_argument("--cells", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=100_000)
    ap.add_argument("--phase", nargs="+", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["SSRL_CACHE"] = str(out / "cache")
    if a.phase:
        p = a.phase
        res = {"write": lambda: phase_write(out, int(p[1]), p[2]),
               "embed": lambda: phase_embed(Path(p[1]), Path(p[2]), int(p[3])),
               "map": lambda: phase_map(Path(p[1]), Path(p[2])),
               "compare": lambda: phase_compare(Path(p[1]), Path(p[2])),
               "profiles": lambda: phase_profiles(Path(p[1]))}[p[0]]()
        print(json.dumps(res))
        return 0
    results = [{"phase": "setup", "cpus": os.cpu_count(), "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                "load_average": os.getloadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}]

    def save() -> None:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")

    big, small = out / "screen_1m.cells", out / "screen_100k.cells"
    for rec_args in (["write", str(a.cells), big.name], ["embed", str(big), str(out / "emb_1m.parquet"), "2"],
                     ["map", str(out / "emb_1m.parquet"), str(ROOT / "benchmarks" / "scale_map_1m.png")],
                     ["write", str(a.small), small.name],
                     ["embed", str(small), str(out / "emb_100k_p1.parquet"), "1"],
                     ["embed", str(small), str(out / "emb_100k_p2.parquet"), "2"],
                     ["compare", str(out / "emb_100k_p1.parquet"), str(out / "emb_100k_p2.parquet")]):
        results.append(_child(out, rec_args))
        save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
