"""CellProfiler output in: crops at the object centres CellProfiler found (no re-detection).

CellProfiler's `ExportToSpreadsheet` (McQuin et al., PLoS Biol 2018) writes a per-image table,
`Image.csv` (`ImageNumber`, `FileName_<Channel>` and `PathName_<Channel>` per channel,
`Metadata_*`), and one table per object, e.g. `Nuclei.csv` (`ImageNumber`, `ObjectNumber`,
`Location_Center_X`, `Location_Center_Y`, in pixels, x = column). Exports that prefix every
column with the object name (`Nuclei_Location_Center_X`) are read too, and so are SQLite
databases (ExportToDatabase, cytominer-database), CytoTable parquet and joined single-cell tables
(`ssrl_core.data.cp_tables`, which also picks the compartment and the default channels,
`FileName_Orig*`). Each image's channel files are stacked into a field and a `size` x `size` crop is cut around every centre with the
same border rule as `ssrl_core.data.fields` (skip, or pad with the field's median).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet
from ssrl_core.data.cp_tables import (
    choose_compartment,
    default_channels,
    read_cp_tables,
)
from ssrl_core.data.fields import _crop
from ssrl_core.data.ome import read_field
from ssrl_core.data.patterns import normalise_well
from ssrl_core.data.store import StoreWriter, open_store

Progress = Callable[[int, int, str], None]


def _column(df: pd.DataFrame, name: str) -> str:
    """The column `name`, or `<Object>_name` as some exports write it."""
    if name in df.columns:
        return name
    hits = [c for c in df.columns if str(c).endswith("_" + name)]
    if len(hits) == 1:
        return hits[0]
    raise ValueError(f"the object table has no {name!r} column; columns start with {list(df.columns)[:8]}")


def image_channels(image_table: pd.DataFrame) -> list[str]:
    """The channel names of an Image.csv: the `<Channel>` of each `FileName_<Channel>` column."""
    names = [m.group(1) for c in image_table.columns if (m := re.fullmatch(r"(?:Image_)?FileName_(.+)", str(c)))]
    if not names:
        raise ValueError("the image table has no FileName_<channel> column (is it CellProfiler's Image.csv?)")
    return names


def _image_path(row: pd.Series, table: pd.DataFrame, channel: str, root: Path | None) -> Path:
    fname = str(row[[c for c in table.columns if re.fullmatch(rf"(?:Image_)?FileName_{re.escape(channel)}", str(c))][0]])
    pcols = [c for c in table.columns if re.fullmatch(rf"(?:Image_)?PathName_{re.escape(channel)}", str(c))]
    folder = Path(str(row[pcols[0]])) if pcols and isinstance(row[pcols[0]], str) else None
    candidates = ([folder / fname] if folder else []) + ([root / fname] if root else [])
    if root is not None and folder is not None:
        candidates.append(root / folder.name / fname)
    for p in candidates:
        if p.is_file():
            return p
    raise FileNotFoundError(f"image file {fname} not found (looked in {', '.join(str(p.parent) for p in candidates) or 'nowhere'})")


def _metadata(row: pd.Series) -> dict:
    out = {}
    for col, value in row.items():
        m = re.fullmatch(r"(?:Image_)?Metadata_(.+)", str(col))
        if m:
            key = m.group(1).lower()
            out[{"compound": "compound", "concentration": "concentration"}.get(key, key)] = value
    if "well" in out:
        out["well"] = normalise_well(str(out["well"]))
    return out


def import_cellprofiler(image_csv: str | Path | pd.DataFrame, objects_csv: str | Path | pd.DataFrame | None = None,
                        image_root: str | Path | None = None, size: int = 196, channels: list[str] | None = None,
                        border: str = "skip", progress: Progress | None = None, name: str = "cellprofiler",
                        compartment: str | None = None, out: str | Path | None = None) -> tuple[CellSet, dict]:
    """Crops at the object centres of a CellProfiler output.

    Args:
        image_csv: the image table (CSV, parquet or DataFrame), or a whole output on its own: a
            SQLite database (ExportToDatabase or cytominer-database), a CytoTable single-cell
            table, a folder of tables (`ssrl_core.data.cp_tables`).
        objects_csv: the object table when `image_csv` is only the image table.
        image_root: folder holding the images when `PathName_*` points elsewhere (another computer).
        size: crop side in pixels; channels: which `FileName_<Channel>` to stack (default: the
            original images, `FileName_Orig*` when there are such, see `default_channels`).
        compartment: whose centres to crop around (default Nuclei, else the only one).
        out: a `NAME.cells` folder: the crops go image by image to an on-disk cell store
            (`ssrl_core.data.store`; one image's crops in memory at a time, an interrupted import
            resumes), for plates too large for memory; the returned CellSet reads it.
    Returns:
        `(cells, report)`; metadata per cell: every `Metadata_*` of its image (prefix dropped,
        lower case), `ImageNumber`, `ObjectNumber`, `y`, `x`. The report counts `images`,
        `objects`, `cells`, `skipped_border`, lists `missing_images`, and says the `layout`,
        `compartment` and `channels_note` (which channels were stacked and why).
    """
    if border not in ("skip", "pad"):
        raise ValueError(f"border must be 'skip' or 'pad', not {border!r}")

    tables = read_cp_tables(image_csv, objects_csv)
    images = tables.images
    comp = choose_compartment(tables, compartment)
    objects = tables.objects[comp]
    image_name = tables.source
    given = None if isinstance(image_csv, pd.DataFrame) else Path(image_csv).expanduser()
    root = Path(image_root).expanduser() if image_root else (None if given is None
                                                            else given if given.is_dir() else given.parent)
    if channels:
        chans, note = list(channels), f"channels {', '.join(channels)} (as asked)"
    else:
        chans, note = default_channels(images)
    unknown = set(chans) - set(image_channels(images))
    if unknown:
        raise ValueError(f"no FileName_ column for channel(s) {sorted(unknown)}; there are {image_channels(images)}")
    img_col = _column(images, "ImageNumber")
    numbers = pd.to_numeric(images[img_col], errors="coerce")
    if numbers.isna().any():
        line = int(numbers.isna().to_numpy().argmax()) + 2
        raise ValueError(f"{image_name}: {img_col} on line {line} is {images[img_col].iloc[line - 2]!r}, not a number")
    dup = numbers[numbers.duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        lines = [str(i + 2) for i in np.flatnonzero(numbers.to_numpy() == first)]
        raise ValueError(f"{image_name} has {len(dup)} rows sharing an {img_col} (e.g. {int(first)} on lines "
                         f"{', '.join(lines[:5])}); each image needs its own number, as CellProfiler writes it")
    images = images.assign(**{img_col: numbers})
    obj_img, cx, cy, obj_num = "ImageNumber", "Location_Center_X", "Location_Center_Y", "ObjectNumber"

    writer = None
    if out is not None:  # an on-disk cell store, written image by image, resumable
        settings = {"kind": "cellprofiler", "source": tables.source, "images": int(len(images)), "crop": int(size),
                    "channels": list(chans), "compartment": comp, "border": border, "objects": int(len(objects))}
        writer = StoreWriter(out, list(chans), name, params=settings)
    crops, rows, missing, skipped = [], [], [], 0
    groups = objects.groupby(obj_img, sort=True)
    by_number = images.set_index(img_col, drop=False)
    for i, (number, objs) in enumerate(groups):
        if progress:
            progress(i, groups.ngroups, f"image {number}")
        unit = f"image {number}"
        if writer is not None and writer.skip(unit):
            continue
        if number not in by_number.index:
            missing.append(f"ImageNumber {number} (not in the image table)")
            continue
        row = by_number.loc[number]
        try:
            field = np.concatenate([read_field(_image_path(row, images, c, root)).image for c in chans], axis=2)
        except (FileNotFoundError, ValueError) as exc:
            missing.append(f"ImageNumber {number}: {exc}")
            continue
        fill = np.median(field.reshape(-1, field.shape[2]), axis=0).astype(field.dtype)
        meta = {**_metadata(row), "ImageNumber": int(number)}
        here, here_rows = [], []
        for _, o in objs.iterrows():
            y, x = float(o[cy]), float(o[cx])
            if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(o[obj_num])):
                skipped += 1
                continue
            crop = _crop(field, int(round(y)), int(round(x)), size, border, fill)
            if crop is None:
                skipped += 1
                continue
            here.append(crop)
            here_rows.append({**meta, "ObjectNumber": int(o[obj_num]), "y": y, "x": x})
        if writer is None:
            crops.extend(here)
            rows.extend(here_rows)
        elif here:
            writer.add(np.stack(here), pd.DataFrame(here_rows), unit=unit, channels=list(chans))
        else:  # no crop fits: the image is done all the same
            writer.add(np.zeros((0, size, size, field.shape[2]), field.dtype), None, unit=unit)
    if progress:
        progress(groups.ngroups, groups.ngroups, "done")
    if not (crops or (writer is not None and writer.cells)):
        raise ValueError(f"no crop of {size} px could be cut at the {len(objects)} object centres"
                         + (f"; {len(missing)} image(s) missing, e.g. {missing[0]}" if missing else ""))
    if writer is not None:
        resumed = writer.resumed
        cells = open_store(writer.close(), name=name)
    else:
        resumed = False
        cells = CellSet(np.stack(crops), list(chans), pd.DataFrame(rows), name=name)
    report = {"images": int(groups.ngroups), "objects": int(len(objects)), "cells": len(cells),
              "skipped_border": skipped, "missing_images": missing, "channels": list(chans), "crop": size,
              "layout": tables.layout, "compartment": comp, "compartments": list(tables.objects),
              "channels_note": note}
    if writer is not None:
        report.update(out=str(Path(out)), resumed=resumed)
    return cells, report
