"""A folder's metadata CSV, matched to its images one row to one file, by path.

A row names its image by the path relative to the folder (`plateA/cell0.tif`; `\\` is read as
`/`, `./` and `a/../` are tidied, an absolute path inside the folder is made relative). It
matches that file and no other: there is no fall-back to the base name, so a row for
`plateA/cell0.tif` never labels `plateB/cell0.tif`. The one exception is a name without a folder
that had to be made safe when it was uploaded (`my cell 1.tif` is stored as `my_cell_1.tif`,
`ssrl_core.data.names.safe_filename`): the row then matches the stored file at the top of the folder.

Everything that does not match is reported, never dropped in silence: rows naming a file that
is not there (with the likely one when a file of that name sits in a sub-folder), rows pointing
outside the folder (`../x/g1.tif`, `/elsewhere/g1.tif`), and images that have no row. Two rows
naming one image are refused: which one holds its metadata cannot be guessed.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pandas as pd

from ssrl_core.csvio import read_csv
from ssrl_core.data.names import safe_filename

KEY_COLUMNS = ("file", "filename", "file_name", "image", "name", "path")
_DRIVE = re.compile(r"^[A-Za-z]:/")


def read_metadata_csv(csv: str | Path | pd.DataFrame, name: str | None = None) -> pd.DataFrame:
    """The metadata table with its key column named `file` (plain error naming the CSV otherwise)."""
    if isinstance(csv, pd.DataFrame):
        table, label = csv.copy(), name or "the metadata table"
    else:
        label = name or Path(csv).name
        table = read_csv(csv, name=label)
    lower = {str(c).strip().lower(): c for c in table.columns}
    key = next((lower[k] for k in KEY_COLUMNS if k in lower), None)
    if key is None:
        raise ValueError(f"the metadata table {label} needs a column naming each image file "
                         f"(one of: {', '.join(KEY_COLUMNS)}); it has: {', '.join(map(str, table.columns))}")
    table = table.rename(columns={key: "file"})
    table["file"] = table["file"].map(lambda v: "" if pd.isna(v) else str(v).strip().replace("\\", "/"))
    table.attrs["source"] = label
    return table


def row_path(text: str, root: Path | None = None) -> str | None:
    """A row's file as a tidy path relative to the folder, or None when it points outside it."""
    s = str(text).strip().replace("\\", "/")
    if s.startswith("/") or _DRIVE.match(s):
        if root is None:
            return None
        try:
            return Path(posixpath.normpath(s)).relative_to(root).as_posix()
        except ValueError:
            return None
    n = posixpath.normpath(s)
    return None if n == ".." or n.startswith("../") else n


def match_rows(table: pd.DataFrame, rels: list[str], root: Path | None = None
               ) -> tuple[dict[str, dict], list[tuple[str, str]]]:
    """`{relative path: that file's row (without 'file')}` and `(item, reason)` for what did not match.

    Raises ValueError when two rows name one image."""
    source = table.attrs.get("source", "the metadata table")
    present = set(rels)
    by_base: dict[str, list[str]] = {}
    for r in rels:
        by_base.setdefault(r.rsplit("/", 1)[-1], []).append(r)
    matched: dict[str, dict] = {}
    first_row: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, row in enumerate(table.to_dict("records")):
        text = row.pop("file")
        line = i + 2  # the header is line 1
        if not text:
            problems.append((f"{source} line {line}", "names no file: row not used"))
            continue
        rel = row_path(text, root)
        if rel is None:
            problems.append((f"{source} line {line}: {text}", "points outside the imported folder: row not used"))
            continue
        if rel not in present and "/" not in rel and safe_filename(rel) in present:
            rel = safe_filename(rel)  # an uploaded file, stored under its safe name
        if rel not in present:
            near = by_base.get(rel.rsplit("/", 1)[-1], [])
            hint = f" (there is {', '.join(near[:3])}: give that path)" if near else ""
            problems.append((f"{source} line {line}: {text}", f"no such image in the folder{hint}: row not used"))
            continue
        if rel in first_row:
            raise ValueError(f"{source} has two rows for the image {rel} (lines {first_row[rel]} and {line}); "
                             "keep one row per image")
        first_row[rel] = line
        matched[rel] = row
    lost = [r for r in rels if r not in matched]
    if lost and len(lost) < len(rels):
        shown = ", ".join(lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
        problems.append((f"{len(lost)} image(s)", f"have no row in {source}, so they have no metadata from it: {shown}"))
    elif lost:
        problems.append((source, "names none of these images, so no image has metadata from it"))
    return matched, problems


def lists_files(table: pd.DataFrame, rels: list[str], root: Path | None = None) -> bool:
    """Whether a metadata table names at least one of these files (by the same rule as `match_rows`)."""
    present = set(rels)
    for text in table["file"]:
        rel = row_path(text, root) if text else None
        if rel is not None and (rel in present or ("/" not in rel and safe_filename(rel) in present)):
            return True
    return False
