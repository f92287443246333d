"""Writing checkpoints: one file per save, plain types and tensors only.

A checkpoint holds the model state, the run config, the method name, the encoder's facts
(`models.encoder_file.EncoderFacts`: backbone, channels, crop size, channel ranges, per-channel
mode, parent), the recipes, package versions and the final metrics. It carries a digest of all
its tensors (`tensors_digest`, checked when read: bytes changed on disk are refused) and is
written atomically
(temporary file, then rename); reading it (`load_checkpoint`, `load_encoder`) lives in
`ssrl_core.models.encoder_file`, where evaluation reads it too.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ssrl_core
from ssrl_core.checksums import tensors_digest
from ssrl_core.io import atomic_write, save_torch
from ssrl_core.models.encoder_file import DIGEST, FORMAT, FORMAT_VERSION, INFO_KEYS, encoder_state, load_checkpoint

__all__ = ["export_checkpoint", "package_versions", "plain", "save_checkpoint"]


def package_versions() -> dict[str, str]:
    """Versions that matter to reload a checkpoint."""
    out = {"python": platform.python_version(), "torch": str(torch.__version__), "numpy": str(np.__version__),
           "ssrl_core": str(ssrl_core.__version__)}
    version = _torchvision_version()
    if version:
        out["torchvision"] = version
    return out


def _torchvision_version() -> str | None:
    """torchvision's `__version__` (e.g. 0.29.1+cpu) read from its version.py, without importing it
    (a tiny-CNN run never needs torchvision, whose import costs seconds); None if it is not installed."""
    loaded = sys.modules.get("torchvision")
    if loaded is not None:
        return str(loaded.__version__)
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        try:
            text = (Path(folder) / "version.py").read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
        if found:
            return found.group(1)
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return None


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a checkpoint atomically. `state` must hold only plain types and tensors."""
    state = dict(state)
    state.setdefault("format", FORMAT)
    state.setdefault("format_version", FORMAT_VERSION)
    state.setdefault("versions", package_versions())
    state.pop(DIGEST, None)
    state = plain(state)
    state[DIGEST] = tensors_digest(state)
    return atomic_write(path, lambda p: save_torch(state, p))


def plain(obj: Any, where: str = "checkpoint") -> Any:
    """Only types `torch.load(weights_only=True)` accepts: tensors, str, numbers, bool, None,
    and dicts/lists/tuples of them (numpy values become Python/tensors, str subclasses str)."""
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
