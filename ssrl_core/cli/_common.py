"""Output helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(obj: Any, as_json: bool, text: str | None = None) -> None:
    """Print exactly one JSON object (with --json) or a human text to stdout."""
    if as_json:
        sys.stdout.write(json.dumps(obj, default=_default) + "\n")
    else:
        sys.stdout.write((text if text is not None else json.dumps(obj, indent=2, default=_default)) + "\n")
    sys.stdout.flush()


def _default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)
