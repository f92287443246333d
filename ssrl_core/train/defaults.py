"""The short run: what `ssrl train` starts without a config file and what the Train page shows
first, chosen by measurement.

`short_run_defaults(device)` is a partial raw run config: the fields it does not set keep their
declared defaults (`train.fields`). The CLI and the Train page both start from it, so both start
the same run.

The values come from `benchmarks/train_quality.md` (held-out quality per CPU-minute, against
random weights of the same backbone and a lightly reference loop at equal wall time) and
`benchmarks/backbone_cost.md` (multiply-adds and pairs/s per backbone). `docs/methods.md` has
the tables. On a CPU the cost of a backbone decides what a few minutes can learn: ResNet18 with
the stride-1 small-image stem costs 2.2 GMACs per 64 px image (about 6 pairs/s here), `small_cnn`
0.21 (100-180 pairs/s), so the CPU default is the small encoder; a GPU has the headroom for the
paper's ResNet18.
"""

from __future__ import annotations

from typing import Any

# SimCLR learns fastest of the five in CPU-minutes: 3 minutes on one core, MitoCheck held-out
# plates, small_cnn: SimCLR top-1 0.73 / AMI 0.47, MoCo v2 0.39-0.54 / 0.19-0.34, VICReg 0.50 / 0.16,
# random init 0.60 / 0.26 (benchmarks/train_quality.md). A MoCo queue of stale keys and a slow
# momentum encoder cost more than they give in a few hundred steps.
SIMCLR_SHORT = {"temperature": 0.2}

# AdamW lr 3e-4: 2 minutes on one core (benchmarks/train_quality.md), MNIST digit probe 0.959 at
# lr 3e-4 against 0.835 at 2e-3 (random weights 0.917, the lightly reference 0.921); on MitoCheck
# held-out plates lr 3e-4 / 1e-3 / 2e-3 give 0.710 / 0.727 / 0.677, the same within run-to-run
# noise. A high rate lets a few hundred SimCLR steps trade the digit away for the invariances.
SHORT_LR = 3e-4

CPU: dict[str, Any] = {
    "backbone": "small_cnn", "batch_size": 64, "optimizer": "adamw", "lr": SHORT_LR, "weight_decay": 1e-4,
    "warmup_epochs": 1.0, "precision": "auto", "method": {"name": "simclr", "params": dict(SIMCLR_SHORT)},
}
# A few minutes on a CPU: the time budget ends the run, the epochs are an upper bound; the loss
# is logged from the first step (the Train page follows the run as it goes).
SHORT: dict[str, Any] = {"epochs": 50, "max_minutes": 3.0, "log_every": 1}
GPU: dict[str, Any] = {
    "backbone": "resnet18", "batch_size": 256, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4,
    "warmup_epochs": 1.0, "precision": "auto", "method": {"name": "simclr", "params": dict(SIMCLR_SHORT)},
}


def short_run_defaults(device: str = "auto") -> dict[str, Any]:
    """A copy of the short run for `device` (`auto`: the GPU set when CUDA is present)."""
    import copy

    import torch

    gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    return copy.deepcopy({**(GPU if gpu else CPU), **SHORT})
