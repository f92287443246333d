"""`--set key=value` overrides of a run config.

Dotted keys reach nested fields (`data.name=cells.npz`, `method.params.temperature=0.1`), a
number picks a list position (`recipes.1.weight=0.3`), and values are parsed as YAML scalars
(`epochs=2` is a number, `pretrained=true` a boolean, `filter.compound=[DMSO, taxol]` a list).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ssrl_core.io import YAMLLimitError, parse_yaml
from ssrl_core.train.checks import ConfigError


def set_values(raw: dict[str, Any], overrides: list[str] | None,
               normalise: Callable[[dict[str, Any]], dict[str, Any]] = lambda d: d) -> dict[str, Any]:
    """Apply `key=value` overrides; dotted keys reach nested fields (`data.name=x`,
    `method.params.temperature=0.1`, `recipes.0.weight=0.3`); values are YAML scalars."""
    raw = copy.deepcopy(raw)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError([f"--set needs key=value; got {item!r}"])
        key, text = item.split("=", 1)
        try:
            value = parse_yaml(text, f"the value of --set {key.strip()}") if text.strip() else None
        except YAMLLimitError as exc:
            raise ConfigError([str(exc)]) from None
        except ValueError:  # not YAML: the text itself
            value = text
        parts = [k for k in key.strip().split(".") if k]
        if not parts:
            raise ConfigError([f"--set needs a field name before '='; got {item!r}"])
        if parts[0] == "data" and len(parts) > 1 and parts[1] == "path":
            parts[1] = "name"
        node: Any = raw
        for j, part in enumerate(parts[:-1]):
            node = _child(node, part, parts[j + 1], item)
        _assign(node, parts[-1], value, item)
        raw = normalise(raw)
    return raw


def _child(node: Any, part: str, nxt: str, item: str) -> Any:
    if isinstance(node, list):
        idx = _index(node, part, item)
        return node[idx]
    if not isinstance(node, dict):
        raise ConfigError([f"--set {item!r}: '{part}' is not a group of fields"])
    if node.get(part) is None:
        node[part] = [] if nxt.isdigit() else {}
    return node[part]


def _assign(node: Any, part: str, value: Any, item: str) -> None:
    if isinstance(node, list):
        node[_index(node, part, item)] = value
    elif isinstance(node, dict):
        node[part] = value
    else:
        raise ConfigError([f"--set {item!r}: cannot set a field inside a plain value"])


def _index(node: list, part: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError([f"--set {item!r}: '{part}' must be a position 0..{len(node) - 1} in the list"])
    return int(part)
