"""Choosing the checkpoint in use: shipped ones (pretrained/index.json), finished runs, uploads.

Uploaded files are stored under the session's upload folder with a sanitised name and checked
with `ssrl_core.models.encoder_file.load_encoder` (weights-only loading) before they are used, so a
file that is not a checkpoint, or does not fit, gets a plain message. Whether an encoder fits the
cells is `ssrl_core.models.fit.misfit` (the rule `ssrl embed` applies), re-exported here for the pages.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ssrl_core.io import read_yaml
from ssrl_core.models.fit import misfit
from ssrl_core.models.shipped import shipped_checkpoints

CHECKPOINT = "checkpoint.pt"  # a run's last checkpoint (`ssrl_core.models.encoder_file.CHECKPOINT`; torch is
# imported only when a file is opened, so the first page paints before torch loads)

BASELINES = ("random-resnet18", "imagenet-vgg16", "hand-features")


def shipped() -> list[dict[str, Any]]:
    """Shipped checkpoints whose file exists: {name, path, description, dataset}."""
    return [{"name": item["name"], "path": item["path"], "description": str(item.get("description", "")),
             "dataset": str(item.get("dataset", ""))} for item in shipped_checkpoints()]


def start_misfit(fields: dict[str, Any], n_channels: int, side: int) -> str | None:
    """Why a "Start from" option (`start_options` value) cannot fine-tune on these cells, or None."""
    init = fields.get("init")
    if not init:
        return None
    entry = next((c for c in shipped_checkpoints() if c["name"] == init), None)
    if entry is not None:
        info = {k: entry.get(k) for k in ("in_channels", "per_channel", "channels")}
    else:
        info = {k: v for k, v in facts(Path(str(init)) / CHECKPOINT).items() if k != "crop_size"}
    return misfit(info, n_channels, side)


def finished_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs (from `jobs.list_runs()`) that have a `checkpoint.pt`: {name, path}."""
    out = []
    for r in runs:
        run_dir = Path(str(r.get("path") or ""))
        ckpt = run_dir / CHECKPOINT
        if ckpt.is_file():
            out.append({"name": f"{r.get('name', run_dir.name)} ({r.get('state', '?')})", "path": str(ckpt)})
    return out


def check(path: str | Path) -> dict[str, Any]:
    """Open a checkpoint safely and return its info; raises ValueError with a plain message."""
    from ssrl_core.models.encoder_file import load_encoder
    try:
        _, info = load_encoder(path, device="cpu")
    except (ValueError, FileNotFoundError):
        raise
    except Exception as exc:  # a pickle or zip that is not a checkpoint
        raise ValueError(f"{Path(path).name} is not a checkpoint this tool can read: it was not saved by a training "
                         "of this tool, or it is damaged. Use a run's checkpoint.pt or a shipped one.") from exc
    return info


def describe(info: dict[str, Any]) -> str:
    """One line: method, backbone, channels, crop size."""
    return (f"{info.get('method', '?')} on {info.get('backbone', '?')}, "
            f"{info.get('in_channels', '?')} channel(s), {info.get('crop_size', '?')} px crops")


@functools.lru_cache(maxsize=64)
def _file_facts(path: str, mtime_ns: int) -> dict[str, Any]:
    from ssrl_core.models.encoder_file import checkpoint_info, load_checkpoint
    info = checkpoint_info(load_checkpoint(path))
    return {k: info.get(k) for k in ("in_channels", "crop_size", "per_channel", "channels", "backbone")}


def facts(path: str | Path) -> dict[str, Any]:
    """in_channels, crop_size, per_channel of a checkpoint file (shipped: from the index, else
    read once per file version); empty when unreadable."""
    p = str(path)
    entry = next((c for c in shipped_checkpoints() if c["path"] == p), None)
    if entry is not None and entry.get("in_channels") is not None:
        return {k: entry.get(k) for k in ("in_channels", "crop_size", "per_channel", "channels", "backbone")}
    try:
        return _file_facts(p, Path(p).stat().st_mtime_ns)
    except Exception:  # unreadable: the embedding says why when it is tried
        return {}


RANDOM_START = "Random weights (train from scratch)"
IMAGENET_START = "ImageNet weights (where the backbone has them)"


def start_options(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a new run can start from, label -> config fields: random weights, ImageNet, every
    shipped encoder, every run with a checkpoint. An encoder fixes the backbone, the per-channel
    mode and the crop size (its weights only fit those)."""
    out: dict[str, dict[str, Any]] = {RANDOM_START: {}, IMAGENET_START: {"pretrained": True}}
    for full in shipped_checkpoints():  # the index, read once
        if full.get("backbone"):
            out[f"Shipped encoder: {full['name']}"] = {
                "init": full["name"], "backbone": full["backbone"], "per_channel": bool(full.get("per_channel")),
                "crop_size": int(full.get("crop_size") or 64)}
    for r in runs:
        run_dir = Path(str(r.get("path") or ""))
        cfg_path = run_dir / "config.yaml"
        if not (run_dir / CHECKPOINT).is_file() or not cfg_path.is_file():
            continue
        try:
            cfg = read_yaml(cfg_path) or {}
        except (OSError, ValueError):
            continue
        out[f"My run: {run_dir.name}"] = {"init": str(run_dir), "backbone": cfg.get("backbone"),
                                           "per_channel": bool(cfg.get("per_channel")),
                                           "crop_size": int(cfg.get("crop_size") or 64)}
    return out
