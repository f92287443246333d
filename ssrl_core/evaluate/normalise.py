"""Features made comparable across plates before anything is clustered, probed or ranked.

The image-based profiling field normalises every feature per plate to that plate's negative
controls (pycytominer's `normalize(..., samples="<control rows>")`; Caicedo et al., "Data-analysis
strategies for image-based cell profiling", Nature Methods 2017): each plate's staining,
focus and illumination shift the raw numbers, and the controls of the same plate tell by how
much. This module calls pycytominer itself (method `standardize`: mean 0 and standard deviation
1 on the controls), one plate at a time, then clips every value to +-`clip` standard deviations
so that a few outlier cells cannot pull K-Means' centres (a treated cell 40 SD from the
controls counts as far as one at 5 SD).

Which reference is used, in order:
1. per plate, to the plate's controls, when there are two or more plates and every plate holds at
   least `min_controls` control cells;
2. all cells together, to the controls, when there are controls but not on every plate (or one
   plate only);
3. all cells together, to all cells, when there are no controls (e.g. a phenotype atlas).
`Normalised.scope` and `.note` say which, in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

CLIP = 5.0  # standard deviations of the reference cells
MIN_CONTROLS = 10  # control cells a plate needs to be its own reference
CONTROL_NAMES = ("dmso", "negcon", "control", "ctrl", "untreated", "mock")
CONTROL_COLUMNS = ("compound", "treatment", "control_type", "pert_type")


@dataclass
class Normalised:
    """Features ready for K-Means, probes and mAP, with what was done to them."""

    features: np.ndarray  # (N, D) float32
    scope: str  # "per plate" | "all cells"
    reference: str  # "controls" | "all cells"
    note: str
    control: str | None = None  # the control value, e.g. "DMSO"
    plates: list[str] = field(default_factory=list)

    @property
    def per_plate(self) -> bool:
        return self.scope == "per plate"

    def summary(self) -> dict:
        return {"scope": self.scope, "reference": self.reference, "control": self.control,
                "plates": len(self.plates), "note": self.note}


def find_controls(meta: pd.DataFrame, control: str | None = "auto",
                  control_column: str | None = None) -> tuple[np.ndarray | None, str | None, str | None]:
    """(mask of the control cells, their value, the column), or (None, None, None) without controls.

    `control="auto"` looks for a usual negative-control name (DMSO, negcon, control, ...) in a usual
    column (compound, treatment, control_type); `control=None` means "no controls".
    """
    if control is None or meta is None or len(meta) == 0:
        return None, None, None
    columns = [control_column] if control_column else [c for c in CONTROL_COLUMNS if c in meta.columns]
    for col in columns:
        if col not in meta.columns:
            continue
        values = meta[col].astype(str).str.strip()
        lower = values.str.lower()
        names = CONTROL_NAMES if control == "auto" else (str(control).strip().lower(),)
        for name in names:
            mask = (lower == name).to_numpy()
            if mask.any():
                return mask, str(values[mask].iloc[0]), col
    return None, None, None


def _standardise(x: np.ndarray, reference: np.ndarray, method: str = "standardize") -> np.ndarray:
    """pycytominer.normalize(method=...) of `x` to the rows `reference`."""
    from pycytominer import normalize

    cols = [f"f{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=cols)
    frame["Metadata_reference"] = reference
    out = normalize(frame, features=cols, meta_features=["Metadata_reference"],
                    samples="Metadata_reference == True", method=method)
    return out[cols].to_numpy(dtype=np.float32)


@dataclass
class Reference:
    """What each cell is standardised to: `cells` marks the reference cells, `group` each cell's
    reference group (its plate, or "" when one reference serves all cells); scope, reference, note,
    control and plates as in `Normalised`."""

    cells: np.ndarray
    group: np.ndarray
    scope: str
    reference: str
    note: str
    control: str | None
    plates: list[str]


def choose_reference(meta: pd.DataFrame, control: str | None = "auto", control_column: str | None = None,
                     plate_column: str = "plate", per_plate: bool = True,
                     min_controls: int = MIN_CONTROLS) -> Reference:
    """The reference rule of `normalise` (module docstring), from the metadata alone, so a streamed
    normalisation (`plate_stream`) applies the very same rule."""
    n = len(meta)
    ctrl, value, _ = find_controls(meta, control, control_column)
    plates = (meta[plate_column].astype(str).to_numpy() if plate_column in meta.columns
              else np.full(n, "", dtype=object))
    names = sorted(set(plates.tolist()))
    one = np.full(n, "", dtype=object)
    if ctrl is not None and ctrl.sum() < 2:
        ctrl = None
    if ctrl is None:
        return Reference(np.ones(n, dtype=bool), one, "all cells", "all cells", "No control cells (e.g. DMSO) "
                         "among these cells: every feature is standardised over all cells together, not per plate.",
                         None, names)
    short = [p for p in names if int((ctrl & (plates == p)).sum()) < min_controls]
    if per_plate and len(names) > 1 and not short:
        return Reference(ctrl, plates, "per plate", "controls", f"Each of the {len(names)} plates is standardised "
                         f"to its own {value} cells (pycytominer normalize), so the plate's shift is removed.",
                         value, names)
    why = ("one plate" if len(names) < 2 else "asked for one reference" if not per_plate
           else f"plate(s) {', '.join(short[:5])} have fewer than {min_controls} {value} cells")
    return Reference(ctrl, one, "all cells", "controls", f"Standardised to the {value} cells of all plates together "
                     f"({why}).", value, names)


def normalise(features: np.ndarray, meta: pd.DataFrame | None = None, control: str | None = "auto",
              control_column: str | None = None, plate_column: str = "plate", per_plate: bool = True,
              clip: float | None = CLIP, min_controls: int = MIN_CONTROLS, method: str = "standardize") -> Normalised:
    """Standardise `features` to the controls of each plate (see the module docstring), then clip.

    Args:
        features: `(N, D)` embeddings or measurements, one row per cell (or per well).
        meta: their metadata (plate and control columns are looked up there); None = no metadata.
        control: the control value ("auto": DMSO, negcon, ... when present; None: no controls).
        control_column: where the control value is (default: compound, treatment, control_type).
        plate_column: the plate column.
        per_plate: False = one reference for all cells (the "raw" view, to show what the plate does).
        clip: values are limited to +-clip after standardising (None: not clipped, as in exports).
        min_controls: control rows a plate needs to be its own reference.
        method: pycytominer's normalisation method ("standardize", "robustize", "mad_robustize").
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"features must be a (cells, dimensions) table; got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("the features contain NaN or infinite values; re-embed the cells")
    meta = pd.DataFrame(index=range(len(x))) if meta is None else meta.reset_index(drop=True)
    if len(meta) != len(x):
        raise ValueError(f"{len(x)} feature rows but {len(meta)} metadata rows")
    r = choose_reference(meta, control, control_column, plate_column, per_plate, min_controls)
    z = np.empty_like(x)
    for key in sorted(set(r.group.tolist())):
        rows = r.group == key
        z[rows] = _standardise(x[rows], r.cells[rows], method)
    out = Normalised(z, r.scope, r.reference, r.note, r.control, r.plates)
    out.features = np.nan_to_num(out.features, nan=0.0).astype(np.float32)
    if clip is not None:
        out.features = np.clip(out.features, -clip, clip)
    return out
