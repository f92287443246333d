"""Factor probe: which factors of variation did a representation encode?

For each factor (labels such as phenotype, compound, MoA, dose; batch columns such as plate and
well; nuisance factors measured on the images: number of nuclei in the crop, total intensity per
channel, area of the central nucleus, offset of the nucleus from the centre) two numbers, under
the one evaluation protocol (`protocol.py`: features normalised per plate to the controls,
K-Means runs, plates or wells held out):
- AMI of K-Means with as many clusters as the factor has levels (continuous factors are first
  binned into `quantiles` equal-count bins, so their levels are quantile bins), the median over
  the runs, with its chance level;
- a probe score on held-out plates (or wells): balanced accuracy of a logistic regression for
  categorical factors (with its permutation chance level), out-of-fold R^2 of a ridge regression
  for continuous ones.
A representation meant for phenotypes should score high on labels and low on batch and nuisance
factors (Bendidi et al. 2024: the augmentations decide what is kept).

`factor_table` is the one entry point (the Bias page and `ssrl factors`): the image factors of a
subset of cells are measured with the whole dataset's channel ranges, so a cell's intensity factor
does not depend on which other cells were picked, and the app and the CLI report the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet, to_unit_float
from ssrl_core.evaluate.heldout_probe import heldout_probe, make_folds
from ssrl_core.evaluate.morphology import nucleus_measurements
from ssrl_core.evaluate.normalise import normalise
from ssrl_core.evaluate.threads import compute_threads
from ssrl_core.evaluate.verdicts import factor_level

LABEL_COLUMNS = ("label", "phenotype", "compound", "moa", "concentration", "dose")
BATCH_COLUMNS = ("plate", "well", "site", "batch", "source")
MAX_LEVELS = 60
CATEGORICAL_NUMERIC_LEVELS = 10
COLUMNS = ["factor", "kind", "type", "levels", "ami", "ami_chance", "probe_score", "probe_metric", "chance", "chance95",
           "held_out_by", "n", "words"]


def nuisance_factors(cells: CellSet, nuclear_channel: int = 0, lo=None, hi=None) -> pd.DataFrame:
    """Nuisance factors measured on the images, one row per cell.

    Columns: n_nuclei (connected components of the Otsu-thresholded nuclear channel with at
    least 0.5 % of the crop area), total_intensity_<channel> (sum of the [0, 1]-scaled pixels),
    nucleus_area (pixels of the central nucleus) and nucleus_offset (pixels from the centre).
    """
    if lo is None or hi is None:
        lo, hi = cells.ranges()  # the whole dataset's scale, also for a subset
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


def _grouped_r2(x: np.ndarray, values: pd.Series, fold: np.ndarray) -> float:
    """Out-of-fold R^2 of a ridge regression (standardised features) over the given folds."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler


    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    if np.std(v) == 0 or len(np.unique(fold)) < 2:
        return float("nan")
    pred = np.empty_like(v)
    with compute_threads(len(v)):
        for f in np.unique(fold):
            test = fold == f
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 7)))
            pred[test] = model.fit(x[~test], v[~test]).predict(x[test])
    return float(1.0 - np.sum((v - pred) ** 2) / np.sum((v - v.mean()) ** 2))


