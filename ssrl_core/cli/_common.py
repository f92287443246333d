"""Output helpers shared by the command modules."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Callable

from ssrl_core.oserrors import plain


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


def whole_number(low: int, what: str) -> Callable[[str], int]:
    """An argparse `type` for a whole number of at least `low` (`what` says what it counts), so
    `--k -3` or `--k 0` is refused in words instead of being bent into another value."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"give a whole number of {what}, not {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"the number of {what} must be at least {low}; got {value}")
        return value

    return parse


CLUSTERS = whole_number(2, "clusters")  # K-Means needs two clusters to compare with anything


def run_handler(args: argparse.Namespace) -> int:
    """Run a parsed command's handler as a console script does: its exit code; Ctrl-C is 130 and an
    expected failure (bad input, missing file, full disk, too little memory) is one plain line on
    stderr and exit code 2 (`ssrl_core.oserrors.plain`). Shared by `ssrl` and `ssrl-paper`."""
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, RuntimeError, OSError, MemoryError) as exc:
        print(f"error: {plain(exc)}", file=sys.stderr)
        return 2
