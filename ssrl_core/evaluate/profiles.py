"""Per-cell and per-well profiles in the pycytominer convention (Serrano et al., JOSS 2025).

A profile table has `Metadata_*` columns (`Metadata_Plate`, `Metadata_Well`, `Metadata_Site`,
`Metadata_ImageNumber`, `Metadata_ObjectNumber`, the cell's centre as
`Metadata_Location_Center_X` / `_Y` in pixels, x = column, then every other metadata column as
`Metadata_<name>`) and feature columns. The embedding dimensions are named `Embedding_SSRL_<i>`:
a prefix of their own, so that pycytominer's default feature inference (`infer_cp_features`:
the `Cells_` / `Nuclei_` / `Cytoplasm_` prefixes) never mixes them with CellProfiler's features
when the two are merged. Pass them by name to pycytominer (`features=[...]`, or
`infer_cp_features(df, compartments=["Embedding"])`); the functions here do.

- `cell_profiles(features, meta)`: one row per cell (level 2 in the Cytomining data levels).
- `well_profiles(cells)`: the median of each feature per plate and well (`pycytominer.aggregate`,
  operation "median", as in Caicedo et al., Nature Methods 2017), with the well's constant
  metadata and `Metadata_Object_Count` (pycytominer's `compute_object_count` where the cells
  have `Metadata_ObjectNumber`).
- `normalize_profiles(profiles, control="DMSO")`: z-score each feature against the control wells
  of its plate (`pycytominer.normalize`, method "standardize", `samples` = the control rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.evaluate.normalise import normalise

FEATURE_PREFIX = "Embedding_SSRL_"
FEATURE_COMPARTMENT = "Embedding"  # pycytominer.infer_cp_features(df, compartments=[FEATURE_COMPARTMENT])
_STANDARD = {"plate": "Metadata_Plate", "well": "Metadata_Well", "site": "Metadata_Site",
             "imagenumber": "Metadata_ImageNumber", "objectnumber": "Metadata_ObjectNumber",
             "meta_x": "Metadata_Location_Center_X", "meta_y": "Metadata_Location_Center_Y"}
_COMPARTMENTS = ("Cells_", "Nuclei_", "Cytoplasm_", FEATURE_PREFIX)


def metadata_name(column: str) -> str:
    """`plate` -> `Metadata_Plate`, `compound` -> `Metadata_compound`, `Metadata_X` unchanged."""
    c = str(column)
    return c if c.startswith("Metadata_") else _STANDARD.get(c.lower(), f"Metadata_{c}")


def cell_metadata(meta: pd.DataFrame) -> pd.DataFrame:
    """Cell metadata under the profile names (`Metadata_*`, one column per name).

    `x`, `y` are the cell's centre in its field (`Metadata_Location_Center_X/Y`) in a cell set's
    metadata; in an embedding table (`ssrl embed`: it has `dataset` and `cell_index`, and the centre
    as `meta_x`, `meta_y`) they are the 2-D map coordinates and are left out."""
    m = meta.reset_index(drop=True)
    embedding_table = "meta_x" in m.columns or {"dataset", "cell_index"} <= set(m.columns)
    if embedding_table:
        m = m.drop(columns=[c for c in ("x", "y") if c in m.columns])
    else:
        m = m.rename(columns={"x": "meta_x", "y": "meta_y"})
    m.columns = [metadata_name(c) for c in m.columns]
    return m.loc[:, ~pd.Index(m.columns).duplicated()]


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The feature columns of a profile table (ours, or any CellProfiler compartment)."""
    return [c for c in df.columns if str(c).startswith(_COMPARTMENTS)]


