"""CPU embedding speed by batch size (not a test): why `forward.cpu_batch_size` picks the batch.

    .venv/bin/python benchmarks/cpu_embed_batch.py [--out benchmarks/cpu_embed_batch.md]

For the shipped backbones at their crop sizes (and a ResNet18 and ResNet50 at larger sizes), random
uint16 crops are embedded through `ssrl_core.evaluate.embed_with_info` (no cache) at fixed batch
sizes and at the automatic CPU batch, in one process, one after the other. Reported: milliseconds
per crop (wall), the process's user and kernel CPU seconds, and minor page faults. The kernel time
at large batches is glibc mapping each layer output over 32 MB afresh and faulting its pages in.
The features are the same at every batch size (checked here: the largest difference is printed).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from view_throughput import cpu_name  # noqa: E402

CASES = (("random-small_cnn", 64, 1024), ("random-small_cnn-per-channel", 68, 1024), ("random-vgg13", 64, 512),
         ("random-vgg11", 28, 2048), ("random-resnet18", 96, 512), ("random-resnet50", 224, 64))
BATCHES = (8, 32, 256)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "cpu_embed_batch.md"))
    args = ap.parse_args()
    os.environ.setdefault("SSRL_CACHE", "/tmp/ssrl-bench-cache")
    import torch

    from ssrl_core.data.cellset import CellSet
    from ssrl_core.evaluate.embedding import embed_with_info, pick_device
    from ssrl_core.evaluate.encoders import build_module, resolve
    from ssrl_core.evaluate.forward import cpu_batch_size

    _, bf16 = pick_device("cpu", "auto")
    rng = np.random.default_rng(0)
    rows = []
    for encoder, size, n in CASES:
        cells = CellSet(images=rng.integers(0, 4000, (n, size, size, 3), dtype=np.uint16), channels=["a", "b", "c"],
                        meta=pd.DataFrame({"i": range(n)}), name="random")
        auto = cpu_batch_size(build_module(resolve(encoder), 3, size, "cpu", ("a", "b", "c")), 3, size, bf16)
        ref = None
        for batch in (*BATCHES, None):
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            feats, _ = embed_with_info(cells, encoder, device="cpu", batch_size=batch, use_cache=False)
            r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            ref = feats if ref is None else ref
            rows.append((encoder, size, f"auto ({auto})" if batch is None else str(batch), 1000 * (t1 - t0) / n,
                         r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt,
                         float(np.abs(feats - ref).max())))
            print(*rows[-1], flush=True)
    lines = ["# CPU embedding by batch size", "",
             f"`benchmarks/cpu_embed_batch.py`, {time.strftime('%Y-%m-%d')}, CPU: {cpu_name()}, torch "
             f"{torch.__version__} on {torch.get_num_threads()} threads, precision {'bf16 autocast' if bf16 else 'fp32'}; "
             f"load average at the end {os.getloadavg()[0]:.1f}. Random uint16 crops, 3 channels, no cache.", "",
             "| encoder | crop | batch | ms/crop | user s | kernel s | minor faults | max diff vs batch 8 |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {e} | {s} | {b} | {ms:.2f} | {u:.2f} | {k:.2f} | {f:,} | {d:.1e} |" for e, s, b, ms, u, k, f, d in rows]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
