"""Checkpoints: one file per save, plain types and tensors only.

A checkpoint holds the model state, the run config, the method/backbone names, the input channel
count, crop size, the recipes, the channel ranges (lo/hi) used to scale pixels to [0, 1] (so
embedding later uses the same scale), package versions and the final metrics. It is written
atomically (temporary file, then rename) and read only with `torch.load(..., weights_only=True)`,
so a file holding pickled Python objects is refused instead of run.
"""

from __future__ import annotations

import pickle
import re
import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ssrl_core.io import atomic_write

FORMAT = "ssrl-checkpoint"
FORMAT_VERSION = 1
INFO_KEYS = ("method", "backbone", "in_channels", "crop_size", "feat_dim", "channels", "channel_ranges",
             "recipes", "recipe_weights", "dataset", "config", "versions", "metrics", "epoch", "step",
             "half", "format_version", "per_channel", "parent", "freeze", "train_seconds")


def package_versions() -> dict[str, str]:
    """Versions that matter to reload a checkpoint."""
    import numpy

    import ssrl_core

    out = {"python": platform.python_version(), "torch": str(torch.__version__), "numpy": str(numpy.__version__),
           "ssrl_core": str(ssrl_core.__version__)}
    try:
        import torchvision

        out["torchvision"] = str(torchvision.__version__)
    except ImportError:  # pragma: no cover
        pass
    return out


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically. `state` must hold only plain types and tensors."""
    state = dict(state)
    state.setdefault("format", FORMAT)
    state.setdefault("format_version", FORMAT_VERSION)
    state.setdefault("versions", package_versions())
    state = plain(state)
    return atomic_write(path, lambda p: torch.save(state, p))


def plain(obj: Any, where: str = "checkpoint") -> Any:
    """Only types `torch.load(weights_only=True)` accepts: tensors, str, numbers, bool, None,
    and dicts/lists/tuples of them (numpy values become Python/tensors, str subclasses str)."""
    import numpy as np

    if obj is None or isinstance(obj, (bool, torch.Tensor)) or type(obj) in (int, float, str):
        return obj
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, (int, float)):
        return int(obj) if isinstance(obj, int) else float(obj)
    if isinstance(obj, dict):
        return {plain(k, where): plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise TypeError(f"{where} holds a {type(obj).__name__}, which a safe checkpoint cannot store")


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
                         "use the run's complete checkpoint.pt")
    return ckpt


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


def check_channels(info: dict[str, Any], n_channels: int) -> None:
    """Raise a plain error when images have a different channel count from the checkpoint."""
    want = int(info["in_channels"])
    if info.get("per_channel"):  # one grey-scale encoder applied to every channel: any count fits
        return
    if int(n_channels) != want:
        names = info.get("channels") or []
        raise ValueError(f"This checkpoint was trained on {want}-channel images ({', '.join(map(str, names))}) "
                         f"but these images have {n_channels} channels. Use a checkpoint trained on the "
                         "same channels, or choose matching data.")


def load_encoder(path: str | Path, device: str | torch.device = "cpu",
                 in_channels: int | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A ready encoder (backbone without projection heads, eval mode, float32) and its info.

    `info` holds method, backbone, in_channels, crop_size, feat_dim, channels and
    channel_ranges {"lo": [...], "hi": [...]} for `to_unit_float`. A per-channel encoder
    (`per_channel: true`) is built for `in_channels` channels (default: those it was trained on);
    its `feat_dim` is then `in_channels` times the grey encoder's width.
    """
    from ssrl_core.models import build_backbone

    ckpt = load_checkpoint(path)
    info = checkpoint_info(ckpt)
    per_channel = bool(info.get("per_channel", False))
    try:
        channels = int(in_channels) if per_channel and in_channels else int(info["in_channels"])
        encoder, feat_dim = build_backbone(info["backbone"], channels, int(info["crop_size"]), per_channel=per_channel)
    except KeyError as exc:
        raise ValueError(f"{Path(path).name} does not say which backbone it holds ({exc})") from exc
    state = {k: v.float() if torch.is_floating_point(v) else v for k, v in encoder_state(ckpt).items()}
    try:
        encoder.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        raise ValueError(
            f"{Path(path).name} does not match a {info['backbone']} with {info['in_channels']} input "
            f"channel(s): the architecture or the channel count differs. Detail: {' '.join(first[:3])[:400]}"
        ) from exc
    info["feat_dim"] = feat_dim if per_channel else (info.get("feat_dim") or feat_dim)
    return encoder.to(device).eval(), info


def export_checkpoint(path: str | Path, out: str | Path, half: bool = True) -> Path:
    """A small shipping copy: encoder weights only (half precision by default) + the description.

    The copy loads with `load_encoder` like a full checkpoint, but cannot resume training.
    """
    ckpt = load_checkpoint(path)
    state = encoder_state(ckpt)
    if half:
        state = {k: v.half() if torch.is_floating_point(v) else v for k, v in state.items()}
    small = {k: ckpt[k] for k in INFO_KEYS if k in ckpt}
    small.update(format=FORMAT, model=state, encoder_prefix="", half=bool(half), exported_from=str(Path(path).name))
    return save_checkpoint(out, small)
