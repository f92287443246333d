"""A plate map: one row per well (`well`, optionally `plate`, and any other column), read and joined.

Well and plate columns are recognised under their usual names (`Metadata_Well`, `well_position`,
`Assay_Plate_Barcode` ...); wells are normalised to `A01`. Every other column keeps the map's
own name (`pert_iname`, `broad_sample`, `control_type` ...; profiles write it as
`Metadata_<name>`). The user says which column is the treatment and how controls are marked
(JUMP: `control_type == negcon`); the treatment is copied to `compound`, which the rest of
the tool compares, with control wells named `DMSO` (a blank `broad_sample` in a DMSO well is
a control, never a compound called ''). The file is read by `ssrl_core.csvio.read_csv` (Excel's UTF-8 with a byte-order mark,
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

from ssrl_core.csvio import read_csv
from ssrl_core.data.patterns import normalise_well

if TYPE_CHECKING:
    from ssrl_core.data.plate import PlateScan

# Only the columns that place a row (well, plate) are recognised under other names; every other
# column keeps the map's own name (less a `Metadata_` prefix, which profiles add back).
_MAP_ALIASES = {"well": ("well", "wells", "well_position", "wellname", "well_name", "position"),
                "plate": ("plate", "plate_name", "barcode", "plate_barcode", "assay_plate_barcode")}
# The column taken as the treatment when the user names none, first found wins (JUMP: pert_iname).
TREATMENT_COLUMNS = ("compound", "treatment", "pert_iname", "compound_name", "drug", "perturbation",
                     "broad_sample", "jcp2022")
# The dose, copied to `concentration` (the tool's dose column) when the map has no such column.
DOSE_COLUMNS = ("concentration", "dose", "conc", "mmoles_per_liter", "concentration_um", "pert_dose")
CONTROL_NAME = "DMSO"


def _canonical(col: str) -> str:
    c = re.sub(r"^(image_)?metadata_", "", str(col).strip(), flags=re.IGNORECASE)
    low = c.lower().replace(" ", "_")
    for name, aliases in _MAP_ALIASES.items():
        if low in aliases:
            return name
    return c


def _merge_same(df: pd.DataFrame, label: str) -> pd.DataFrame:
    """Two columns that both mean well (or plate): kept once when they agree, refused otherwise."""
    out = df.loc[:, ~df.columns.duplicated()].copy()
    for name in pd.Index(df.columns)[pd.Index(df.columns).duplicated()].unique():
        cols = df.loc[:, df.columns == name]
        values = cols.astype(str).apply(lambda s: s.map(normalise_well) if name == "well" else s.str.strip())
        if (values.nunique(axis=1) > 1).any():
            raise ValueError(f"{label} has two {name} columns that disagree; keep one")
        out[name] = cols.iloc[:, 0]
    return out


def read_plate_map(source: str | Path | pd.DataFrame | Any, treatment: str | None = None,
                   controls: str | None = None, control_name: str = CONTROL_NAME) -> pd.DataFrame:
    """A plate map (CSV path, uploaded file or table): `well` (A01), `plate`?, every other column
    under its own name, and `compound`, the treatment the rest of the tool compares.

    Args:
        treatment: the column that names each well's treatment (default: the first of
            `TREATMENT_COLUMNS` present; none: no `compound` column is added).
        controls: how control wells are marked: a rule `column == value` (JUMP: `control_type ==
            negcon`) or a value of the treatment column (`DMSO`). Control wells get `compound` =
            `control_name`, so a blank `broad_sample` in a DMSO well is a control, not `''`.
    A blank treatment outside the controls is named `(none)` and listed in `attrs["notes"]`.
    Every problem names the file."""

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
    df = _merge_same(df, label)
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
    df = df.rename(columns={c: c.lower() for c in df.columns if c.lower() in ("compound", "concentration")})
    dose = next((c for d in DOSE_COLUMNS for c in df.columns if c.lower() == d), None)
    if dose is not None and dose != "concentration":
        df["concentration"] = df[dose]
    return _treatments(df.reset_index(drop=True), label, treatment, controls, control_name)


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | s.astype(str).str.strip().isin(["", "nan", "NaN", "None", "NA"])


def control_mask(df: pd.DataFrame, controls: str, treatment: str | None = None, label: str = "the plate map") -> pd.Series:
    """Rows marked as controls by `column == value` (or `column = value`), or by a treatment value."""
    m = re.fullmatch(r"\s*([^=!]+?)\s*==?\s*(.*?)\s*", controls)
    if m:
        col, value = m.group(1), m.group(2).strip("'\"")
        col = next((c for c in df.columns if c.lower() == col.lower() or c.lower() == f"metadata_{col.lower()}"), col)
        if col not in df.columns:
            raise ValueError(f"the control rule {controls!r} names no column of {label}; it has {list(df.columns)}")
        return df[col].astype(str).str.strip().str.lower() == value.lower()
    if treatment is None:
        raise ValueError(f"controls {controls!r}: give a rule like control_type == negcon (no treatment column)")
    return df[treatment].astype(str).str.strip().str.lower() == controls.strip().lower()


def _treatments(df: pd.DataFrame, label: str, treatment: str | None, controls: str | None,
                control_name: str) -> pd.DataFrame:
    notes: list[str] = []
    if treatment:
        hit = next((c for c in df.columns if c.lower() in (treatment.lower(), f"metadata_{treatment.lower()}")), None)
        if hit is None:
            raise ValueError(f"{label} has no column {treatment!r} for the treatment; it has {list(df.columns)}")
        treatment = hit
    else:
        treatment = next((c for t in TREATMENT_COLUMNS for c in df.columns if c.lower() == t), None)
    if treatment is None:
        if controls:
            raise ValueError(f"{label} has no treatment column ({', '.join(TREATMENT_COLUMNS)}): name one")
        return df
    values = df[treatment].astype(object).where(~_blank(df[treatment]), None)
    is_ctrl = control_mask(df, controls, treatment, label) if controls else pd.Series(False, index=df.index)
    if controls and not is_ctrl.any():
        raise ValueError(f"no well of {label} matches the controls {controls!r}")
    values = values.where(~is_ctrl, control_name)
    blank = values.isna()
    if blank.any():
        wells = df.loc[blank, "well"].tolist()
        notes.append(f"{len(wells)} well(s) have no {treatment} and are not controls ({', '.join(wells[:8])}"
                     f"{' ...' if len(wells) > 8 else ''}): their treatment is '(none)'"
                     + ("" if controls else "; if they are controls, say how controls are marked "
                        "(e.g. control_type == negcon)"))
    df = df.copy()
    if treatment != "compound" and "compound" in df.columns:
        df = df.rename(columns={"compound": "compound_in_map"})
    df["compound"] = values.fillna("(none)").astype(str)
    df.attrs.update(treatment=treatment, controls=controls or "", control_name=control_name,
                    notes=notes, control_wells=int(is_ctrl.sum()))
    return df


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
