"""A user's plate in: field files grouped into multi-channel sites, nuclei cropped, plate map joined.

The flow of `ssrl data import-plate` and of the Data page's plate import:

1. `scan_plate(folder, pattern)`: every image file under `folder` is matched against a file-name
   pattern (`ssrl_core.data.patterns`: BBBC style, ImageXpress, Opera/Operetta, Cellomics,
   CellVoyager, Incucyte or the user's);
   files of one (plate, well, site) form a site, one file per channel. Files that match no
   pattern and sites that lack a channel are listed, never silently dropped.
2. `read_plate_map(path)`: a CSV with one row per well (`well`, optionally `plate`, and any other
   column: `compound`, `concentration`, `moa`, ...). Column names are matched loosely
   (`Metadata_Well`, `Well`, `dose` ...); wells are normalised to `A01`.
3. `import_plate(scan, plate_map)`: each site's channels are stacked into `(H, W, C)` and cut
   with the same nucleus detection and crops as BBBC021 (`ssrl_core.data.fields.nucleus_crops`:
   Gaussian + Li threshold + LoG peaks + watershed; crops that would leave the field skipped).
   Metadata per cell: `plate`, `well`, `site`, `field`, every plate-map column, `cell_index`
   (within its site), `y`, `x`, `area`. Wells without a plate-map row are listed in the report.
   With `out=NAME.cells` the crops go site by site to an on-disk, resumable cell store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet
from ssrl_core.data.ome import read_field
from ssrl_core.data.patterns import (
    BUILTIN,
    FilePattern,
    detect_pattern,
    get_pattern,
    match_table,
)
from ssrl_core.data.plate_map import map_rows, read_plate_map
from ssrl_core.data.store import StoreWriter, open_store
from ssrl_core.data.walk import walk_folder

__all__ = ["PlateScan", "import_plate", "map_rows", "read_plate_map", "scan_plate", "channel_names", "read_site"]

FIELD_SUFFIXES = (".tif", ".tiff", ".png")
Progress = Callable[[int, int, str], None]


@dataclass
class PlateScan:
    """Field files grouped into sites. `sites` has one row per site: plate, well, site, files."""

    folder: Path
    pattern: str
    channels: list[str]
    sites: list[dict] = field(default_factory=list)  # {plate, well, site, files: {channel: Path}}
    unmatched: list[str] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)  # links and special files, with the reason
    incomplete: list[dict] = field(default_factory=list)  # {plate, well, site, missing: [channels]}
    matches: list[dict] = field(default_factory=list)  # how the pattern read the first file names

    def table(self) -> pd.DataFrame:
        """One row per complete site with the file of each channel (the preview the page shows)."""
        rows = [{"well": s["well"], "site": s["site"], **{f"channel {c}": s["files"][c].name for c in self.channels},
                 "plate": s["plate"]} for s in self.sites]
        return pd.DataFrame(rows, columns=["well", "site"] + [f"channel {c}" for c in self.channels] + ["plate"])

    def wells(self) -> list[tuple[str, str]]:
        """Distinct (plate, well) pairs with at least one complete site."""
        return sorted({(s["plate"], s["well"]) for s in self.sites})


def _natural(key: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(key)))


def scan_plate(folder: str | Path, pattern: str = "auto", plate: str | None = None) -> PlateScan:
    """Group the image files under `folder` (recursively) into sites with `pattern`.

    `pattern`: "auto" (the built-in that matches most files), a built-in name, a `{well}...`
    template or a regex (see `ssrl_core.data.patterns`). `plate` names the plate when the file
    names do not (default: the folder's name).
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"there is no folder at {root}")

    walk = walk_folder(root)
    files = walk.files
    images = [p for p in files if p.suffix.lower() in FIELD_SUFFIXES]
    if not images:
        raise ValueError(f"no TIFF or PNG field images under {root}")
    if pattern == "auto":
        found = detect_pattern([p.name for p in images])
        if found is None:
            raise ValueError(f"no built-in file-name pattern ({', '.join(BUILTIN)}) matches these files "
                             f"(e.g. {images[0].name}); give your own, e.g. {{well}}_s{{site}}_w{{channel}}.tif")
        pattern = found
    pat: FilePattern = get_pattern(pattern)
    groups: dict[tuple[str, str, str], dict[str, Path]] = {}
    unmatched = [str(p.relative_to(root)) for p in files if p.suffix.lower() not in FIELD_SUFFIXES]
    for p in images:
        g = pat.match(p.name)
        if g is None:
            unmatched.append(str(p.relative_to(root)))
            continue
        key = (str(g.get("plate") or plate or root.name), g["well"], g["site"])
        chans = groups.setdefault(key, {})
        if g["channel"] in chans:  # e.g. two planes of one channel: keep the first, list the other
            unmatched.append(str(p.relative_to(root)) + " (second file for this site and channel)")
            continue
        chans[g["channel"]] = p
    channels = sorted({c for chans in groups.values() for c in chans}, key=_natural)

    scan = PlateScan(root, pat.name if pat.name != "custom" else pattern, channels, unmatched=sorted(unmatched),
                     not_read=[f"{rel}: {why}" for rel, why in walk.skipped],
                     matches=match_table(sorted(p.name for p in images), pattern, 12))
    for (pl, well, site), chans in sorted(groups.items(), key=lambda kv: tuple(_natural(k) for k in kv[0])):
        missing = [c for c in channels if c not in chans]
        if missing:
            scan.incomplete.append({"plate": pl, "well": well, "site": site, "missing": missing})
        else:
            scan.sites.append({"plate": pl, "well": well, "site": site, "files": dict(chans)})
    return scan


