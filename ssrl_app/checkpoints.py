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


RANDOM_START = "Random weights (train from scratch)"
IMAGENET_START = "ImageNet weights (where the backbone has them)"


def start_options(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a new run can start from, label -> config fields: random weights, ImageNet, every
    shipped encoder, every run with a checkpoint. An encoder fixes the backbone, the per-channel
    mode and the crop size (its weights only fit those)."""
    from ssrl_core.io import read_yaml

    out: dict[str, dict[str, Any]] = {RANDOM_START: {}, IMAGENET_START: {"pretrained": True}}
    for item in shipped():
        full = next((c for c in shipped_checkpoints() if c["name"] == item["name"]), {})
        if full.get("backbone"):
            out[f"Shipped encoder: {item['name']}"] = {
                "init": item["name"], "backbone": full["backbone"], "per_channel": bool(full.get("per_channel")),
                "crop_size": int(full.get("crop_size") or 64)}
    for r in runs:
        run_dir = Path(str(r.get("run_dir") or r.get("path") or ""))
        cfg_path = run_dir / "config.yaml"
        if not (run_dir / "checkpoint.pt").is_file() or not cfg_path.is_file():
            continue
        try:
            cfg = read_yaml(cfg_path) or {}
        except (OSError, ValueError):
            continue
        out[f"My run: {run_dir.name}"] = {"init": str(run_dir), "backbone": cfg.get("backbone"),
                                           "per_channel": bool(cfg.get("per_channel")),
                                           "crop_size": int(cfg.get("crop_size") or 64)}
    return out
