"""How much of cycloheximide vs DMSO on BBBC021 is plain per-channel brightness?

On the held-out cells that score every BBBC021 encoder (sites 3-4 of plate Week4_27801,
`paper/quality.py`), this scores per-cell channel means and standard deviations with the
same probe, k-NN and k = 2 K-Means AMI as the encoders. It is why the base encoder `cells_base`
has a second training stage with a weak intensity jitter (configs/pretrained/cells_base.yaml):
an encoder taught to ignore brightness throws away most of what separates the two groups.

Usage: .venv/bin/python benchmarks/bbbc021_intensity.py   (prints a markdown table)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paper.quality import heldout, score_features  # noqa: E402


def intensity_rows() -> list[tuple[str, dict[str, float]]]:
    """(features, scores) for channel means, stds, both, and each channel's mean alone."""
    cells, labels = heldout("bbbc021")
    x = np.asarray(cells.images, dtype=np.float32)  # (N, H, W, C)
    mean, std = x.mean(axis=(1, 2)), x.std(axis=(1, 2))
    names = list(cells.channels) if getattr(cells, "channels", None) else [f"channel {c}" for c in range(x.shape[-1])]
    rows = [("every channel's mean", score_features(mean, labels)), ("every channel's std", score_features(std, labels)),
            ("means and stds", score_features(np.c_[mean, std], labels))]
    rows += [(f"{name} mean only", score_features(mean[:, [c]], labels)) for c, name in enumerate(names)]
    return rows


def main() -> None:
    print("| features | probe top-1 | k-NN top-1 | k=2 AMI |\n|---|---|---|---|")
    for name, s in intensity_rows():
        print(f"| {name} | {s['top1']:.3f} | {s['knn_top1']:.3f} | {s['ami']:.3f} |")


if __name__ == "__main__":
    main()
