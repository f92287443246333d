"""Factor probe: which factors of variation did a representation encode?

For each factor (labels such as phenotype, compound, MoA, dose; batch columns such as plate and
well; nuisance factors measured on the images: number of nuclei in the crop, total intensity per
channel, area of the central nucleus, offset of the nucleus from the centre) two numbers:
- AMI of a K-Means with as many clusters as the factor has levels (continuous factors are first
  binned into `quantiles` equal-count bins, so their levels are quantile bins);
- a linear-probe score: held-out accuracy of a logistic regression for categorical factors,
  cross-validated R^2 of a ridge regression for continuous ones.
A representation meant for phenotypes should score high on labels and low on batch and nuisance
factors (Bendidi et al. 2024: the augmentations decide what is kept).

`factor_table` is the one entry point (the Bias page and `ssrl factors`): the image factors of a
subset of cells are measured with the whole dataset's channel ranges, so a cell's intensity factor
does not depend on which other cells were picked, and the app and the CLI report the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet, channel_ranges, to_unit_float
from ssrl_core.evaluate.cluster import agreement, kmeans
from ssrl_core.evaluate.morphology import nucleus_measurements
from ssrl_core.evaluate.probe import linear_probe, regression_probe

LABEL_COLUMNS = ("label", "phenotype", "compound", "moa", "concentration", "dose")
BATCH_COLUMNS = ("plate", "well", "site", "batch", "source")
MAX_LEVELS = 60
CATEGORICAL_NUMERIC_LEVELS = 10
COLUMNS = ["factor", "kind", "type", "levels", "ami", "probe_score", "probe_metric", "chance", "n"]


def nuisance_factors(cells: CellSet, nuclear_channel: int = 0, lo=None, hi=None) -> pd.DataFrame:
    """Nuisance factors measured on the images, one row per cell.

    Columns: n_nuclei (connected components of the Otsu-thresholded nuclear channel with at
    least 0.5 % of the crop area), total_intensity_<channel> (sum of the [0, 1]-scaled pixels),
    nucleus_area (pixels of the central nucleus) and nucleus_offset (pixels from the centre).
    """
    if lo is None or hi is None:
        lo, hi = channel_ranges(cells.images)
    out = []
    for start in range(0, len(cells), 512):
        x = to_unit_float(cells.images[start:start + 512], lo, hi)
        m = nucleus_measurements(x, nuclear_channel)[["n_nuclei", "nucleus_area", "nucleus_offset"]]
        for i, ch in enumerate(cells.channels):
            m[f"total_intensity_{ch}"] = x[..., i].sum(axis=(1, 2))
        out.append(m)
    return pd.concat(out, ignore_index=True)


def _factor_type(s: pd.Series) -> str:
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all() and s.nunique() > CATEGORICAL_NUMERIC_LEVELS:
        return "continuous"
    return "categorical"


def candidate_factors(meta: pd.DataFrame, nuisance: pd.DataFrame | None = None) -> list[tuple[str, str, pd.Series]]:
    """(name, kind, values) for every usable factor: kind is "label", "batch" or "nuisance".

    Metadata columns with a single value, or (when categorical) more than 60 levels or a
    different value for nearly every cell (file names, ids), are skipped.
    """
    found = []
    lower = {str(c).lower(): c for c in meta.columns}
    for names, kind in ((LABEL_COLUMNS, "label"), (BATCH_COLUMNS, "batch")):
        for name in names:
            if name in lower:
                s = meta[lower[name]]
                n = s.nunique(dropna=True)
                if n < 2 or (_factor_type(s) == "categorical" and n > MAX_LEVELS):
                    continue
                found.append((str(lower[name]), kind, s))
    if nuisance is not None:
        for col in nuisance.columns:
            if nuisance[col].nunique(dropna=True) >= 2:
                found.append((str(col), "nuisance", nuisance[col]))
    return found


def _quantile_bins(values: pd.Series, q: int) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    return pd.qcut(v.rank(method="first"), q=min(q, int(v.notna().sum())), labels=False)


def factor_probe(features: np.ndarray, meta: pd.DataFrame, nuisance: pd.DataFrame | None = None,
                 quantiles: int = 4, seed: int = 0, test_fraction: float = 0.3) -> pd.DataFrame:
    """The factor table: one row per factor with AMI and linear-probe score.

    Columns: factor, kind (label | batch | nuisance), type (categorical | continuous), levels
    (number of levels; for continuous factors the number of quantile bins used for the AMI),
    ami, probe_score, probe_metric ("accuracy" or "r2"), chance (accuracy of always guessing
    the commonest level; 0 for R^2) and n (cells with a value).
    """
    x = np.asarray(features, dtype=np.float32)
    if len(x) != len(meta) or (nuisance is not None and len(nuisance) != len(x)):
        raise ValueError("embeddings, metadata and measured factors must have one row per cell")
    rows = []
    for name, kind, values in candidate_factors(meta.reset_index(drop=True),
                                                None if nuisance is None else nuisance.reset_index(drop=True)):
        values = values.reset_index(drop=True)
        keep = values.notna().to_numpy()
        xs, vs = x[keep], values[keep]
        ftype = _factor_type(vs)
        if ftype == "continuous":
            groups = _quantile_bins(vs, quantiles).to_numpy()
            score, metric, chance = regression_probe(xs, vs, seed=seed), "r2", 0.0
        else:
            groups = vs.astype(str).to_numpy()
            try:
                res = linear_probe(xs, groups, test_fraction=test_fraction, seed=seed)
                score, chance = res["top1"], res["chance"]
            except ValueError:
                score, chance = float("nan"), float("nan")
            metric = "accuracy"
        levels = int(pd.Series(groups).nunique())
        ami = agreement(kmeans(xs, levels, seed), groups)["ami"] if levels >= 2 else float("nan")
        rows.append({"factor": name, "kind": kind, "type": ftype, "levels": levels, "ami": ami,
                     "probe_score": score, "probe_metric": metric, "chance": chance, "n": int(keep.sum())})
    return pd.DataFrame(rows, columns=COLUMNS)


def factor_table(features: np.ndarray, meta: pd.DataFrame, cells: CellSet | None = None,
                 index: np.ndarray | None = None, ranges: tuple[np.ndarray, np.ndarray] | None = None,
                 nuclear_channel: int = 0, quantiles: int = 4, seed: int = 0) -> pd.DataFrame:
    """The factor table of the embeddings `features` of cells `index` of `cells` (`meta`: their
    metadata, one row per embedding).

    With `cells`, the nuisance factors are measured on those cells' images scaled with `ranges`
    (default: `channel_ranges` of the whole `cells`, the scale the app displays and trains with);
    without, only metadata factors are probed. `index=None` means every cell of `cells`.
    """
    nuisance = None
    if cells is not None:
        idx = np.arange(len(cells)) if index is None else np.asarray(index, dtype=np.int64)
        lo, hi = ranges if ranges is not None else channel_ranges(cells.images)
        nuisance = nuisance_factors(cells.subset(idx), nuclear_channel=nuclear_channel, lo=lo, hi=hi)
    return factor_probe(features, meta, nuisance, quantiles=quantiles, seed=seed)


def factor_chart_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Long, chart-ready form of the factor table: factor, kind, measure ("AMI" or "probe
    accuracy" / "probe R^2"), value."""
    long = []
    for _, r in table.iterrows():
        long.append({"factor": r["factor"], "kind": r["kind"], "measure": "AMI", "value": r["ami"]})
        label = "probe accuracy" if r["probe_metric"] == "accuracy" else "probe R^2"
        long.append({"factor": r["factor"], "kind": r["kind"], "measure": label, "value": r["probe_score"]})
    return pd.DataFrame(long, columns=["factor", "kind", "measure", "value"])
