"""BBBC021 (MCF-7 cells, 113 compounds): metadata, field selection, download, nucleus crops.

The preprocessing of Bendidi et al. (2024), section 3.3: detect every nucleus on the DAPI
channel and cut a 196 x 196 crop centred on it (`ssrl_core.data.fields`), keeping plate, well,
site, compound, concentration and MoA. Images are one zip per plate,
`BBBC021_v1_images_<Plate>.zip` (240 fields x 3 channels of 1280x1024 16-bit TIFF; w1 = DAPI,
w2 = Tubulin, w4 = Actin), beside `BBBC021_v1_image.csv` and `BBBC021_v1_moa.csv` on the Broad
Bioimage Benchmark Collection page (Caie et al. 2010; Ljosa et al. 2012).
Crops are stored with channels in the order DAPI, Actin, Tubulin (as the shared crops).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.download import Progress, fetch
from ssrl_core.data.folder import safe_filename
from ssrl_core.data.npz import save_npz
from ssrl_core.data.store import StoreWriter, is_store, read_manifest, store_path

NAME = "bbbc021"
# The crops' channel order (w1 DAPI, w4 Actin, w2 Tubulin of the plate zips); the shared crops
# store no names and are in this order too (checked by eye: docs/data.md).
CHANNELS = ["DAPI", "Actin", "Tubulin"]
BASE_URL = "https://data.broadinstitute.org/bbbc/BBBC021/"
IMAGE_CSV = "BBBC021_v1_image.csv"
MOA_CSV = "BBBC021_v1_moa.csv"
_SITE = re.compile(r"_s(\d+)_w", re.IGNORECASE)


def plate_zip_name(plate: str) -> str:
    """`BBBC021_v1_images_<Plate>.zip`."""
    return f"BBBC021_v1_images_{plate}.zip"


def read_metadata(meta_dir: str | Path) -> pd.DataFrame:
    """One row per field: plate, well, site, replicate, compound, concentration, moa, and the
    DAPI/Tubulin/Actin file names (from the two official BBBC021 CSVs in `meta_dir`)."""
    meta_dir = Path(meta_dir)
    for f in (IMAGE_CSV, MOA_CSV):
        if not (meta_dir / f).is_file():
            raise FileNotFoundError(f"BBBC021 metadata file {f} is missing from {meta_dir}")
    img = pd.read_csv(meta_dir / IMAGE_CSV)
    moa = pd.read_csv(meta_dir / MOA_CSV)
    t = pd.DataFrame({
        "plate": img["Image_Metadata_Plate_DAPI"].astype(str), "well": img["Image_Metadata_Well_DAPI"].astype(str),
        "site": img["Image_FileName_DAPI"].astype(str).map(lambda s: int(m.group(1)) if (m := _SITE.search(s)) else 0),
        "replicate": img["Replicate"], "compound": img["Image_Metadata_Compound"].astype(str),
        "concentration": img["Image_Metadata_Concentration"].astype(float),
        "dapi_file": img["Image_FileName_DAPI"].astype(str), "tubulin_file": img["Image_FileName_Tubulin"].astype(str),
        "actin_file": img["Image_FileName_Actin"].astype(str), "path": img["Image_PathName_DAPI"].astype(str)})
    key = moa.assign(concentration=moa["concentration"].astype(float).round(6))
    t["_c"] = t["concentration"].round(6)
    t = t.merge(key.rename(columns={"concentration": "_c"}), on=["compound", "_c"], how="left").drop(columns="_c")
    t["moa"] = t["moa"].fillna("")
    return t


def known_plates() -> list[str]:
    """Plate names from BBBC021 metadata already on this computer (the data folder's download,
    else the shared development copy); empty when there is none."""
    shared = paths.shared_data_dir()
    for folder in [paths.data_dir() / "bbbc021_raw"] + ([shared / "bbbc021" / "metadata"] if shared else []):
        if (folder / IMAGE_CSV).is_file():
            try:
                return sorted(read_metadata(folder)["plate"].astype(str).unique())
            except (OSError, ValueError, KeyError):  # unreadable metadata: fall back to typing plate names
                continue
    return []


def _pick(values: pd.Series, wanted: list[str] | None, what: str) -> pd.Series:
    if not wanted:
        return pd.Series(True, index=values.index)
    lower = values.str.lower()
    known = set(lower)
    unknown = [w for w in wanted if w.lower() not in known]
    if unknown:
        sample = ", ".join(sorted(set(values))[:12])
        raise ValueError(f"unknown {what}: {', '.join(unknown)} (for example: {sample}, ...)")
    return lower.isin([w.lower() for w in wanted])


def select_fields(table: pd.DataFrame, plates: list[str] | None = None, compounds: list[str] | None = None,
                  concentrations: list[float] | None = None, moas: list[str] | None = None,
                  with_controls: bool = False) -> pd.DataFrame:
    """Fields matching every given filter (names case-insensitive; None = no filter).

    `with_controls` adds the DMSO fields of the selected plates (the untreated reference).
    """
    mask = _pick(table["plate"], plates, "plate(s)") & _pick(table["compound"], compounds, "compound(s)")
    mask &= _pick(table["moa"], moas, "MoA(s)")
    if concentrations:
        mask &= np.isclose(table["concentration"].to_numpy()[:, None], np.asarray(concentrations, float)[None]).any(axis=1)
    chosen = table[mask]
    if with_controls and len(chosen):
        dmso = table[(table["compound"] == "DMSO") & table["plate"].isin(chosen["plate"].unique())]
        chosen = pd.concat([chosen, dmso]).drop_duplicates(subset=["plate", "dapi_file"])
    if chosen.empty:
        raise ValueError("no BBBC021 field matches this choice of plates, compounds and doses")
    return chosen.reset_index(drop=True)


def _zip_index(zf: zipfile.ZipFile) -> dict[str, str]:
    return {Path(n).name: n for n in zf.namelist() if not n.endswith("/")}


def read_field(zf: zipfile.ZipFile, row: pd.Series, index: dict[str, str] | None = None) -> np.ndarray:
    """One field `(H, W, 3)` uint16 with channels DAPI, Actin, Tubulin from a plate zip."""
    import io

    import tifffile

    index = index or _zip_index(zf)
    planes = []
    for col in ("dapi_file", "actin_file", "tubulin_file"):
        member = index.get(row[col])
        if member is None:
            raise FileNotFoundError(f"{row[col]} is not in the plate zip {Path(zf.filename or '').name}")
        planes.append(tifffile.imread(io.BytesIO(zf.read(member))))
    if len({p.shape for p in planes}) != 1:
        raise ValueError(f"the three channels of field {row['dapi_file']} differ in size")
    return np.stack(planes, axis=-1)


def _field_crops(fields: pd.DataFrame, zip_dir: Path, size: int, border: str, progress: Progress | None,
                 done: Callable[[str], bool] = lambda unit: False
                 ) -> Iterator[tuple[str, str, CellSet | None, str]]:
    """(unit, field file, its nucleus crops or None, why it was skipped) for every selected field,
    one plate zip open at a time; fields whose unit (`plate/file`) is `done` are not read."""
    from ssrl_core.data.fields import (
        nucleus_crops,  # scipy/skimage: imported when crops are cut
    )

    for plate, rows in fields.groupby("plate", sort=True):
        zpath = zip_dir / plate_zip_name(str(plate))
        if not zpath.is_file():
            raise FileNotFoundError(f"plate zip {zpath.name} is missing from {zip_dir}")
        with zipfile.ZipFile(zpath) as zf:
            index = _zip_index(zf)
            for k, (_, row) in enumerate(rows.iterrows()):
                unit = f"{plate}/{row['dapi_file']}"
                if not done(unit):
                    try:
                        field = read_field(zf, row, index)
                    except (FileNotFoundError, ValueError, OSError) as exc:
                        yield unit, row["dapi_file"], None, str(exc)
                    else:
                        meta = {c: row[c] for c in ("plate", "well", "site", "replicate", "compound",
                                                    "concentration", "moa")}
                        meta.update(field=row["dapi_file"], source=NAME, label=row["compound"])
                        yield unit, row["dapi_file"], nucleus_crops(
                            field, size=size, nuclear_channel=0, channels=list(CHANNELS), border=border,
                            meta=meta), ""
                if progress:
                    progress(k + 1, len(rows), f"{plate} fields")


def crops_from_zips(fields: pd.DataFrame, zip_dir: str | Path, size: int = 196, border: str = "skip",
                    progress: Progress | None = None, name: str = NAME,
                    scratch: str | Path | None = None) -> CellSet:
    """Detect nuclei on DAPI in every selected field and cut `size` px crops (see module doc).

    With `scratch` (a file path), crops are streamed to that file and the returned images are a
    read-only memory map of it, so a whole plate (about 15,000 crops, 3-4 GB at 196 px) never
    has to fit in memory; the caller deletes the file after saving.
    """
    zip_dir = Path(zip_dir)
    metas: list[pd.DataFrame] = []
    chunks: list[np.ndarray] = []
    skipped: list[tuple[str, str]] = []
    total = 0
    sink = open(scratch, "wb") if scratch is not None else None
    try:
        for _, file, cells, problem in _field_crops(fields, zip_dir, size, border, progress):
            if cells is None:
                skipped.append((file, problem))
            elif len(cells):
                imgs = np.ascontiguousarray(cells.images.astype(np.uint16, copy=False))
                if sink is not None:
                    sink.write(imgs.tobytes())
                else:
                    chunks.append(imgs)
                metas.append(cells.meta)
                total += len(cells)
    finally:
        if sink is not None:
            sink.close()
    if total == 0:
        raise ValueError("no nuclei were found in the selected fields")
    if scratch is not None:
        images = np.memmap(scratch, dtype=np.uint16, mode="r", shape=(total, size, size, 3))
    else:
        images = np.concatenate(chunks)
    meta = pd.concat(metas, ignore_index=True)
    return CellSet(images, list(CHANNELS), meta, name=name, skipped=skipped)


def crops_to_store(fields: pd.DataFrame, zip_dir: str | Path, out: str | Path, size: int = 196,
                   border: str = "skip", progress: Progress | None = None, name: str = NAME) -> Path:
    """Like `crops_from_zips`, but each field's crops go straight to a cell store
    (`ssrl_core.data.store`): memory holds one field at a time, and an interrupted import resumes
    when called again with the same `out` (fields already in the store are not read again). A
    finished store of the same selection is returned as it is; one of another selection is replaced."""

    zip_dir = Path(zip_dir)
    settings = {"kind": NAME, "size": int(size), "border": border, "fields": len(fields),
                "first": str(fields["dapi_file"].iloc[0]) if len(fields) else ""}

    target = store_path(out)
    if is_store(target) and read_manifest(target).get("complete"):
        if read_manifest(target).get("params") == settings:
            return target  # the same selection was imported before: nothing to do
    writer = StoreWriter(target, list(CHANNELS), name, params=settings, overwrite=True)
    for unit, file, cells, problem in _field_crops(fields, zip_dir, size, border, progress, done=writer.skip):
        if cells is None:
            writer.note_skipped(file, problem)
        else:
            writer.add(cells.images.astype(np.uint16, copy=False), cells.meta, unit=unit)
    if writer.cells == 0:
        raise ValueError("no nuclei were found in the selected fields")
    return writer.close()


def download_bbbc021(dest: str | Path, plates: list[str] | None = None, compounds: list[str] | None = None,
                     concentrations: list[float] | None = None, with_controls: bool = True, size: int = 196,
                     base_url: str = BASE_URL, progress: Progress | None = None, name: str | None = None,
                     checksums: dict[str, str] | None = None, store: bool = False) -> Path:
    """Fetch metadata and the needed plate zips into `dest/bbbc021_raw/` (resumable, checksummed),
    crop nuclei of the selected fields and save `dest/<name>.npz` (or, with `store`, the on-disk
    cell store `dest/<name>.cells`, written field by field and resumable); returns its path."""
    if not plates and not compounds:
        raise ValueError("choose plates and/or compounds to download: all 55 BBBC021 plates are tens of gigabytes")
    dest = Path(dest)
    raw = dest / "bbbc021_raw"
    base = base_url if base_url.endswith("/") else base_url + "/"
    for f in (IMAGE_CSV, MOA_CSV):
        fetch(base + f, raw / f, sha256=(checksums or {}).get(f), progress=progress)
    fields = select_fields(read_metadata(raw), plates, compounds, concentrations, with_controls=with_controls)
    for plate in sorted(fields["plate"].unique()):
        zname = plate_zip_name(plate)
        fetch(base + zname, raw / zname, sha256=(checksums or {}).get(zname), progress=progress)
    if name:
        label = safe_filename(name)
    elif compounds:
        label = safe_filename("bbbc021_" + "_".join(sorted({c.lower().replace(" ", "-") for c in compounds})))
    else:
        label = "bbbc021_selection"
    if store:
        return crops_to_store(fields, raw, dest / f"{label}.cells", size=size, progress=progress, name=label)
    scratch = raw / f".{label}.crops.tmp"
    try:
        cells = crops_from_zips(fields, raw, size=size, progress=progress, name=label, scratch=scratch)
        out = save_npz(cells, dest / f"{label}.npz")
        del cells
    finally:
        scratch.unlink(missing_ok=True)
    return out
