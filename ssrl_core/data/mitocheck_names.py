"""What a MitoCheck crop's file name says (plate, well, frame, nucleus position), and its held-out plates.

e.g. `PLLT0017_19--ex2005_07_06--...--c5___P00365_01___T00064___X0746___Y0848____img.png`. Kept
apart from `mitocheck.py` (which downloads and reads the folders) so that the npz reader can name
the plates of a MitoCheck npz without importing the folder reader.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

# The 25 whole MitoCheck plates (1,001 cells, about 30% of every phenotype) that no shipped
# encoder trains on: the held-out cells of the reproduction (`paper/plan.py`, chosen by
# `plan.choose_heldout_plates`) and the `split` column of the shipped MitoCheck sample.
MITOCHECK_HELDOUT_PLATES = (
    "PLLT0003_40", "PLLT0010_27", "PLLT0013_42", "PLLT0017_19", "PLLT0030_17", "PLLT0035_06",
    "PLLT0038_08", "PLLT0038_27", "PLLT0046_19", "PLLT0047_27", "PLLT0064_14", "PLLT0065_04",
    "PLLT0065_06", "PLLT0078_05", "PLLT0084_46", "PLLT0091_30", "PLLT0093_13", "PLLT0100_03",
    "PLLT0101_01", "PLLT0144_01", "PLLT0149_01", "PLLT0157_04", "PLLT0601_01", "PLLT0603_03",
    "PLLT0603_05",
)

_NAME = re.compile(r"^(?P<plate>[^-]+)--.*___(?P<well>P\d+)_\d+___T(?P<frame>\d+)___X(?P<x>\d+)___Y(?P<y>\d+)")


def parse_name(file_name: str) -> dict:
    """Plate, well, frame, x, y from a MitoCheck crop file name ({} when it does not match)."""
    m = _NAME.match(Path(file_name).name)
    if not m:
        return {}
    d = m.groupdict()
    return {"plate": d["plate"], "well": d["well"], "frame": int(d["frame"]), "x": int(d["x"]), "y": int(d["y"])}


def add_name_columns(meta: pd.DataFrame, column: str = "name") -> None:
    """Add plate, well, frame, x, y parsed from the file names in `column` (in place; nothing
    when the column is absent, a plate column exists already or no name matches)."""
    if column not in meta.columns or "plate" in meta.columns or not len(meta):
        return
    parsed = pd.DataFrame([parse_name(str(n)) for n in meta[column]], index=meta.index)
    for col in parsed.columns:
        meta[col] = parsed[col]
