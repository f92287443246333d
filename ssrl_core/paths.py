"""Where the product keeps its files: data, caches, runs, uploads.

Every location can be moved with an environment variable, so tests and demos never touch a
user's own folders.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Datasets found by name (`SSRL_DATA`, default `./data`)."""
    return Path(os.environ.get("SSRL_DATA", PROJECT_ROOT / "data"))


def data_dir_problem() -> str | None:
    """A plain warning when `SSRL_DATA` is set but is not a folder (datasets there cannot be found),
    else None."""
    value = os.environ.get("SSRL_DATA")
    if not value:
        return None
    p = Path(value).expanduser()
    if p.is_dir():
        return None
    what = "a file, not a folder" if p.exists() else "a folder that does not exist"
    return (f"SSRL_DATA is set to {value}, which is {what}, so no dataset was read from it: set SSRL_DATA to your "
            "data folder (or unset it to use ./data)")


def shared_data_dir() -> Path | None:
    """`../shared/data` beside the project, used in development and CI when it exists."""
    p = Path(os.environ.get("SSRL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
    return p if p.is_dir() else None


def cache_dir() -> Path:
    """Weights, converted checkpoints and embedding caches (`SSRL_CACHE`, default `./.cache/ssrl`)."""
    p = Path(os.environ.get("SSRL_CACHE", PROJECT_ROOT / ".cache" / "ssrl"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def runs_dir() -> Path:
    """Training runs, one directory each (`SSRL_RUNS`, default `./runs`)."""
    p = Path(os.environ.get("SSRL_RUNS", PROJECT_ROOT / "runs"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def pretrained_dir() -> Path:
    """Shipped checkpoints and their `index.json`."""
    return Path(os.environ.get("SSRL_PRETRAINED", PROJECT_ROOT / "pretrained"))


def uploads_dir() -> Path:
    """Files uploaded through the app, one sub-folder per browser session."""
    p = Path(os.environ.get("SSRL_UPLOADS", PROJECT_ROOT / "uploads"))
    p.mkdir(parents=True, exist_ok=True)
    return p