def channel_names(scan: PlateScan, names: list[str] | None = None) -> list[str]:
    """Names for the stacked channels: given, else `w1`, `ch1`... from the file-name keys."""
    if names is not None:
        if len(names) != len(scan.channels):
            raise ValueError(f"{len(names)} channel names for {len(scan.channels)} channels ({', '.join(scan.channels)})")
        return list(names)
    prefix = {"operetta": "ch", "cellomics": "d", "cellvoyager": "C"}.get(scan.pattern, "w")
    return [f"{prefix}{c}" if str(c).isdigit() else str(c) for c in scan.channels]


def read_site(site: dict, channels: list[str]) -> tuple[np.ndarray, list[str] | None, dict]:
    """Stack a site's channel files into `(H, W, C)`; OME channel names when one file holds them
    all, and the OME physical pixel size (`pixel_size`, `pixel_size_unit`) when the files give it."""

    parts = [read_field(site["files"][c]) for c in channels]
    shapes = {p.image.shape[:2] for p in parts}
    if len(shapes) > 1:
        raise ValueError(f"the channel files of this site differ in size: {sorted(shapes)}")
    image = np.concatenate([p.image for p in parts], axis=2)
    names = parts[0].channels if len(parts) == 1 else None
    phys = parts[0].physical
    physical = {"pixel_size": phys["physical_size_x"], "pixel_size_unit": phys.get("physical_size_unit", "")} \
        if "physical_size_x" in phys else {}
    return image, names, physical


def _site_unit(site: dict) -> str:
    return f"{site['plate']}/{site['well']}/{site['site']}"


