"""Cells labelled by hand: groups a person named on the map, kept as metadata columns.

As in CellProfiler Analyst, a biologist selects cells on the Explore map, names the group (a
phenotype, "debris", "mitotic"...) and keeps it: the name goes into a metadata column of the
dataset. The columns live beside the data, in `<data>/annotations/<dataset>.csv` (one row per
labelled cell: its position in the dataset, then one column per annotation), written
atomically under a file lock (`io.locked`: read, change and rewrite happen while holding it), so
two app sessions labelling one dataset at once lose nothing, the labels survive a restart, and
the dataset's own file is never touched. The file goes through the one CSV writer
(`ssrl_core.csvio`), so a label such as `=1+1` stays text in a spreadsheet. Every reader of
the dataset sees them (`registry.load_dataset` merges them), so they can be exported, filtered
on, used by the probe, the factor probe, the per-compound check and training filters.

Unlabelled cells read as the empty string. A column that the dataset already has (e.g.
`compound`) cannot be overwritten: hand labels add information, they never hide the source's.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.csvio import read_csv, write_csv
from ssrl_core.data.cellset import CellSet
from ssrl_core.io import locked

CELL = "cell"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_ .-]{0,39}$")


class AnnotationError(ValueError):
    """A label or column name that cannot be kept (said in plain words)."""


def annotations_file(dataset: str | Path) -> Path:
    """Where the hand labels of `dataset` (a registry name or a path) are kept."""
    text = str(dataset)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(text).name)[:60] or "dataset"
    if "/" in text or "\\" in text:  # a path: two files with one name must not share labels
        safe += "-" + hashlib.sha1(str(Path(text).resolve()).encode()).hexdigest()[:8]
    return paths.data_dir() / "annotations" / f"{safe}.csv"


def read_annotations(dataset: str | Path) -> pd.DataFrame:
    """The hand labels of `dataset`: a `cell` column, then one string column per annotation."""
    path = annotations_file(dataset)
    if not path.is_file():
        return pd.DataFrame({CELL: pd.Series(dtype=int)})
    table = read_csv(path, ours=True, sep=",", dtype=str, keep_default_na=False)
    if CELL not in table.columns:
        raise AnnotationError(f"{path.name} is not a hand-label file (it has no '{CELL}' column)")
    table[CELL] = pd.to_numeric(table[CELL], errors="coerce")
    return table.dropna(subset=[CELL]).astype({CELL: int})


def check_column(column: str, existing: list[str]) -> str:
    """A valid new or hand-made column name (stripped); refuses the dataset's own columns."""
    column = str(column).strip()
    if not _NAME.match(column):
        raise AnnotationError("Name the column with a letter first, then letters, digits, spaces, '_', '-' "
                              "or '.' (at most 40 characters), e.g. 'my_phenotype'.")
    if column == CELL or column in existing:
        raise AnnotationError(f"The dataset already has a column called '{column}'; choose another name "
                              "(hand labels never overwrite the data's own metadata).")
    return column


def label_cells(dataset: str | Path, cells: CellSet, positions, column: str, value: str) -> pd.DataFrame:
    """Give the cells at `positions` the label `value` in the hand-made `column`; saved at once.

    Labelling a cell again replaces its earlier label in that column; `value` "" removes it.
    Returns the whole annotation table as saved (with every other writer's labels: the file is
    read and rewritten under its lock).
    """
    with locked(annotations_file(dataset)):
        return _label(dataset, cells, positions, column, value)


def _label(dataset: str | Path, cells: CellSet, positions, column: str, value: str) -> pd.DataFrame:
    table = read_annotations(dataset)
    own = [c for c in cells.meta.columns if c not in table.columns]
    column = check_column(column, own)
    value = str(value).strip()
    if len(value) > 80 or "\n" in value:
        raise AnnotationError("A label is one line of at most 80 characters.")
    pos = np.unique(np.asarray(positions, dtype=int))
    if len(pos) and (pos.min() < 0 or pos.max() >= len(cells)):
        raise AnnotationError(f"cell positions must be between 0 and {len(cells) - 1}")
    table = table.set_index(CELL)
    if column not in table.columns:
        table[column] = ""
    new = pd.Index(pos).difference(table.index)
    if len(new):
        table = pd.concat([table, pd.DataFrame("", index=new, columns=table.columns)])
    table.loc[pos, column] = value
    table = table.fillna("")
    table = table[(table != "").any(axis=1)] if len(table.columns) else table
    table = table.sort_index().rename_axis(CELL).reset_index()
    write_csv(table, annotations_file(dataset))
    return table


def drop_column(dataset: str | Path, column: str) -> None:
    """Forget one hand-made column of `dataset`."""
    with locked(annotations_file(dataset)):
        table = read_annotations(dataset)
        if column in table.columns and column != CELL:
            table = table.drop(columns=[column])
            rest = [c for c in table.columns if c != CELL]
            table = table[(table[rest] != "").any(axis=1)] if rest else table.iloc[0:0]
            write_csv(table, annotations_file(dataset))


def with_annotations(dataset: str | Path, cells: CellSet) -> CellSet:
    """`cells` with the hand-made columns added to its metadata (the same pixels, not copied).

    Labels of positions beyond the dataset (the data changed since) are ignored.
    """
    table = read_annotations(dataset)
    extra = [c for c in table.columns if c != CELL and c not in cells.meta.columns]
    if not extra:
        return cells
    table = table[(table[CELL] >= 0) & (table[CELL] < len(cells))]
    meta = cells.meta.copy()
    for col in extra:
        values = np.full(len(cells), "", dtype=object)
        values[table[CELL].to_numpy()] = table[col].to_numpy()
        meta[col] = values
    return CellSet(cells.images, list(cells.channels), meta, cells.name, list(cells.skipped))


def hand_columns(dataset: str | Path) -> list[str]:
    """Names of the hand-made columns of `dataset`."""
    return [c for c in read_annotations(dataset).columns if c != CELL]
