"""What guards a run: resume compatibility checked before anything is written, and stop signals.

`check_resume` refuses, with every mismatch listed, a `--resume` whose checkpoint does not fit
the config (method, backbone, channels, crop size, per-channel mode) or cannot continue training
(an encoder-only export). `StopSignals` turns Ctrl-C / SIGTERM into a flag the loop reads, so a
run saves its checkpoint and stops instead of dying mid-write.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from ssrl_core.models.encoder_file import EncoderFacts, load_checkpoint
from ssrl_core.train import rundir as rd
from ssrl_core.train.config import RunConfig
from ssrl_core.train.data import load_cells


def check_resume(cfg: RunConfig, run_dir: Path, resume: bool) -> int:
    """The step training starts from: the checkpoint's when resuming, else 0. Raises ValueError
    when RUN_DIR/checkpoint.pt cannot be resumed with `cfg` (method, backbone, channels, crop)."""
    last = run_dir / rd.CHECKPOINT
    if not (resume and last.is_file()):
        return 0
    ck = load_checkpoint(last)
    missing = [k for k in ("optimizer", "step", "epoch", "channel_ranges") if k not in ck]
    if missing:
        raise ValueError(f"Cannot resume from {last}: it lacks {', '.join(missing)} (an encoder-only export "
                         "cannot continue training); start a new run, e.g. with --set init=" + str(last))
    channels = load_cells(cfg.data, cfg.seed).images.shape[-1]
    facts = EncoderFacts.of(ck)
    problems = [f"{k}: checkpoint has {have!r}, config has {want!r}" for k, have, want in
                (("method", ck.get("method"), cfg.method.name), ("backbone", facts.backbone, cfg.backbone),
                 ("in_channels", facts.in_channels, channels), ("crop_size", facts.crop_size, cfg.crop_size),
                 ("per_channel", facts.per_channel, bool(cfg.per_channel))) if have != want]
    if problems:
        raise ValueError(f"Cannot resume {run_dir}: the checkpoint does not match this config ("
                         + "; ".join(problems) + "); nothing was changed")
    return int(ck["step"])



class StopSignals:
    """SIGINT/SIGTERM set a flag (the loop saves and stops) instead of killing mid-write."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig, name in ((signal.SIGINT, "Ctrl-C (SIGINT)"), (signal.SIGTERM, "SIGTERM")):
                self._old[sig] = signal.signal(sig, lambda *_a, n=name: setattr(self, "reason", n))
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def not_finite_message(terms: dict[str, Any], lr: float, step: int, epoch: int, cfg_lr: float) -> str:
    """Why a run stopped at a NaN/inf loss, which term went first, and what to change."""
    import torch

    names = [k for k, v in terms.items() if k != "loss" and not bool(torch.isfinite(v.detach()).all())]
    which = names[0] if names else ("loss" if not bool(torch.isfinite(terms["loss"].detach()).all())
                                    else "loss (on another process)")
    kind = "NaN" if names and bool(torch.isnan(terms[names[0]].detach()).any()) else "NaN or infinite"
    return (f"Training stopped at step {step + 1} (epoch {epoch + 1}): the loss term '{which}' "
            f"became {kind}. The learning rate ({lr:g}) is probably too high for this method and batch size: "
            f"lower it (e.g. --set lr={cfg_lr / 10:g}) and start again. The last good checkpoint "
            "(if any) is kept.")