def split_profiles(df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(features, metadata) of a pycytominer profile table (e.g. normalised, feature-selected wells).

    Features are the numeric columns without the `Metadata_` prefix; metadata columns lose the
    prefix (`Metadata_Plate` -> `plate`, `Metadata_compound` -> `compound`).
    """
    meta_cols = [c for c in df.columns if str(c).startswith("Metadata_")]
    feats = [c for c in df.columns if c not in meta_cols and pd.api.types.is_numeric_dtype(df[c])]
    if not meta_cols or not feats:
        raise ValueError("not a profile table: it needs Metadata_* columns and numeric feature columns")
    inverse = {v: k for k, v in _STANDARD.items() if k in ("plate", "well", "site")}
    meta = df[meta_cols].rename(columns=lambda c: inverse.get(c, c[len("Metadata_"):])).reset_index(drop=True)
    x = df[feats].to_numpy(dtype=np.float32)
    if not np.isfinite(x).all():
        bad = [c for c in feats if not np.isfinite(df[c].to_numpy(dtype=float)).all()][:5]
        raise ValueError(f"the profile table has missing or infinite values in {bad}; drop those features first")
    return x, meta


def cell_profiles(features: np.ndarray, meta: pd.DataFrame, prefix: str = FEATURE_PREFIX) -> pd.DataFrame:
    """One row per cell: `Metadata_*` columns then `<prefix><i>` features (float32)."""
    x = np.asarray(features, dtype=np.float32)
    if len(x) != len(meta):
        raise ValueError(f"{len(x)} embeddings but {len(meta)} metadata rows")
    m = cell_metadata(meta)
    feats = pd.DataFrame(x, columns=[f"{prefix}{i}" for i in range(x.shape[1])])
    return pd.concat([m, feats], axis=1)


def _strata(df: pd.DataFrame) -> list[str]:
    if "Metadata_Well" not in df.columns:
        raise ValueError("per-well profiles need a well column; these cells have none "
                         f"(metadata: {[c for c in df.columns if str(c).startswith('Metadata_')]})")
    return (["Metadata_Plate"] if "Metadata_Plate" in df.columns else []) + ["Metadata_Well"]


def well_profiles(cells: pd.DataFrame, operation: str = "median") -> pd.DataFrame:
    """Aggregate per-cell profiles to one row per plate and well with `pycytominer.aggregate`."""
    from pycytominer import aggregate

    strata = _strata(cells)
    feats = feature_columns(cells)
    if not feats:
        raise ValueError(f"no feature columns ({FEATURE_PREFIX}*, Cells_*, Nuclei_*, Cytoplasm_*) to aggregate")
    df = cells.copy()
    for s in strata:
        df[s] = df[s].astype(str)
    counted = "Metadata_ObjectNumber" in df.columns  # pycytominer counts the objects itself
    wells = aggregate(df, strata=strata, features=feats, operation=operation, compute_object_count=counted)
    meta_cols = [c for c in df.columns if str(c).startswith("Metadata_") and c not in strata + list(wells.columns)]
    grouped = df.groupby(strata, sort=False)
    constant = [c for c in meta_cols if (grouped[c].nunique(dropna=False) <= 1).all()]
    extra = grouped[constant].first().reset_index() if constant else df[strata].drop_duplicates()
    if not counted:
        extra["Metadata_Object_Count"] = grouped.size().to_numpy()
    out = extra.merge(wells, on=strata, how="right")
    return out[strata + [c for c in out.columns if c not in strata and c not in feats] + feats]


def normalize_profiles(profiles: pd.DataFrame, control: str = "DMSO", column: str = "Metadata_compound",
                       method: str = "standardize") -> tuple[pd.DataFrame, str]:
    """Normalise features to the control rows, per plate when every plate has them
    (`ssrl_core.evaluate.normalise`, the same rule as the evaluation protocol; not clipped).

    Returns `(profiles, note)`; the note says whether it was per plate or over all plates.
    """

    if column not in profiles.columns:
        raise ValueError(f"no {column!r} column to find the {control} controls in")
    feats = feature_columns(profiles)
    is_ctrl = profiles[column].astype(str).str.lower() == str(control).lower()
    if not is_ctrl.any():
        raise ValueError(f"no {control} rows to normalise to (values of {column}: "
                         f"{sorted(profiles[column].astype(str).unique())[:10]})")
    meta = pd.DataFrame({"control": is_ctrl.map({True: "control", False: "other"}).to_numpy()})
    if "Metadata_Plate" in profiles.columns:
        meta["plate"] = profiles["Metadata_Plate"].astype(str).to_numpy()
    norm = normalise(profiles[feats].to_numpy(dtype=np.float32), meta, control="control", control_column="control",
                     clip=None, min_controls=1, method=method)
    out = profiles.reset_index(drop=True).copy()
    out[feats] = norm.features
    note = (f"{method} to the {control} rows of " + ("each plate" if norm.per_plate else "all plates together")
            if norm.reference == "controls" else f"{method} over all rows (too few {control} rows to be the reference)")
    return out, note