def factor_probe(features: np.ndarray, meta: pd.DataFrame, nuisance: pd.DataFrame | None = None,
                 quantiles: int = 4, seed: int = 0, normalised: bool = False,
                 kinds: tuple[str, ...] = ("label", "batch", "nuisance")) -> pd.DataFrame:
    """The factor table: one row per factor with AMI and held-out probe score.

    Columns: factor, kind (label | batch | nuisance), type (categorical | continuous), levels
    (number of levels; for continuous factors the number of quantile bins used for the AMI),
    ami, ami_chance (its permutation chance level), probe_score, probe_metric ("balanced
    accuracy" or "r2"), chance (1 / levels for balanced accuracy; 0 for R^2), chance95 (the
    probe's permutation chance level; R^2 has none), held_out_by (plate | well | cell), n (cells
    with a value) and words (how well it is encoded, calibrated against chance).
    `normalised=True` means the features are already normalised by `normalise.normalise`; `kinds`
    limits the factors probed (the plate and well columns still set the folds and normalisation).
    """
    from ssrl_core.evaluate.cluster import cluster_metrics

    x = np.asarray(features, dtype=np.float32)
    if len(x) != len(meta) or (nuisance is not None and len(nuisance) != len(x)):
        raise ValueError("embeddings, metadata and measured factors must have one row per cell")
    meta = meta.reset_index(drop=True)
    if not normalised:
        x = normalise(x, meta).features
    rows = []
    for name, kind, values in candidate_factors(meta, None if nuisance is None else nuisance.reset_index(drop=True)):
        if kind not in kinds:
            continue
        values = values.reset_index(drop=True)
        keep = values.notna().to_numpy()
        xs, vs, ms = x[keep], values[keep], meta[keep].reset_index(drop=True)
        ftype = _factor_type(vs)
        chance95, held = float("nan"), ""
        if ftype == "continuous":
            groups = _quantile_bins(vs, quantiles).astype(int).astype(str).to_numpy()
            folds = make_folds(ms, groups, seed=seed)
            score, metric, chance, held = _grouped_r2(xs, vs, folds.fold), "r2", 0.0, folds.held_out_by
        else:
            groups = vs.astype(str).to_numpy()
            metric = "balanced accuracy"
            try:
                res = heldout_probe(xs, groups, ms, seed=seed)
                score, chance, chance95, held = res["balanced_accuracy"], res["chance"], res["chance95"], res["held_out_by"]
            except ValueError:
                score, chance = float("nan"), float("nan")
        levels = int(pd.Series(groups).nunique())
        ami, ami_chance = float("nan"), float("nan")
        if levels >= 2:
            cm = cluster_metrics(xs, groups, k=levels, seed=seed)
            ami, ami_chance = cm["ami"], cm["chance95"]
        rows.append({"factor": name, "kind": kind, "type": ftype, "levels": levels, "ami": ami,
                     "ami_chance": ami_chance, "probe_score": score, "probe_metric": metric, "chance": chance,
                     "chance95": chance95, "held_out_by": held, "n": int(keep.sum()),
                     "words": factor_level(score, chance, chance95, metric)})
    return pd.DataFrame(rows, columns=COLUMNS)


def factor_table(features: np.ndarray, meta: pd.DataFrame, cells: CellSet | None = None,
                 index: np.ndarray | None = None, ranges: tuple[np.ndarray, np.ndarray] | None = None,
                 nuclear_channel: int = 0, quantiles: int = 4, seed: int = 0) -> pd.DataFrame:
    """The factor table of the embeddings `features` of cells `index` of `cells` (`meta`: their
    metadata, one row per embedding).

    With `cells`, the nuisance factors are measured on those cells' images scaled with `ranges`
    (default: `cells.ranges()`, the whole dataset's scale the app displays and trains with);
    without, only metadata factors are probed. `index=None` means every cell of `cells`.
    """
    nuisance = None
    if cells is not None:
        idx = np.arange(len(cells)) if index is None else np.asarray(index, dtype=np.int64)
        lo, hi = ranges if ranges is not None else cells.ranges()
        nuisance = nuisance_factors(cells.subset(idx), nuclear_channel=nuclear_channel, lo=lo, hi=hi)
    return factor_probe(features, meta, nuisance, quantiles=quantiles, seed=seed)


def factor_chart_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Long, chart-ready form of the factor table: factor, kind, measure ("AMI" or "probe
    balanced accuracy" / "probe R^2"), value."""
    long = []
    for _, r in table.iterrows():
        long.append({"factor": r["factor"], "kind": r["kind"], "measure": "AMI", "value": r["ami"]})
        label = "probe R^2" if r["probe_metric"] == "r2" else "probe balanced accuracy"
        long.append({"factor": r["factor"], "kind": r["kind"], "measure": label, "value": r["probe_score"]})
    return pd.DataFrame(long, columns=["factor", "kind", "measure", "value"])
