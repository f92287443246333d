"""CellProfiler outputs as they come: CSV, SQLite (two layouts), CytoTable parquet, joined tables.

CellProfiler (McQuin et al., PLoS Biol 2018) and the Cytomining tools write the same measurements
in several layouts; `read_cp_tables` reads each into one per-image table and one table per
object (compartment):

- `ExportToSpreadsheet`: `Image.csv` + `Nuclei.csv` ... (columns `ImageNumber`, `ObjectNumber`,
  `Location_Center_X`, or prefixed `Nuclei_Location_Center_X`);
- `ExportToDatabase` (SQLite): `Per_Image` (`ImageNumber`, `Image_FileName_<ch>`,
  `Image_PathName_<ch>`, `Image_Metadata_*`) with the objects either in one `Per_Object` table
  (`<Object>_Location_Center_X` for every object) or in one `Per_<Object>` table each
  (`<Object>_Number_Object_Number`); a table prefix (`MyExpt_Per_Image`) is allowed;
- cytominer-database (SQLite or parquet): tables `Image`, `Cells`, `Cytoplasm`, `Nuclei`;
- CytoTable / pycytominer single-cell tables (parquet or CSV): one row per cell with
  `Metadata_ImageNumber`, `Image_FileName_*` and `Cells_` / `Cytoplasm_` / `Nuclei_` columns.
  The compartment whose centre the crop is cut around is chosen (`Nuclei` by default, as in
  the paper's nucleus-centred crops, Bendidi et al. 2024, section 3.3) and named in the report.

`default_channels` picks the original images (`FileName_Orig*`, as JUMP's `Image.csv` names
them) and leaves out illumination functions, outlines, overlays and masks.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ssrl_core.csvio import read_csv

COMPARTMENTS = ("Nuclei", "Cells", "Cytoplasm")
_NOT_CHANNEL = re.compile(r"illum|outline|overlay|mask|label|objects|^seg", re.IGNORECASE)


@dataclass
class CPTables:
    """One per-image table and the object table of each compartment, as read from `source`."""

    images: pd.DataFrame
    objects: dict[str, pd.DataFrame] = field(default_factory=dict)
    layout: str = ""
    source: str = ""


def _kind(path: Path) -> str:
    head = path.open("rb").read(16) if path.is_file() else b""
    if head.startswith(b"SQLite format 3"):
        return "sqlite"
    if head.startswith(b"PAR1"):
        return "parquet"
    return "csv"


def _strip_image_prefix(df: pd.DataFrame) -> pd.DataFrame:
    """`Image_FileName_DNA` -> `FileName_DNA`, `Image_Metadata_Well` -> `Metadata_Well`,
    `Metadata_ImageNumber` -> `ImageNumber`; other columns unchanged."""
    def rename(c: str) -> str:
        c = str(c)
        if c in ("Metadata_ImageNumber", "Image_ImageNumber"):
            return "ImageNumber"
        m = re.fullmatch(r"Image_((?:FileName|PathName|URL|Metadata)_.+)", c)
        return m.group(1) if m else c
    out = df.rename(columns=rename)
    return out.loc[:, ~out.columns.duplicated()]


def _object_frame(df: pd.DataFrame, compartment: str) -> pd.DataFrame:
    """The standard columns of one compartment: `ImageNumber`, `ObjectNumber`, `Location_Center_X/Y`."""
    cols = {str(c): c for c in df.columns}
    p = compartment + "_"

    def first(*names: str) -> object | None:
        return next((cols[n] for n in names if n in cols), None)

    img = first("ImageNumber", "Metadata_ImageNumber", p + "ImageNumber")
    num = first(p + "Number_Object_Number", "ObjectNumber", "Metadata_ObjectNumber", p + "ObjectNumber")
    cx = first(p + "Location_Center_X", "Location_Center_X", p + "AreaShape_Center_X", "AreaShape_Center_X")
    cy = first(p + "Location_Center_Y", "Location_Center_Y", p + "AreaShape_Center_Y", "AreaShape_Center_Y")
    missing = [n for n, c in (("ImageNumber", img), ("Location_Center_X", cx), ("Location_Center_Y", cy)) if c is None]
    if missing:
        raise ValueError(f"the {compartment} objects have no {' or '.join(missing)} column "
                         f"(looked for {p}Location_Center_X and Location_Center_X)")
    out = pd.DataFrame({"ImageNumber": pd.to_numeric(df[img], errors="coerce"),
                        "Location_Center_X": pd.to_numeric(df[cx], errors="coerce"),
                        "Location_Center_Y": pd.to_numeric(df[cy], errors="coerce")})
    if "TableNumber" in cols:  # cytominer-database: ImageNumber counts within each TableNumber
        out["TableNumber"] = df[cols["TableNumber"]].astype(str).to_numpy()
    keys = ["TableNumber", "ImageNumber"] if "TableNumber" in out.columns else ["ImageNumber"]
    out["ObjectNumber"] = (pd.to_numeric(df[num], errors="coerce") if num is not None
                           else out.groupby(keys).cumcount() + 1)
    return out.reset_index(drop=True)


def _renumber(images: pd.DataFrame, objects: dict[str, pd.DataFrame]) -> None:
    """cytominer-database keys an image by (TableNumber, ImageNumber): give each its own number
    (1..N), keeping both originals as `Metadata_TableNumber` and `Metadata_ImageNumber_in_table`."""
    if "TableNumber" not in images.columns:
        return
    old = list(zip(images["TableNumber"].astype(str), pd.to_numeric(images["ImageNumber"], errors="coerce")))
    new = {k: i + 1 for i, k in enumerate(old)}
    images["Metadata_TableNumber"] = images["TableNumber"].astype(str)
    images["Metadata_ImageNumber_in_table"] = images["ImageNumber"]
    images["ImageNumber"] = range(1, len(images) + 1)
    for df in objects.values():
        if "TableNumber" in df.columns:
            df["ImageNumber"] = [new.get((t, n), -1) for t, n in zip(df["TableNumber"], df["ImageNumber"])]


def compartments_of(df: pd.DataFrame) -> list[str]:
    """Compartments with a centre in a (joined or `Per_Object`) table: `X` for each `X_Location_Center_X`."""
    found = [m.group(1) for c in df.columns if (m := re.fullmatch(r"(\w+?)_Location_Center_X", str(c)))]
    return [c for c in found if c not in ("Image", "Metadata")]


def _split_joined(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """A single-cell table (one row per object, every compartment's columns) -> images + objects."""
    df = _strip_image_prefix(df)
    if "ImageNumber" not in df.columns:
        raise ValueError("the single-cell table has no ImageNumber (or Metadata_ImageNumber) column")
    image_cols = ["ImageNumber"] + [c for c in df.columns if re.match(r"(FileName|PathName|URL|Metadata)_", str(c))
                                    and c not in ("Metadata_ImageNumber", "Metadata_ObjectNumber")]
    grouped = df.groupby("ImageNumber", sort=True)
    constant = [c for c in image_cols if c == "ImageNumber" or (grouped[c].nunique(dropna=False) <= 1).all()]
    images = grouped[constant[1:]].first().reset_index() if len(constant) > 1 else df[["ImageNumber"]].drop_duplicates()
    objects = {c: _object_frame(df, c) for c in compartments_of(df)}
    return images, objects


_NEEDED = re.compile(r"(.*_)?(ImageNumber|ObjectNumber|TableNumber|Number_Object_Number|Location_Center_[XY]|"
                     r"AreaShape_Center_[XY])$|(Image_)?(FileName|PathName|URL|Metadata)_.*")


def needed(columns: list[str]) -> list[str]:
    """The columns an import reads: keys, centres, file names, metadata. A real plate's tables have
    thousands of feature columns (and gigabytes): only these are read."""
    return [c for c in columns if _NEEDED.fullmatch(str(c))]


def _sqlite_tables(path: Path) -> dict[str, pd.DataFrame]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")]
        out = {}
        for n in names:
            cols = needed([r[1] for r in con.execute(f'pragma table_info("{n}")')])
            if cols:
                out[n] = pd.read_sql_query("select " + ", ".join(f'"{c}"' for c in cols) + f' from "{n}"', con)
        return out
    finally:
        con.close()


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pd.read_parquet(path, columns=needed(pq.read_schema(path).names))


def _from_tables(tables: dict[str, pd.DataFrame], source: str) -> CPTables:
    """Tables by name (SQLite, a folder of parquet/CSV files) -> CPTables, either layout."""
    by_low = {n.lower(): n for n in tables}
    image_name = next((by_low[k] for k in by_low if re.fullmatch(r"(\w*_)?per_image|image", k)), None)
    if image_name is None:
        raise ValueError(f"{source} has no image table (Per_Image or Image); its tables are {sorted(tables)}")
    images = _strip_image_prefix(tables[image_name])
    objects: dict[str, pd.DataFrame] = {}
    layout = "CellProfiler ExportToDatabase" if "per_image" in image_name.lower() else "cytominer-database"
    for name, df in tables.items():
        if name == image_name or name.lower().startswith(("sqlite_", "experiment")) or name.lower().endswith("_properties"):
            continue
        m = re.fullmatch(r"(?:\w*_)?Per_(\w+)", name, flags=re.IGNORECASE)
        obj = m.group(1) if m else name
        found = compartments_of(df)  # the columns' spelling wins: a file `cells.parquet` holds Cells_*
        obj = next((c for c in found if c.lower() == obj.lower()), found[0] if len(found) == 1 else obj)
        if obj.lower() == "object":  # one table for every object
            for comp in compartments_of(df):
                objects[comp] = _object_frame(df, comp)
        elif any(str(c).endswith(("Location_Center_X", "AreaShape_Center_X")) for c in df.columns):
            objects[obj] = _object_frame(df, obj)
    _renumber(images, objects)
    return CPTables(images, objects, layout, source)


def read_cp_tables(source: str | Path | pd.DataFrame, objects: str | Path | pd.DataFrame | None = None,
                   object_name: str = "Nuclei") -> CPTables:
    """Read any CellProfiler output into a CPTables (see the module docstring for the layouts).

    Args:
        source: an Image table (CSV/parquet/DataFrame), a SQLite database, a CytoTable single-cell
            table, or a folder of `Image` + object tables (CSV or parquet).
        objects: the object table when `source` is only the image table (ExportToSpreadsheet).
        object_name: the compartment name given to a separate `objects` table (default Nuclei;
            a file's stem is used when it names one, e.g. `Cells.csv`).
    """

    def read_any(p: Path) -> pd.DataFrame:
        return _read_parquet(p) if _kind(p) == "parquet" else read_csv(p, name=p.name)

    if isinstance(source, pd.DataFrame):
        table, label = source, "the image table"
    else:
        path = Path(source).expanduser()
        label = path.name
        if path.is_dir():
            files = [p for p in sorted(path.iterdir()) if p.suffix.lower() in (".csv", ".parquet")]
            out = _from_tables({p.stem: read_any(p) for p in files}, label)
            out.layout = "a folder of CellProfiler tables"
            return out
        if not path.is_file():
            raise FileNotFoundError(f"no CellProfiler output at {path}")
        if _kind(path) == "sqlite":
            return _from_tables(_sqlite_tables(path), label)
        table = read_any(path)
    if objects is None:
        if compartments_of(table):  # a joined single-cell table
            images, objs = _split_joined(table)
            return CPTables(images, objs, "single-cell table (CytoTable / pycytominer)", label)
        raise ValueError(f"{label} is an image table without objects: give the object table too (e.g. Nuclei.csv)")
    obj_df = objects if isinstance(objects, pd.DataFrame) else read_any(Path(objects).expanduser())
    stem = "" if isinstance(objects, pd.DataFrame) else Path(objects).stem
    name = stem if stem in COMPARTMENTS else object_name
    present = compartments_of(obj_df)
    comp = name if name in present or not present else present[0]
    return CPTables(_strip_image_prefix(table), {comp: _object_frame(obj_df, comp)}, "CellProfiler spreadsheets", label)


def choose_compartment(tables: CPTables, compartment: str | None = None) -> str:
    """The compartment to crop around: the one asked for, else Nuclei, else the only one."""
    have = list(tables.objects)
    if not have:
        raise ValueError(f"{tables.source} has no object table with Location_Center_X/Y (nothing to crop around)")
    if compartment:
        hit = next((c for c in have if c.lower() == compartment.lower()), None)
        if hit is None:
            raise ValueError(f"no {compartment!r} objects in {tables.source}; there are {', '.join(have)}")
        return hit
    return next((c for c in COMPARTMENTS if c in have), have[0])


def all_channels(images: pd.DataFrame) -> list[str]:
    """Every `<Channel>` of a `FileName_<Channel>` column."""
    return [m.group(1) for c in images.columns if (m := re.fullmatch(r"FileName_(.+)", str(c)))]


def default_channels(images: pd.DataFrame) -> tuple[list[str], str]:
    """The channels to stack by default and a sentence saying which and why.

    JUMP-style tables name the raw images `FileName_Orig<Stain>` next to illumination functions
    (`FileName_Illum<Stain>`) and outlines: the `Orig*` ones are taken. Otherwise every channel but
    illumination functions, outlines, overlays, masks and label images."""
    names = all_channels(images)
    if not names:
        raise ValueError("the image table has no FileName_<channel> column (is it CellProfiler's Image table?)")
    orig = [n for n in names if n.startswith("Orig") and not _NOT_CHANNEL.search(n)]
    if orig:
        left = [n for n in names if n not in orig]
        return orig, (f"the original images (FileName_Orig*): {', '.join(orig)}"
                      + (f"; left out {', '.join(left)}" if left else ""))
    keep = [n for n in names if not _NOT_CHANNEL.search(n)] or names
    left = [n for n in names if n not in keep]
    return keep, f"channels {', '.join(keep)}" + (f"; left out {', '.join(left)} (not raw images)" if left else "")
