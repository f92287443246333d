"""A plate map: one row per well (`well`, optionally `plate`, and any other column), read and joined.

Column names are matched loosely (`Metadata_Well`, `Well`, `dose` ...); wells are normalised to
`A01`. The file is read by `ssrl_core.csvio.read_csv` (Excel's UTF-8 with a byte-order mark,
UTF-16, Latin-1; comma, semicolon or tab), and every problem names it: an empty file, a header
without rows, two rows for one well. A map whose `plate` column names none of the imaged plates
is refused, naming both plates: it describes another plate, and its compounds would land on the
wrong wells.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ssrl_core.data.patterns import normalise_well

if TYPE_CHECKING:
    from ssrl_core.data.plate import PlateScan

_MAP_ALIASES = {"well": ("well", "wells", "well_position", "wellname", "well_name", "position"),
                "plate": ("plate", "plate_name", "barcode", "plate_barcode", "assay_plate_barcode"),
                "compound": ("compound", "treatment", "pert_iname", "drug", "perturbation", "broad_sample"),
                "concentration": ("concentration", "dose", "conc", "mmoles_per_liter", "concentration_um")}


def _canonical(col: str) -> str:
    c = re.sub(r"^(image_)?metadata_", "", str(col).strip(), flags=re.IGNORECASE).lower().replace(" ", "_")
    for name, aliases in _MAP_ALIASES.items():
        if c in aliases:
            return name
    return c


def read_plate_map(source: str | Path | pd.DataFrame | Any) -> pd.DataFrame:
    """A plate map (CSV path, uploaded file or table) with canonical columns: `well` (A01),
    `plate`?, the rest. Every problem names the file."""
    from ssrl_core.csvio import read_csv

    df = source.copy() if isinstance(source, pd.DataFrame) else None
    label = "the plate map"
    if df is None and isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no plate map at {path}" + (" (it is a folder: give the CSV file in it)"
                                                                  if path.is_dir() else ""))
        label = f"the plate map {path.name}"
        df = read_csv(path, name=path.name)
    elif df is None:  # an uploaded file (a name and the bytes)
        name = str(getattr(source, "name", "the plate map"))
        label = f"the plate map {name}"
        raw = source.getvalue() if hasattr(source, "getvalue") else source.read()
        df = read_csv(raw, name=name)
    df.columns = [_canonical(c) for c in df.columns]
    if df.columns.duplicated().any():
        raise ValueError(f"{label} has two columns meaning the same thing: {list(df.columns)}")
    if "well" not in df.columns:
        raise ValueError(f"{label} needs a well column (e.g. 'well' with A01, B02 ...); it has {list(df.columns)}")
    if df.empty:
        raise ValueError(f"{label} has a header but no rows; give one row per well")
    df["well"] = df["well"].astype(str).map(normalise_well)
    if "plate" in df.columns:
        df["plate"] = df["plate"].astype(str)
    keys = ["plate", "well"] if "plate" in df.columns else ["well"]
    dup = df[df.duplicated(keys, keep=False)]
    if len(dup):
        raise ValueError(f"{label} has more than one row for {', '.join(dup[keys].astype(str).agg('/'.join, axis=1).unique()[:5])}")
    return df.reset_index(drop=True)


def map_rows(scan: "PlateScan", plate_map: pd.DataFrame | None) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """Plate-map row for each scanned (plate, well), and the wells that have none."""
    if plate_map is None:
        return {}, []
    imaged = sorted({p for p, _ in scan.wells()})
    mapped = sorted(set(plate_map["plate"])) if "plate" in plate_map.columns else []
    if mapped and not set(mapped) & set(imaged):
        raise ValueError(f"the plate map is for plate {', '.join(mapped[:5])}{' ...' if len(mapped) > 5 else ''} "
                         f"but the images are of plate {', '.join(imaged[:5])}{' ...' if len(imaged) > 5 else ''}; "
                         "give the map of the imaged plate, or, if the images are that plate, name it with "
                         f"--plate {mapped[0]} (the Data page's 'Plate name')")
    by_plate = bool(mapped)
    lookup = {((r["plate"] if by_plate else None), r["well"]): r for r in plate_map.to_dict("records")}
    rows, unmapped = {}, []
    for pl, well in scan.wells():
        row = lookup.get(((pl if by_plate else None), well))
        if row is None:
            unmapped.append(f"{pl}/{well}")
        else:
            rows[(pl, well)] = {k: v for k, v in row.items() if k not in ("plate", "well")}
    return rows, unmapped
