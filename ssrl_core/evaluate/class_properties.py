"""Class properties and how they relate to a class's response to one augmentation parameter
(Bendidi et al. 2024, section 3.1, Table 1).

For every class of any labelled CellSet (CIFAR-10 classes, MitoCheck phenotypes, compounds):
- `intrinsic_dim`: intrinsic dimension of the class's features by the two-NN estimator (Facco
  et al. 2017, maximum-likelihood form: d = (n - 1) / sum log(r2 / r1), r1 and r2 the distances
  to a point's first and second nearest neighbours);
- `effective_rank`: effective rank of the class's feature covariance (Roy & Vetterli 2007:
  exp of the entropy of the normalised eigenvalues), the paper's "spectrum of feature covariance";
- `glcm_contrast`, `glcm_homogeneity`: texture, from the grey-level co-occurrence matrix
  (scikit-image `graycomatrix` / `graycoprops`, distance 1 px, 4 directions, 32 grey levels),
  mean over the class's images;
- `high_freq_energy`: the share of an image's Fourier power (mean removed) above half the Nyquist
  frequency (radial frequency > 0.25 cycles per pixel), mean over the class's images.

Features come from one fixed reference encoder (the paper: an ImageNet-supervised ResNet; here
any encoder `embed` accepts, `imagenet-vgg16` by default in the CLI). Images are scaled to [0, 1]
per channel with the set's own percentile ranges and averaged over channels to grey.

`property_anova` then runs a one-way ANOVA of each property across the classes' trend groups
(ascending / descending / flat, from `bias_stats.class_slopes`) of one sweep: F and p, or the
reason it cannot be computed (a test needs at least two groups with two or more classes each).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ssrl_core.data.cellset import CellSet, to_unit_float

PROPERTIES = ("intrinsic_dim", "effective_rank", "glcm_contrast", "glcm_homogeneity", "high_freq_energy")
PROPERTY_NAMES = {"intrinsic_dim": "intrinsic dimension (two-NN)", "effective_rank": "effective rank of the feature covariance",
                  "glcm_contrast": "texture: GLCM contrast", "glcm_homogeneity": "texture: GLCM homogeneity",
                  "high_freq_energy": "Fourier: share of high-frequency energy"}
TRENDS = ("ascending", "descending", "flat")
GLCM_LEVELS = 32


def two_nn_dimension(features: np.ndarray) -> float:
    """Two-NN intrinsic dimension (Facco et al. 2017, MLE form) of the rows of `features`; NaN
    with fewer than 3 distinct points."""
    from sklearn.neighbors import NearestNeighbors

    x = np.unique(np.asarray(features, dtype=np.float64), axis=0)
    if len(x) < 3:
        return float("nan")
    dist, _ = NearestNeighbors(n_neighbors=3).fit(x).kneighbors(x)
    r1, r2 = dist[:, 1], dist[:, 2]
    ok = (r1 > 0) & (r2 > r1)
    logs = np.log(r2[ok] / r1[ok])
    if len(logs) < 2 or logs.sum() <= 0:
        return float("nan")
    return float((len(logs) - 1) / logs.sum())


def effective_rank(features: np.ndarray) -> float:
    """exp(entropy) of the normalised eigenvalues of the feature covariance (Roy & Vetterli 2007)."""
    x = np.asarray(features, dtype=np.float64)
    if len(x) < 2:
        return float("nan")
    ev = np.clip(np.linalg.eigvalsh(np.cov(x, rowvar=False)), 0.0, None)
    if ev.sum() <= 0:
        return float("nan")
    p = ev / ev.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def glcm_texture(grey01: np.ndarray, levels: int = GLCM_LEVELS) -> tuple[float, float]:
    """GLCM contrast and homogeneity of one grey image in [0, 1] (1 px, 4 directions, averaged)."""
    from skimage.feature import graycomatrix, graycoprops

    q = np.clip((np.asarray(grey01) * levels).astype(np.int64), 0, levels - 1).astype(np.uint8)
    m = graycomatrix(q, distances=[1], angles=[0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=levels,
                     symmetric=True, normed=True)
    return float(graycoprops(m, "contrast").mean()), float(graycoprops(m, "homogeneity").mean())


def high_frequency_share(grey01: np.ndarray, cutoff: float = 0.25) -> float:
    """Share of the Fourier power (image mean removed) at radial frequencies above `cutoff`
    cycles per pixel (0.5 = Nyquist); NaN for a flat image."""
    g = np.asarray(grey01, dtype=np.float64)
    power = np.abs(np.fft.fft2(g - g.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(g.shape[0]), np.fft.fftfreq(g.shape[1]), indexing="ij")
    total = power.sum()
    return float(power[np.hypot(fy, fx) > cutoff].sum() / total) if total > 0 else float("nan")


def _grey(cells: CellSet) -> np.ndarray:
    lo, hi = cells.ranges()
    return to_unit_float(cells.images, lo, hi).mean(axis=-1)


def pick_per_class(labels: pd.Series | np.ndarray, max_per_class: int | None, seed: int = 0) -> np.ndarray:
    """Row positions: at most `max_per_class` per class (fixed seed), sorted."""
    y = pd.Series(np.asarray(labels, dtype=object)).astype(str).to_numpy()
    if max_per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:max_per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(picks)) if picks else np.arange(0)


def class_properties(cells: CellSet, features: np.ndarray, column: str = "label") -> pd.DataFrame:
    """One row per class of `cells.meta[column]`: n and the five properties (see module docstring).

    `features` are the reference encoder's embeddings of `cells`, one row per cell.
    """
    if column not in cells.meta.columns:
        raise ValueError(f"the cells have no {column!r} column; columns are {list(cells.meta.columns)}")
    feats = np.asarray(features, dtype=np.float32)
    if len(feats) != len(cells):
        raise ValueError(f"{len(feats)} feature rows for {len(cells)} cells")
    y = cells.meta[column].astype(str).to_numpy()
    grey = _grey(cells)
    rows = []
    for cls in sorted(np.unique(y)):
        idx = np.flatnonzero(y == cls)
        tex = np.array([glcm_texture(grey[i]) for i in idx])
        rows.append({"class": cls, "n": int(len(idx)), "intrinsic_dim": two_nn_dimension(feats[idx]),
                     "effective_rank": effective_rank(feats[idx]), "glcm_contrast": float(tex[:, 0].mean()),
                     "glcm_homogeneity": float(tex[:, 1].mean()),
                     "high_freq_energy": float(np.nanmean([high_frequency_share(grey[i]) for i in idx]))})
    return pd.DataFrame(rows, columns=["class", "n", *PROPERTIES])


def measure(cells: CellSet, encoder: str, column: str = "label", max_per_class: int | None = 500,
            seed: int = 0, progress: Any = None) -> pd.DataFrame:
    """Embed at most `max_per_class` cells per class with `encoder` and compute `class_properties`."""
    from ssrl_core.evaluate.embedding import embed

    if column not in cells.meta.columns:
        raise ValueError(f"the cells have no {column!r} column; columns are {list(cells.meta.columns)}")
    sub = cells.subset(pick_per_class(cells.meta[column], max_per_class, seed))
    return class_properties(sub, embed(sub, encoder, progress), column)


def property_anova(properties: pd.DataFrame, slopes: pd.DataFrame) -> pd.DataFrame:
    """One-way ANOVA of each property across the trend groups of one sweep.

    `slopes` has columns class and trend (`bias_stats.class_slopes`). Groups with fewer than two
    classes are left out of the test; with fewer than two groups left, F and p are NaN and `note`
    says why. Columns: property, F, p, groups (used), n_ascending, n_descending, n_flat,
    mean_<trend> (the property's mean in each group), note.
    """
    merged = properties.merge(slopes[["class", "trend"]].astype({"class": str}),
                              on="class", how="inner")
    counts = {t: int((merged["trend"] == t).sum()) for t in TRENDS}
    rows = []
    for prop in PROPERTIES:
        if prop not in merged.columns:
            continue
        groups = {t: merged.loc[merged["trend"] == t, prop].dropna().to_numpy(float) for t in TRENDS}
        used = [t for t in TRENDS if len(groups[t]) >= 2]
        small = [f"{t} {len(groups[t])}" for t in TRENDS if 0 < len(groups[t]) < 2]
        f, p, note = float("nan"), float("nan"), ""
        if len(used) < 2:
            note = ("too few classes per group for a test (needs two groups of 2 or more): "
                    + ", ".join(f"{t} {len(groups[t])}" for t in TRENDS))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = stats.f_oneway(*[groups[t] for t in used])
            f, p = float(res.statistic), float(res.pvalue)
            if small:
                note = "left out (one class only): " + ", ".join(small)
        row = {"property": prop, "F": f, "p": p, "groups": "+".join(used),
               **{f"n_{t}": counts[t] for t in TRENDS},
               **{f"mean_{t}": float(groups[t].mean()) if len(groups[t]) else float("nan") for t in TRENDS},
               "note": note}
        rows.append(row)
    return pd.DataFrame(rows)
