"""How well two measurements of the same cells agree, relative to how much the cells differ.

The intraclass correlation ICC(1,1) of the one-way random-effects model (Shrout & Fleiss 1979):
the two measurements (two views of a cell, or a cell and one of its views) are unordered draws, so
(MSB - MSW) / (MSB + MSW) with MSB the between-cell and MSW the within-cell mean square. It is
computed on normal scores (the ranks of the pooled values), so that a few extreme cells do not
decide it and a monotone change of units (a log) changes nothing. A bootstrap over cells gives a
90% interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata

from .measures import Factor


def _normal(v: np.ndarray) -> np.ndarray:
    return ndtri((rankdata(v) - 0.5) / len(v))


def _scores(a: np.ndarray, b: np.ndarray, pooled: bool) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores (ties share their mean rank) of the pooled values of both measurements, or of
    each measurement on its own (then a shift or scaling common to all cells does not count)."""
    if not pooled:
        return _normal(a), _normal(b)
    z = _normal(np.concatenate([a, b]))
    return z[:len(a)], z[len(a):]


def icc(a: np.ndarray, b: np.ndarray, boot: int = 0, seed: int = 0, pooled: bool = True) -> tuple[float, float, float]:
    """ICC(1,1) of two measurements of the same cells on normal scores, and a bootstrap 90% interval
    over cells (`boot` resamples; NaN bounds without). Cells with a missing value are left out.

    `pooled` (two views of one recipe, exchangeable): the values are ranked together, an absolute
    agreement. `pooled=False` (a cell and its view): each is ranked on its own, so only the order of
    the cells must agree (a centre crop that doubles every nucleus's size keeps the order)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5 or np.ptp(np.concatenate([a[ok], b[ok]])) == 0:  # too few cells, or all alike
        return float("nan"), float("nan"), float("nan")
    za, zb = _scores(a[ok], b[ok], pooled)
    idx = np.arange(len(za))[None, :]
    if boot:
        idx = np.concatenate([idx, np.random.default_rng(seed).integers(0, len(za), (boot, len(za)))])
    x, y = za[idx], zb[idx]
    m = (x + y) / 2
    msb = 2 * ((m - m.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) / (x.shape[1] - 1)
    msw = ((x - m) ** 2 + (y - m) ** 2).sum(axis=1) / x.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        vals = np.where(msb + msw > 0, (msb - msw) / (msb + msw), np.nan)
    lo, hi = (np.nanpercentile(vals[1:], [5, 95]) if boot and np.isfinite(vals[1:]).any() else (np.nan, np.nan))
    return float(vals[0]), float(lo), float(hi)


def agreements(one: pd.DataFrame, two: pd.DataFrame, fs: list[Factor], boot: int = 0) -> pd.DataFrame:
    """Per factor: agreement (a factor of several columns averages them), its interval, cells used."""
    rows = []
    for f in fs:
        vals = [icc(one[c].to_numpy(), two[c].to_numpy(), boot) for c in f.columns]
        used = int(min((np.isfinite(one[c]) & np.isfinite(two[c])).sum() for c in f.columns))
        rows.append({"factor": f.name, "agreement": float(np.mean([v[0] for v in vals])),
                     "low": float(np.mean([v[1] for v in vals])), "high": float(np.mean([v[2] for v in vals])),
                     "cells": used})
    return pd.DataFrame(rows)


def shown(original: pd.DataFrame, view: pd.DataFrame, factor: Factor) -> float:
    """How well a view still shows the cells' own values of `factor`: the agreement in order
    (`icc(..., pooled=False)`) between the cells and their views (a factor of several columns: mean)."""
    return float(np.mean([icc(original[c].to_numpy(), view[c].to_numpy(), pooled=False)[0] for c in factor.columns]))
