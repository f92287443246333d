"""What a MitoCheck crop's file name says: plate, well (position), frame and nucleus position.

e.g. `PLLT0017_19--ex2005_07_06--...--c5___P00365_01___T00064___X0746___Y0848____img.png`. Kept
apart from `mitocheck.py` (which downloads and reads the folders) so that the npz reader can name
the plates of a MitoCheck npz without importing the folder reader.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"^(?P<plate>[^-]+)--.*___(?P<well>P\d+)_\d+___T(?P<frame>\d+)___X(?P<x>\d+)___Y(?P<y>\d+)")


def parse_name(file_name: str) -> dict:
    """Plate, well, frame, x, y from a MitoCheck crop file name ({} when it does not match)."""
    m = _NAME.match(Path(file_name).name)
    if not m:
        return {}
    d = m.groupdict()
    return {"plate": d["plate"], "well": d["well"], "frame": int(d["frame"]), "x": int(d["x"]), "y": int(d["y"])}
