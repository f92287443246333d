"""Output helpers shared by the command modules."""

from __future__ import annotations

import json
import math
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


def clean(obj: Any) -> Any:
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and not hasattr(obj, "__len__"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def fmt(v: Any) -> str:
    """A metric with three decimals, or "n/a" for a missing or non-finite one."""
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more (a plain error otherwise)."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
