"""The index of shipped encoders (`pretrained/index.json`): read by training, evaluation and the app.

`{"format": "ssrl-pretrained-index", "version": 1, "checkpoints": [...]}`; each entry has at
least `name`, `file`, `dataset`, `description` (see `reproduce/shipping.py`, which writes it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ssrl_core import paths

INDEX = "index.json"
INDEX_FORMAT = "ssrl-pretrained-index"


def read_index(folder: str | Path) -> dict[str, Any]:
    """The index (an empty one when the file is absent)."""
    path = Path(folder) / INDEX
    if not path.is_file():
        return {"format": INDEX_FORMAT, "version": 1, "checkpoints": []}
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("checkpoints"), list):
        raise ValueError(f"{path} is not a checkpoint index (it needs a 'checkpoints' list)")
    return raw


def shipped_checkpoints(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """Index entries whose file exists, each with its absolute `path` (what the app lists).

    An unreadable or malformed index gives an empty list: the app then simply offers no
    shipped checkpoint instead of failing.
    """
    root = Path(folder) if folder is not None else paths.pretrained_dir()
    try:
        index = read_index(root)
    except (OSError, ValueError):
        return []
    out = []
    for item in index["checkpoints"]:
        if isinstance(item, dict) and item.get("file") and (root / str(item["file"])).is_file():
            out.append({**item, "name": str(item.get("name") or Path(item["file"]).stem),
                        "path": str(root / str(item["file"]))})
    return out


def shipped_path(name: str) -> Path | None:
    """The file of the shipped encoder called `name`, or None."""
    return next((Path(c["path"]) for c in shipped_checkpoints() if c["name"] == name), None)
