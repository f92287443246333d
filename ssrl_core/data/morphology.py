"""Nucleus measurements on single-cell crops: count, central-object shape and position.

Used three times: by the `hand-features` baseline (a classical CellProfiler-like description of a cell
to compare learned representations with) and by the factor probe, whose nuisance factors (how
many nuclei are in the crop, how large the central one is, how far from the centre it sits) ask
whether a representation encodes things a biologist usually does not want it to (Bendidi et al.
2024, section 3.3: cropping choices change what the representation sees), and by the invariance preview
(`ssrl_core.augment.invariance`), which measures the same nucleus on both views of a cell. It
sits on the data floor so that all three share it (`ssrl_core.evaluate.morphology` re-exports it).

Method: per crop, Otsu threshold of the nuclear channel (channel 0 by default, scaled to [0, 1]
with the set's channel ranges), connected components with at least `min_area` pixels. The
"central object" is the component under the crop centre, else the one whose centroid is nearest
to the centre.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

MEASURES = ("n_nuclei", "nucleus_area", "nucleus_eccentricity", "nucleus_solidity",
            "nucleus_perimeter", "nucleus_offset")


def default_min_area(height: int, width: int) -> int:
    """Smallest object counted as a nucleus: 0.5 % of the crop, at least 5 pixels."""
    return max(5, int(round(0.005 * height * width)))


def central_object(plane: np.ndarray, min_area: int, threshold: float | None = None):
    """The objects of one `(H, W)` plane in [0, 1] and its central one: `(objects, central)`.

    Objects are the connected components (8-connectivity) of the Otsu foreground (or of the pixels
    above `threshold`, when the caller computed it already) with at least
    `min_area` pixels, as skimage `RegionProperties`; `central` is the one under the crop centre,
    else the one whose centroid is nearest to it, else None (a blank plane or no object).
    """
    h, w = plane.shape
    if not np.isfinite(plane).all() or float(plane.max()) - float(plane.min()) < 1e-6:
        return [], None
    lab = label(plane > (threshold_otsu(plane) if threshold is None else threshold), connectivity=2)
    props = [p for p in regionprops(lab) if p.area >= min_area]
    if not props:
        return [], None
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    under = lab[int(round(cy)), int(round(cx))]
    central = next((p for p in props if p.label == under), None)
    if central is None:
        central = min(props, key=lambda p: (p.centroid[0] - cy) ** 2 + (p.centroid[1] - cx) ** 2)
    return props, central


def _measure_one(plane: np.ndarray, min_area: int) -> tuple[float, ...]:
    props, central = central_object(plane, min_area)
    if central is None:
        return (0.0, 0.0, 0.0, 0.0, 0.0, float("nan"))
    h, w = plane.shape
    offset = float(np.hypot(central.centroid[0] - (h - 1) / 2.0, central.centroid[1] - (w - 1) / 2.0))
    return (float(len(props)), float(central.area), float(central.eccentricity),
            float(central.solidity), float(central.perimeter), offset)


def nucleus_measurements(unit_images: np.ndarray, nuclear_channel: int = 0,
                         min_area: int | None = None) -> pd.DataFrame:
    """Measure the nuclei of every crop.

    Args:
        unit_images: `(N, H, W, C)` float32 in [0, 1] (see `ssrl_core.data.to_unit_float`).
        nuclear_channel: the channel that shows nuclei (DAPI / Hoechst / H2B), 0 by default.
        min_area: smallest object counted, in pixels (default: `default_min_area`).

    Returns:
        A DataFrame with one row per crop and the columns in `MEASURES`: number of nuclei,
        then area (pixels), eccentricity (0 = round, 1 = a line), solidity (area / convex
        area), perimeter (pixels) of the central nucleus and its distance from the crop
        centre (pixels; NaN when no nucleus is found).
    """
    if unit_images.ndim == 3:
        unit_images = unit_images[..., None]
    n, h, w, c = unit_images.shape
    if not 0 <= nuclear_channel < c:
        raise ValueError(f"the nuclear channel {nuclear_channel} does not exist: the crops have {c} channel(s)")
    area = default_min_area(h, w) if min_area is None else int(min_area)
    rows = [_measure_one(unit_images[i, :, :, nuclear_channel], area) for i in range(n)]
    return pd.DataFrame(rows, columns=list(MEASURES), dtype=np.float64)
