"""The checkpoint file, read safely, and what it says about its encoder (`EncoderFacts`).

A checkpoint (written by `train.checkpoint.save_checkpoint`) is a dict of plain types and
tensors: the model state, the run config, the method name, package versions, metrics, and the
encoder's facts: backbone, input channel count and names, crop size, the channel ranges (lo/hi)
that scaled pixels to [0, 1] (so embedding later uses the same scale), whether one grey encoder
is applied per channel, and the checkpoint a fine-tune started from (`parent`). Training writes
those facts with `EncoderFacts.to_dict()`; training (resume, fine-tune) and evaluation read them
with `EncoderFacts.of(...)`, so both floors agree on one contract without `evaluate` importing
`train`. Files are read only with `torch.load(..., weights_only=True)`: a file holding pickled
Python objects is refused instead of run. A checkpoint whose tensors no longer match the digest
written with them (`tensors_digest`, bytes changed on disk), or whose weights hold NaN or
infinite values, is refused in words: it can neither embed cells nor resume.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ssrl_core.checksums import nonfinite_tensors, tensors_digest
from ssrl_core.models.backbones import build_backbone

FORMAT = "ssrl-checkpoint"
FORMAT_VERSION = 1
DIGEST = "tensors_digest"  # BLAKE2b of every tensor in the checkpoint (`ssrl_core.checksums`)
CHECKPOINT = "checkpoint.pt"  # the last checkpoint of a run directory (always this name)
INFO_KEYS = ("method", "backbone", "in_channels", "crop_size", "feat_dim", "channels", "channel_ranges",
             "recipes", "recipe_weights", "dataset", "config", "versions", "metrics", "epoch", "step",
             "half", "format_version", "per_channel", "parent", "freeze", "train_seconds")


@dataclass(frozen=True)
class EncoderFacts:
    """What a checkpoint says about its encoder: enough to rebuild it and feed it the same pixels.

    `lo`/`hi` are the per-channel intensity ranges of the training cells (`channel_ranges`);
    `per_channel` means one grey-scale encoder applied to every channel (any channel count fits);
    `parent` is what a fine-tune started from ({init, file, sha256, backbone, ...}) or None.
    """

    backbone: str
    in_channels: int
    crop_size: int
    channels: tuple[str, ...] = ()
    lo: tuple[float, ...] | None = None
    hi: tuple[float, ...] | None = None
    per_channel: bool = False
    parent: dict[str, Any] | None = None

    @classmethod
    def of(cls, ckpt: Mapping[str, Any]) -> "EncoderFacts":
        """The facts in a checkpoint (or its `checkpoint_info`); KeyError naming what is missing."""
        ranges = ckpt.get("channel_ranges") or {}
        lo, hi = ranges.get("lo"), ranges.get("hi")
        parent = ckpt.get("parent")
        return cls(backbone=str(ckpt["backbone"]), in_channels=int(ckpt["in_channels"]),
                   crop_size=int(ckpt["crop_size"]), channels=tuple(str(c) for c in ckpt.get("channels") or ()),
                   lo=None if lo is None else tuple(float(x) for x in lo),
                   hi=None if hi is None else tuple(float(x) for x in hi),
                   per_channel=bool(ckpt.get("per_channel", False)),
                   parent=dict(parent) if isinstance(parent, Mapping) else None)

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint keys these facts are stored under."""
        out: dict[str, Any] = {"backbone": self.backbone, "in_channels": int(self.in_channels),
                               "crop_size": int(self.crop_size), "channels": list(self.channels),
                               "per_channel": bool(self.per_channel), "parent": self.parent}
        if self.lo is not None and self.hi is not None:
            out["channel_ranges"] = {"lo": list(self.lo), "hi": list(self.hi)}
        return out

    def ranges(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(lo, hi) as float32 arrays, or None when the checkpoint holds no ranges."""
        if self.lo is None or self.hi is None:
            return None
        return np.asarray(self.lo, dtype=np.float32), np.asarray(self.hi, dtype=np.float32)


def find_checkpoint(path: str | Path, what: str = "") -> Path:
    """The checkpoint file behind `path`: the file itself, or a run folder's `checkpoint.pt`.
    FileNotFoundError in plain words (prefixed with `what`, e.g. "init: ") otherwise."""
    path = Path(path)
    if path.is_dir():
        if (path / CHECKPOINT).is_file():
            return path / CHECKPOINT
        raise FileNotFoundError(f"{what}the folder {path} holds no {CHECKPOINT} (has the run saved one yet?)")
    if not path.is_file():
        raise FileNotFoundError(f"{what}no checkpoint at {path}")
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (weights_only=True) and check it is one of ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "GLOBAL" not in text and "global" not in text:
            raise ValueError(f"{path.name} is not a readable checkpoint (damaged, or not a PyTorch file)") from exc
        found = re.search(r"GLOBAL ([\w.]+)", text)
        what = f" (it contains {found.group(1)})" if found else ""
        raise ValueError(
            f"{path.name} was refused: it holds pickled Python objects{what}, not only weights and plain "
            "values, and loading it could run code. Only load checkpoints written by this tool, or "
            "convert a file you trust to plain tensors first."
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path.name} is not a readable checkpoint (damaged or not a PyTorch file): {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path.name} is a PyTorch file but not a checkpoint written by ssrl "
                         "(it lacks the method/backbone description needed to rebuild the model)")
    if int(ckpt.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{path.name} was written by a newer version of ssrl (format "
                         f"{ckpt.get('format_version')}); update ssrl to read it")
    if not isinstance(ckpt.get("model"), dict):
        seems = ", ".join(f"{k} {ckpt[k]}" for k in ("method", "backbone", "dataset", "step") if k in ckpt)
        raise ValueError(f"{path.name} is an ssrl checkpoint ({seems or 'with no description'}) but its model "
                         "weights ('model') are missing, so it can neither embed cells nor resume training; "
                         f"use the run's complete {CHECKPOINT}")
    _check_integrity(path, ckpt)
    return ckpt


def _check_integrity(path: Path, ckpt: dict[str, Any]) -> None:
    """Refuse a checkpoint whose tensors changed since it was written or whose weights are not finite."""

    stored = ckpt.get(DIGEST)
    if isinstance(stored, str) and tensors_digest({k: v for k, v in ckpt.items() if k != DIGEST}) != stored:
        raise ValueError(f"{path.name} is damaged: its weights no longer match the checksum written with them "
                         "(bytes changed on disk or in a copy). Use another checkpoint of the run "
                         "(checkpoint_epochN.pt) or copy it again from where it was made.")
    bad = nonfinite_tensors(ckpt["model"])
    if bad:
        raise ValueError(f"{path.name} holds NaN or infinite weights ({len(bad)} tensor(s), e.g. {bad[0]}), so it "
                         "cannot embed cells or resume training. Use an earlier checkpoint of the run "
                         "(checkpoint_epochN.pt) or train again with a lower learning rate.")


def read_facts(path: str | Path, what: str = "") -> tuple[dict[str, Any], EncoderFacts]:
    """The checkpoint at `path` and its `EncoderFacts`; ValueError in words (prefixed with
    `what`) when the file does not say which encoder it holds."""
    ckpt = load_checkpoint(path)
    try:
        return ckpt, EncoderFacts.of(ckpt)
    except KeyError as exc:
        raise ValueError(f"{what}{Path(path).name} does not say which backbone it holds ({exc})") from exc


def checkpoint_info(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The description of a checkpoint without its tensors."""
    return {k: ckpt.get(k) for k in INFO_KEYS if k in ckpt}


def encoder_state(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The backbone weights (without heads) of a checkpoint, keys as in the backbone module."""
    prefix = ckpt.get("encoder_prefix", "")
    state = {k[len(prefix):]: v for k, v in ckpt["model"].items() if k.startswith(prefix)}
    if not state:
        raise ValueError("This checkpoint holds no encoder weights")
    return state


def load_encoder(path: str | Path, device: str | torch.device = "cpu",
                 in_channels: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A ready encoder (backbone without projection heads, eval mode, float32) and its info.

    `info` holds method, backbone, in_channels, crop_size, feat_dim, channels and
    channel_ranges {"lo": [...], "hi": [...]} for `to_unit_float` (`EncoderFacts.of(info)` reads
    them). A per-channel encoder (`per_channel: true`) is built for `in_channels` channels
    (default: those it was trained on); its `feat_dim` is then `in_channels` times the grey
    encoder's width.
    """
    ckpt, facts = read_facts(path)
    info = checkpoint_info(ckpt)
    channels = int(in_channels) if facts.per_channel and in_channels else facts.in_channels
    encoder, feat_dim = build_backbone(facts.backbone, channels, facts.crop_size, per_channel=facts.per_channel)
    state = {k: v.float() if torch.is_floating_point(v) else v for k, v in encoder_state(ckpt).items()}
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        raise ValueError(
            f"{Path(path).name} does not match a {facts.backbone} with {facts.in_channels} input "
            f"channel(s): the architecture or the channel count differs. Detail: {' '.join(first[:3])[:400]}"
        ) from exc
    info["feat_dim"] = feat_dim if facts.per_channel else (info.get("feat_dim") or feat_dim)
    return encoder.to(device).eval(), info
