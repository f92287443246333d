"""Scale benchmark: cell stores of 10k / 100k / 500k real crops, written, opened, embedded, clustered, mapped.

Cells: the 2,808 real BBBC021 crops of ../shared/data (68x68x3 uint16), repeated with seeded
augmentations (one of the 8 flips/rotations and an intensity gain of 0.85-1.15 per copy), so the
pixels stay realistic. Every phase runs in its own process, so its peak resident memory
(`ru_maxrss`) is its own. Run it (slow; not a test) with

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/scale.py --out /tmp/ssrl_scale

and read the results in benchmarks/scale.json (benchmarks/scale.md discusses them). The stores
are deleted at the end unless `--keep`.

Phases:
- write: `StoreWriter` in units of 1,000 cells (like one site each): cells/s, peak RSS, disk size.
- open: what the app does to open a set: manifest header, `open_store` (metadata table only),
  channel ranges (512 sampled crops), a two-column filter, a gallery of 12 crops, a lazy subset.
- embed: `embed_with_info` (random `tiny_cnn` on CPU, fp32: a real network that stays
  CPU-feasible) streaming `--embed-cells` cells from the largest store, against the plain
  inference rate of the same module on the same cells already in memory as float tensors.
- cluster / map: `cluster_metrics` (mini-batch K-Means above 50k cells) and `project_with_info`
  (UMAP fitted on 20k cells + `transform`; t-SNE fitted on 5k + nearest-neighbour placement) at
  100k and 500k cells. Embedding 500k crops with tiny_cnn on this 2-core machine would take about an
  hour, so these phases use the real embeddings of `--embed-cells` cells, tiled with small
  Gaussian noise (sd 0.05 x the feature sd) to the size; the cost of K-Means and UMAP depends on
  N, D and k, not on where the rows came from.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SOURCE = ROOT.parent / "shared" / "data" / "bbbc021" / "bbbc021_week4_dmso_cycloheximide.npz"
UNIT = 1000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def augmented(src: np.ndarray, meta, unit: int, n: int, seed: int = 0):
    """Cells `unit*UNIT ... +n` of the repeated set: seeded flips/rotations and gains of real crops."""
    rng = np.random.default_rng([seed, unit])
    pick = rng.integers(0, len(src), n)
    turn = rng.integers(0, 8, n)
    gain = rng.uniform(0.85, 1.15, n).astype(np.float32)
    out = np.empty((n,) + src.shape[1:], src.dtype)
    for t in range(8):
        sel = np.flatnonzero(turn == t)
        if len(sel):
            block = src[pick[sel]]
            if t >= 4:
                block = block[:, :, ::-1]
            out[sel] = np.rot90(block, t % 4, axes=(1, 2))
    out = np.clip(out.astype(np.float32) * gain[:, None, None, None], 0, 65535).astype(np.uint16)
    rows = meta.iloc[pick].reset_index(drop=True)
    rows["copy_of"] = pick
    rows["augment"] = turn
    rows["gain"] = gain
    return out, rows


def phase_write(n: int, out: Path) -> dict:
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.data.store import StoreWriter

    cells = load_dataset(SOURCE)  # the shared crops store no channel names: the source table gives them
    src, meta = cells.images, cells.meta
    path = out / f"scale_{n}.cells"
    if path.exists():
        shutil.rmtree(path)
    t0 = time.perf_counter()
    w = StoreWriter(path, cells.channels, f"scale_{n}", params={"n": n}, resume=False)
    gen = 0.0
    for u in range(0, -(-n // UNIT)):
        k = min(UNIT, n - u * UNIT)
        g = time.perf_counter()
        imgs, rows = augmented(src, meta, u, k)
        gen += time.perf_counter() - g
        w.add(imgs, rows, unit=f"u{u}")
    w.close()
    os.sync()
    total = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in path.iterdir())
    return {"phase": "write", "cells": n, "seconds": round(total, 2), "augment_seconds": round(gen, 2),
            "cells_per_s": round(n / total), "cells_per_s_store_only": round(n / max(total - gen, 1e-9)),
            "disk_gb": round(size / 1e9, 3), "chunks": len(list(path.glob("chunk_*.npy"))),
            "peak_rss_mb": round(peak_rss_mb())}


def phase_open(path: Path) -> dict:
    import numpy as np

    from ssrl_core.data.cellset import channel_ranges
    from ssrl_core.data.registry import dataset_info

    t = {}
    t0 = time.perf_counter()
    if path.suffix == ".npz":
        from ssrl_core.data.npz import load_npz

        info = dataset_info(path)
        t["header"] = time.perf_counter() - t0
        cells = load_npz(path)
    else:
        from ssrl_core.data.store import open_store

        info = dataset_info(path)
        t["header"] = time.perf_counter() - t0
        cells = open_store(path)
    t["open"] = time.perf_counter() - t0 - t["header"]
    s = time.perf_counter()
    channel_ranges(cells.images)
    t["ranges"] = time.perf_counter() - s
    from ssrl_app.selection import mask_of  # (imports streamlit: not timed, the app has it loaded)

    s = time.perf_counter()
    mask = mask_of(cells, {"compound": ["DMSO"], "plate": ["Week4_27801"]})
    cats = [c for c in cells.meta.columns if 1 < cells.meta[c].nunique() <= 60]
    t["filter"] = time.perf_counter() - s
    s = time.perf_counter()
    idx = np.flatnonzero(mask)
    shown = np.sort(np.random.default_rng(0).choice(idx, 12, replace=False))
    tiles = [cells.images[i] for i in shown]
    sub = cells.subset(mask)
    t["gallery"] = time.perf_counter() - s
    return {"phase": "open", "dataset": path.name, "cells": info["cells"], "lazy": bool(cells.lazy),
            "selected": int(mask.sum()), "categorical_columns": len(cats), "tiles": len(tiles), "subset": len(sub),
            **{f"{k}_s": round(v, 3) for k, v in t.items()}, "total_s": round(sum(t.values()), 3),
            "peak_rss_mb": round(peak_rss_mb())}


def phase_embed(path: Path, n: int, batch: int, feats_out: Path) -> dict:
    import torch

    from ssrl_core.data.cellset import channel_ranges, to_unit_float
    from ssrl_core.data.store import open_store
    from ssrl_core.evaluate.embedding import embed_with_info
    from ssrl_core.evaluate.encoders import build_module, resolve

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    whole = open_store(path, lazy=True)
    start = len(whole) // 3  # from the middle of the store: no special first chunk
    cells = whole.subset(np.arange(start, start + n))
    t0 = time.perf_counter()
    feats, info = embed_with_info(cells, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=batch)
    embed_s = time.perf_counter() - t0
    rss_embed = peak_rss_mb()
    np.save(feats_out, feats)
    # the same cells: plain inference of the same module on tensors already scaled in memory,
    # against embed_with_info streaming them from the store (no cache), in alternating rounds so
    # both see the same machine load; the best round of each is compared (this CPU is shared)
    h, w, c = cells.shape
    module = build_module(resolve("random-tiny_cnn"), c, h, "cpu")
    lo, hi = channel_ranges(cells.images)
    k = min(n, 8 * batch)
    part = cells.subset(np.arange(k))
    x = torch.from_numpy(to_unit_float(part.images[:], lo, hi)).permute(0, 3, 1, 2).contiguous()
    plain, streamed = [], []
    with torch.inference_mode():
        module(x[:batch])
        for _ in range(4):
            t1 = time.perf_counter()
            for s in range(0, k, batch):
                module(x[s:s + batch])
            plain.append(time.perf_counter() - t1)
            t1 = time.perf_counter()
            embed_with_info(part, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=batch,
                            use_cache=False)
            streamed.append(time.perf_counter() - t1)
    return {"phase": "embed", "cells": n, "store_cells": len(whole), "batch": batch, "dim": int(feats.shape[1]),
            "embed_s": round(embed_s, 2), "embed_cells_per_s": round(n / embed_s, 1),
            "rounds_cells": k, "plain_inference_cells_per_s": round(k / min(plain), 1),
            "streamed_embed_cells_per_s": round(k / min(streamed), 1), "ratio": round(min(plain) / min(streamed), 3),
            "plain_rounds_s": [round(v, 2) for v in plain], "streamed_rounds_s": [round(v, 2) for v in streamed],
            "cache_written": not info["cached"], "peak_rss_mb_embed": round(rss_embed),
            "peak_rss_mb": round(peak_rss_mb())}


def _tiled(feats: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    reps = -(-n // len(feats))
    x = np.tile(feats, (reps, 1))[:n]
    x += rng.normal(scale=0.05, size=x.shape).astype(np.float32) * feats.std(axis=0, keepdims=True)
    return x


def phase_cluster(feats_path: Path, n: int, store: Path) -> dict:
    from ssrl_core.data.store import read_meta
    from ssrl_core.evaluate.cluster import cluster_metrics

    feats = np.load(feats_path)
    x = _tiled(feats, n)
    compound = read_meta(store, ["compound"])["compound"].to_numpy()
    start = len(compound) // 3  # the rows phase_embed embedded, tiled as the features are
    labels = np.tile(compound[start:start + len(feats)], -(-n // len(feats)))[:n]
    t0 = time.perf_counter()
    cm = cluster_metrics(x, labels, k=10, seed=0)
    out = {"phase": "cluster", "cells": n, "method": cm["method"], "seconds": round(time.perf_counter() - t0, 2),
           "ami": round(cm["ami"], 4), "silhouette": round(cm["silhouette"], 4), "peak_rss_mb": round(peak_rss_mb())}
    if n <= 100_000:  # the full K-Means it replaces, on the same table
        t0 = time.perf_counter()
        full = cluster_metrics(x, labels, k=10, seed=0, method="kmeans")
        out.update(kmeans_seconds=round(time.perf_counter() - t0, 2), kmeans_ami=round(full["ami"], 4),
                   kmeans_silhouette=round(full["silhouette"], 4))
    return out


def phase_map(feats_path: Path, n: int, method: str) -> dict:
    from ssrl_core.evaluate.projection import project_with_info

    x = _tiled(np.load(feats_path), n)
    t0 = time.perf_counter()
    xy, info = project_with_info(x, method, seed=0)
    return {"phase": "map", "cells": n, "method": method, "seconds": round(time.perf_counter() - t0, 2),
            "fitted_on": info["fitted_on"], "placement": info["placement"], "finite": bool(np.isfinite(xy).all()),
            "peak_rss_mb": round(peak_rss_mb())}


def _child(args: list[str], timeout: float, out: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--out", str(out), "--phase", *args]
    t0 = time.time()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"phase": args[0], "args": args, "error": f"stopped after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"phase": args[0], "args": args, "error": res.stderr[-1500:]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(time.time() - t0, 1)
    print(json.dumps(out), flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/ssrl_scale")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    ap.add_argument("--embed-cells", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--maps", nargs="*", default=["umap", "tsne"])
    ap.add_argument("--phase-timeout", type=float, default=1800)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "scale.json"))
    ap.add_argument("--phase", nargs="+", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = Path(a.out)
    if a.phase:
        p = a.phase
        os.environ["SSRL_CACHE"] = str(out / "cache")
        res = {"write": lambda: phase_write(int(p[1]), out), "open": lambda: phase_open(Path(p[1])),
               "embed": lambda: phase_embed(Path(p[1]), int(p[2]), int(p[3]), Path(p[4])),
               "cluster": lambda: phase_cluster(Path(p[1]), int(p[2]), Path(p[3])),
               "map": lambda: phase_map(Path(p[1]), int(p[2]), p[3])}[p[0]]()
        print(json.dumps(res))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = [{"phase": "setup", "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                            "cpus": os.cpu_count(), "load_average": os.getloadavg()}]
    results.append(_child(["open", str(SOURCE)], a.phase_timeout, out))
    sizes = sorted(a.sizes)
    for n in sizes:
        results.append(_child(["write", str(n)], a.phase_timeout, out))
        results.append(_child(["open", str(out / f"scale_{n}.cells")], a.phase_timeout, out))
    biggest = out / f"scale_{sizes[-1]}.cells"
    feats = out / "feats.npy"
    results.append(_child(["embed", str(biggest), str(a.embed_cells), str(a.batch), str(feats)], a.phase_timeout, out))
    for n in [s for s in sizes if s >= 100_000]:
        results.append(_child(["cluster", str(feats), str(n), str(biggest)], a.phase_timeout, out))
        for m in a.maps:
            results.append(_child(["map", str(feats), str(n), m], a.phase_timeout, out))
    Path(a.results).write_text(json.dumps(results, indent=1) + "\n")
    if not a.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
