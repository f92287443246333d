"""Which encoder turns cells into embeddings: a checkpoint, or a baseline named by the user.

- a checkpoint path (`.pt`, or a run directory holding `checkpoint.pt`): the trained backbone
  (output before the projection head), with the checkpoint's crop size and channel ranges;
- `random-<backbone>` (e.g. `random-resnet18`): a randomly initialised backbone (seed 0), the
  floor any training must beat; `random-<backbone>-per-channel` is the same backbone applied to
  each channel (the floor of a per-channel encoder such as `cells_base`);
- `imagenet-vgg16`: VGG16 conv features with ImageNet weights (the paper's pretrained
  baseline) through the documented channel adapter and ImageNet normalisation;
- `hand-features`: classical intensity, texture and nucleus-shape measurements.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ssrl_core import paths
from ssrl_core.io import atomic_write_json, sha256_file
from ssrl_core.models import BACKBONES, build_backbone
from ssrl_core.models.encoder_file import EncoderFacts, find_checkpoint, load_encoder, read_facts
from ssrl_core.models.fit import check_channels, size_warning
from ssrl_core.perceptual import imagenet_encoder
from ssrl_core.weights import WeightsUnavailable

BASELINES = ("random-<backbone>", "random-<backbone>-per-channel", "imagenet-vgg16", "hand-features")
PER_CHANNEL = "-per-channel"
RANDOM_SEED = 0
RECIPE_VERSION = "2"  # bump when the preprocessing or a baseline changes, to refresh caches


@dataclass
class EncoderSpec:
    """A resolved encoder: what it is, its cache identity, and how to build it."""

    kind: str  # "checkpoint" | "random" | "imagenet" | "hand"
    name: str
    identity: str  # goes into the cache key
    crop_size: int | None = None
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, remembered by (path, mtime, size) so a second call costs nothing."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_mtime_ns}|{st.st_size}"
    index_path = paths.cache_dir() / "embeddings" / "file_hashes.json"
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    if key in index:
        return index[key]
    index[key] = sha256_file(path)
    atomic_write_json(index_path, index)
    return index[key]


def resolve(encoder: str) -> EncoderSpec:
    """Turn the user's encoder choice into an `EncoderSpec` (checks the name, reads no weights
    except a checkpoint's description)."""
    name = str(encoder).strip()
    if name == "hand-features":
        return EncoderSpec("hand", name, f"hand-features:v{RECIPE_VERSION}")
    if name == "imagenet-vgg16":
        return EncoderSpec("imagenet", name, f"imagenet-vgg16:v{RECIPE_VERSION}")
    if name.startswith("random-"):
        backbone = name[len("random-"):].removesuffix(PER_CHANNEL)
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone in {name!r}; use random-<backbone> with one of {', '.join(BACKBONES)}")
        return EncoderSpec("random", name, f"{name}:seed{RANDOM_SEED}:v{RECIPE_VERSION}")
    path = Path(os.path.expanduser(name))
    if not path.exists():
        raise FileNotFoundError(f"{name!r} is neither a checkpoint file nor a baseline "
                                f"({', '.join(BASELINES)})")
    ckpt = find_checkpoint(path)
    return EncoderSpec("checkpoint", ckpt.name, f"ckpt:{file_sha256(ckpt)}:v{RECIPE_VERSION}", path=ckpt)


def random_twin(info: Mapping[str, Any]) -> str | None:
    """The baseline a checkpoint's training must beat: the same backbone with random weights,
    `random-<backbone>` (with `-per-channel` for a per-channel encoder); None without a backbone."""
    if not info.get("backbone"):
        return None
    return f"random-{info['backbone']}" + (PER_CHANNEL if info.get("per_channel") else "")


def check_fit(encoder: str, n_channels: int, side: int) -> str | None:
    """The fit check of `models.fit` for the encoder named by `encoder`, before any cell is embedded:
    a checkpoint whose channels do not fit raises ValueError (the app's words); crops more than 2x
    from its crop size give a warning sentence (they are resized and embedded anyway). Baselines
    are built for the cells, so they always fit (None)."""
    spec = resolve(encoder)
    if spec.kind != "checkpoint":
        return None
    facts = read_facts(spec.path)[1].to_dict()
    check_channels(facts, n_channels)
    return size_warning(facts, side)


def build_module(spec: EncoderSpec, in_channels: int, image_size: int, device: str,
                 channels: tuple[str, ...] | list[str] = ()):
    """The torch module for a neural encoder (eval mode, on `device`); fills spec's crop size,
    ranges and info. Returns None for `hand-features`.

    A checkpoint's stored channel ranges (those of its training cells) scale the cells, so a cell
    embeds the same way whichever dataset file or selection it comes from. A per-channel encoder
    met on other stains (`channels` differ from its training channels, e.g. `cells_base`) scales
    each channel by the cells' dataset range instead."""
    import torch

    if spec.kind == "hand":
        return None
    if spec.kind == "checkpoint":
        module, info = load_encoder(spec.path, device=device, in_channels=in_channels)
        check_channels(info, in_channels)
        facts = EncoderFacts.of(info)
        spec.info = {k: v for k, v in info.items() if k in ("method", "backbone", "in_channels", "crop_size",
                                                             "feat_dim", "channels", "dataset", "per_channel")}
        spec.crop_size = facts.crop_size or image_size
        same_stains = tuple(facts.channels) == tuple(str(c) for c in channels)
        ranges = None if facts.per_channel and not same_stains else facts.ranges()
        if ranges is not None:
            spec.lo, spec.hi = ranges
        return module.eval()
    if spec.kind == "random":
        torch.manual_seed(RANDOM_SEED)
        backbone = spec.name[len("random-"):].removesuffix(PER_CHANNEL)
        per_channel = spec.name.endswith(PER_CHANNEL)
        module, dim = build_backbone(backbone, in_channels, image_size, per_channel=per_channel)
        spec.crop_size, spec.info = image_size, {"backbone": backbone, "feat_dim": dim, "per_channel": per_channel}
        return module.to(device).eval()

    try:
        module = imagenet_encoder(in_channels)
    except WeightsUnavailable as exc:
        raise RuntimeError(f"The ImageNet VGG16 baseline needs its weights, which are not on this "
                           f"machine: {exc}. Run `ssrl setup` once with network access.") from exc
    spec.crop_size, spec.info = image_size, {"backbone": "vgg16-imagenet", "feat_dim": 512}
    return module.to(device).eval()
