"""Speed of the evaluation tools (not a test): embedding throughput, UMAP/t-SNE, cached look.

    .venv/bin/python benchmarks/evaluate_speed.py [--cells 3000] [--device cpu] [--out benchmarks/evaluate_speed.md]

- Embedding: 3,000 crops of 64 px (MitoCheck crops from ../shared/data when present, else random
  uint8 crops) with a random-init ResNet18 through `ssrl_core.evaluate.embed` (scaling, batching,
  cache write included), against the same model's plain inference on ready float tensors in the
  same run. Target: >= 90 % of the plain rate.
- UMAP and t-SNE of the 3,000 embeddings (PCA to 50 dims first). Target: <= 15 s each. UMAP's
  first call in a process also compiles numba code; both cold and warm times are reported.
- Cached second look: `embed` again on the same cells and encoder. Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load_crops(n: int):
    from ssrl_core import paths
    from ssrl_core.data.cellset import CellSet

    shared = paths.shared_data_dir()
    npz = shared / "mitocheck" / "mitocheck_phenotype_crops.npz" if shared else None
    if npz is not None and npz.is_file():
        from ssrl_core.data.registry import load_dataset

        cells = load_dataset(npz)  # channel names from the source table
        return cells.subset(np.arange(min(n, len(cells)))), "MitoCheck crops (64 px, uint8, 1 channel)"
    imgs = np.random.default_rng(0).integers(0, 255, (n, 64, 64, 1), dtype=np.uint8)
    return CellSet(imgs, ["grey"], name="random"), "random uint8 crops (64 px, 1 channel)"


def plain_rate(cells, device: str, batch: int) -> float:
    """Cells per second of the bare model on ready tensors (the ceiling for `embed`)."""
    import torch

    from ssrl_core.data.cellset import channel_ranges, to_unit_float
    from ssrl_core.models import build_backbone

    torch.manual_seed(0)
    model, _ = build_backbone("resnet18", cells.shape[2], cells.shape[0])
    model = model.to(device).eval()
    lo, hi = channel_ranges(cells.images)
    x = torch.from_numpy(to_unit_float(cells.images, lo, hi)).permute(0, 3, 1, 2).contiguous().to(device)
    with torch.inference_mode():
        model(x[:batch])  # warm-up at the timed batch size (oneDNN builds kernels per shape)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for s in range(0, len(x), batch):
            model(x[s:s + batch])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return len(x) / (time.perf_counter() - t0)


def main() -> int:
    cache = tempfile.mkdtemp(prefix="ssrl_bench_cache_")  # a cold cache, removed at the end
    os.environ["SSRL_CACHE"] = cache
    try:
        return _run()
    finally:
        import shutil

        shutil.rmtree(cache, ignore_errors=True)


def _run() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=3000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "evaluate_speed.md"))
    args = ap.parse_args()

    import torch

    from ssrl_core.evaluate.embedding import embed_with_info
    from ssrl_core.evaluate.projection import project

    cells, source = load_crops(args.cells)
    rows: list[tuple[str, str, str, str]] = []

    plain = plain_rate(cells, args.device, args.batch)
    t0 = time.perf_counter()
    feats, info = embed_with_info(cells, "random-resnet18", device=args.device, batch_size=args.batch)
    t_embed = time.perf_counter() - t0
    rate = len(cells) / t_embed
    ratio = rate / plain
    rows.append(("embedding, plain model on ready tensors", f"{plain:.1f} cells/s", "-", "reference"))
    rows.append(("embedding with `embed` (scale, batch, cache write)", f"{rate:.1f} cells/s ({t_embed:.1f} s)",
                 ">= 90 % of plain", f"{100 * ratio:.0f} % {'OK' if ratio >= 0.9 else 'MISSED'}"))

    t0 = time.perf_counter()
    _, info2 = embed_with_info(cells, "random-resnet18", device=args.device, batch_size=args.batch)
    t_cached = time.perf_counter() - t0
    rows.append(("cached second look (same cells, same encoder)", f"{t_cached:.3f} s (cached={info2['cached']})",
                 "<= 1 s", "OK" if t_cached <= 1.0 and info2["cached"] else "MISSED"))

    for method, label in (("umap", "UMAP, first call (includes numba compilation)"), ("umap", "UMAP, warm"),
                          ("tsne", "t-SNE (Barnes-Hut, 500 iterations)")):
        t0, c0 = time.perf_counter(), time.process_time()
        project(feats, method, seed=0)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append((f"{label}, {len(feats)} points", f"{dt:.1f} s wall ({cpu:.1f} s CPU)", "<= 15 s",
                     "OK" if dt <= 15 else ("MISSED (wall)" + (", OK in CPU time" if cpu <= 15 else ""))))

    lines = ["# Evaluation speed", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `benchmarks/evaluate_speed.py` on "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU core(s) visible, device "
             f"`{args.device}`, torch {torch.__version__} ({torch.get_num_threads()} threads). "
             "The CPU was shared with other work while measuring, so absolute times are noisy; the ratio "
             "embed/plain was measured in the same run.", "",
             f"Data: {len(cells)} {source}; encoder: random-init ResNet18 (512-d), batch {args.batch}.", "",
             "| measure | result | target | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    text = "\n".join(lines) + "\n"
    from ssrl_core.io import atomic_write_text

    atomic_write_text(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
