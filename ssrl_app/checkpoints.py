"""Choosing the checkpoint in use: shipped ones (pretrained/index.json), finished runs, uploads.

Uploaded files are stored under the session's upload folder with a sanitised name and checked
with `ssrl_core.train.checkpoint.load_encoder` (weights-only loading) before they are used, so a
file that is not a checkpoint, or does not fit, gets a plain message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssrl_core.models.shipped import shipped_checkpoints

BASELINES = ("random-resnet18", "imagenet-vgg16", "hand-features")


def shipped() -> list[dict[str, Any]]:
    """Shipped checkpoints whose file exists: {name, path, description}."""
    return [{"name": item["name"], "path": item["path"], "description": str(item.get("description", ""))}
            for item in shipped_checkpoints()]


def finished_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs (from `jobs.list_runs()`) that have a `checkpoint.pt`: {name, path}."""
    out = []
    for r in runs:
        run_dir = Path(str(r.get("run_dir") or r.get("path") or ""))
        ckpt = run_dir / "checkpoint.pt"
        if ckpt.is_file():
            out.append({"name": f"{r.get('name', run_dir.name)} ({r.get('state', '?')})", "path": str(ckpt)})
    return out


def check(path: str | Path) -> dict[str, Any]:
    """Open a checkpoint safely and return its info; raises ValueError with a plain message."""
    from ssrl_core.train.checkpoint import load_encoder
    try:
        _, info = load_encoder(path, device="cpu")
    except (ValueError, FileNotFoundError):
        raise
    except Exception as exc:  # a pickle or zip that is not a checkpoint
        raise ValueError(f"{Path(path).name} is not a checkpoint this tool can read ({type(exc).__name__}).") from exc
    return info


def describe(info: dict[str, Any]) -> str:
    """One line: method, backbone, channels, crop size."""
    return (f"{info.get('method', '?')} on {info.get('backbone', '?')}, "
            f"{info.get('in_channels', '?')} channel(s), {info.get('crop_size', '?')} px crops")
