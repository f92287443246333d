"""The index of shipped encoders (`pretrained/index.json`): read by training, evaluation and the app.

`{"format": "ssrl-pretrained-index", "version": 1, "checkpoints": [...]}`; each entry has at
least `name`, `file`, `dataset`, `description` (the paper pipeline's `paper/shipping.py` writes
it). A card's `heldout_group` and `heldout_rule` (an `ssrl_core.data.rules` rule) say which cells
its numbers were measured on: `heldout_mask` applies them, for `ssrl embed --heldout` and the app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssrl_core import paths

if TYPE_CHECKING:  # the index is read where numpy and pandas are not loaded yet
    import numpy as np
    import pandas as pd

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


def heldout_rule(group: str, folder: str | Path | None = None) -> list[dict[str, list]] | None:
    """The held-out rule the shipped checkpoints of `group` carry in their cards (None if none does)."""
    return next((c["heldout_rule"] for c in shipped_checkpoints(folder)
                 if c.get("heldout_group") == group and c.get("heldout_rule") is not None), None)


def heldout_mask(meta: pd.DataFrame, group: str, folder: str | Path | None = None) -> np.ndarray:
    """Which cells (rows of `meta`) the shipped checkpoints of `group` were scored on; a KeyError
    when no card carries that group's rule, a ValueError when `meta` lacks a column it reads."""
    from ssrl_core.data.rules import rule_mask

    rule = heldout_rule(group, folder)
    if rule is None:
        raise KeyError(f"no shipped checkpoint carries the held-out rule of {group!r}")
    return rule_mask(meta, rule)