def import_plate(scan: PlateScan, plate_map: pd.DataFrame | None = None, crop: int = 196,
                 nuclear_channel: int | str = 0, names: list[str] | None = None, border: str = "skip",
                 drop_unmapped: bool = False, progress: Progress | None = None, name: str = "plate",
                 out: str | Path | None = None) -> tuple[CellSet, dict]:
    """Nucleus crops of every complete site, with the plate map's metadata.

    With `out` (a `.cells` folder) the crops are written site by site to an on-disk cell store
    (`ssrl_core.data.store`): one site's crops in memory at a time, and an interrupted import
    resumes where it stopped when run again with the same `out` and settings; the returned
    CellSet then reads that store (lazily when large). Without `out` everything stays in memory.

    Returns `(cells, report)`; the report lists `sites`, `cells`, `cells_per_well`, `unmatched`
    files, `incomplete` sites, `unmapped_wells` (no plate-map row), `failed` sites (unreadable)
    and `map_wells_without_images` (and `out`, `resumed` with a store).
    """
    from ssrl_core.data.fields import nucleus_crops

    if not scan.sites:
        raise ValueError("no complete site to import: " + (f"{len(scan.incomplete)} site(s) lack a channel"
                                                           if scan.incomplete else "no file matched the pattern"))
    rows, unmapped = map_rows(scan, plate_map)
    chan = channel_names(scan, names)
    writer = None
    if out is not None:
        settings = {"kind": "plate", "folder": str(scan.folder), "pattern": scan.pattern, "sites": len(scan.sites),
                    "crop": int(crop), "nuclear_channel": str(nuclear_channel), "names": names, "border": border,
                    "drop_unmapped": bool(drop_unmapped),
                    "map": None if plate_map is None
                    else str(int(pd.util.hash_pandas_object(plate_map.astype(str)).sum()))}
        writer = StoreWriter(out, None, name, params=settings)
    parts, failed = [], []
    total = len(scan.sites)
    for i, site in enumerate(scan.sites):
        label = f"{site['plate']} {site['well']} site {site['site']}"
        if progress:
            progress(i, total, label)
        key = (site["plate"], site["well"])
        if drop_unmapped and plate_map is not None and key not in rows:
            continue
        if writer is not None and writer.skip(_site_unit(site)):
            continue
        try:
            image, ome_names, physical = read_site(site, scan.channels)
            site_names = ome_names if (ome_names and names is None) else (chan if image.shape[2] == len(chan)
                                                                          else [f"ch{k}" for k in range(image.shape[2])])
            idx = _channel_index(nuclear_channel, site_names)
            meta = {"plate": site["plate"], "well": site["well"], "site": site["site"],
                    "field": site["files"][scan.channels[0]].name, **physical, **rows.get(key, {})}
            part = nucleus_crops(image, size=crop, nuclear_channel=idx, channels=site_names,
                                 border=border, meta=meta, name=name)
        except ValueError as exc:  # unreadable file, sizes that differ, bad channel
            failed.append({"site": label, "reason": str(exc)})
            if writer is not None:
                writer.note_skipped(label, str(exc))
            continue
        if writer is None:
            parts.append(part)
            continue
        try:
            writer.add(part.images, part.meta, unit=_site_unit(site), channels=part.channels if len(part) else None)
        except ValueError as exc:
            raise ValueError("the sites do not share the same channels or image type; import them separately "
                             f"({exc})") from None
    if progress:
        progress(total, total, "done")
    if writer is not None:
        if writer.cells == 0:
            raise ValueError(f"no nucleus crop of {crop} px could be cut from {total} site(s)"
                             + (f"; {len(failed)} failed, e.g. {failed[0]['reason']}" if failed else ""))

        resumed = writer.resumed
        cells = open_store(writer.close(), name=name)
        meta = cells.meta
    else:
        resumed = False
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueError(f"no nucleus crop of {crop} px could be cut from {total} site(s)"
                             + (f"; {len(failed)} failed, e.g. {failed[0]['reason']}" if failed else ""))
        if len({tuple(p.channels) for p in parts}) > 1:
            raise ValueError("the sites do not share the same channels; import them separately")
        meta = pd.concat([p.meta for p in parts], ignore_index=True)
        cells = CellSet(np.concatenate([p.images for p in parts]), list(parts[0].channels), meta, name=name)
    scanned = {w for _, w in scan.wells()}
    missing = [] if plate_map is None else sorted(set(plate_map["well"]) - scanned)
    report = {"pattern": scan.pattern, "sites": total, "cells": len(cells), "channels": cells.channels,
              "crop": crop, "cells_per_well": {f"{p}/{w}": int(n) for (p, w), n in
                                                 meta.groupby(["plate", "well"]).size().items()},
              "unmatched": list(scan.unmatched), "not_read": list(scan.not_read), "incomplete": list(scan.incomplete),
              "unmapped_wells": unmapped, "mapped_wells": len(rows), "failed": failed,
              "map_wells_without_images": missing,
              "map_notes": [] if plate_map is None else list(plate_map.attrs.get("notes", []))}
    if writer is not None:
        report.update(out=str(writer.root), resumed=resumed)
    return cells, report


def _channel_index(channel: int | str, names: list[str]) -> int:
    """A channel given as an index or a name (case-insensitive) -> its index."""
    if isinstance(channel, int) or str(channel).isdigit():
        idx = int(channel)
        if not 0 <= idx < len(names):
            raise ValueError(f"nuclear channel {idx} does not exist: the channels are {', '.join(names)}")
        return idx
    low = [n.lower() for n in names]
    if str(channel).lower() not in low:
        raise ValueError(f"no channel named {channel!r}; the channels are {', '.join(names)}")
    return low.index(str(channel).lower())
