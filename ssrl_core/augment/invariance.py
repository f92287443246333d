"""What a recipe teaches, before any training: which readable factors its two views agree on.

Self-supervised learning makes the two views of a cell agree, so whatever a recipe changes between
the views the encoder is taught to ignore (Bendidi et al. 2024: the augmentations are a hidden
supervision). `explain(recipe, cells)` measures readable factors (`ssrl_core.augment.measures`:
each channel's brightness and contrast, the nucleus's size, position and orientation, the number of
nuclei, sharpness, fine texture, apparent scale) on both views of a few hundred cells and reports,
per factor, how well the views agree relative to how much cells differ: the intraclass correlation
ICC(1,1) of the one-way random-effects model (Shrout & Fleiss 1979; the two views are unordered
random draws), computed on normal scores (ranks) so that a few extreme cells do not decide it.
Near 1 the recipe keeps the factor (the encoder may use it); near 0 it scrambles it (the encoder
is taught to drop it).

The same factors are measured on two near-identical views (a shift of at most one pixel and faint
noise, `REFERENCE`): that is the best agreement the measurement itself allows on these cells
(the identity recipe gives exactly 1 by construction, so it says nothing). The verdict compares
the recipe's agreement with that reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata

from ssrl_core.data.cellset import CellSet, channel_ranges, to_unit_float

from .measures import Factor, factors, measure
from .presets import PRESETS, get_preset
from .recipe import Recipe, Step
from .views import TwoViews, _seed_pair

# Verdicts on agreement / reference. An ICC of 0.9 means the views differ by noise of a third of the
# spread between cells (sd ratio sqrt(0.1/0.9)); 0.5 means noise as large as that spread.
KEEPS, PARTLY = 0.9, 0.5  # >= KEEPS: keeps; < PARTLY: drops; between: partly
MEASURABLE = 0.5  # a reference below this: the cells barely differ in the factor, or it is noisy here
REFERENCE = Recipe("reference (near-identical views)", [
    Step("affine", {"scale": [1.0, 1.0], "translate": 0.015, "shear": 0.0, "border": "reflect"}),
    Step("gaussian_noise", {"std": [0.002, 0.004], "per_channel": True}, 1.0),
], None, "Two views that differ by at most a pixel's shift and faint noise: the measurement's own limit.")


def as_recipe(recipe: Recipe | str | Path) -> Recipe:
    """A Recipe from a Recipe, a preset name or a recipe YAML file (`RecipeError` in words otherwise)."""
    if isinstance(recipe, Recipe):
        return recipe
    text = str(recipe)
    if text in PRESETS:
        return get_preset(text)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"no recipe file {path}")
        return Recipe.from_yaml(path.read_text(encoding="utf-8"))
    return get_preset(text)  # unknown name: the error lists the presets


@dataclass
class Sample:
    """The cells a preview measures: `(n, H, W, C)` float32 in [0, 1] with their channel names.
    Measurements of the reference views are kept once made (`reference_table`)."""

    images: np.ndarray
    channels: list[str]
    nuclear_channel: int = 0
    index: np.ndarray | None = None
    _reference: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def factors(self) -> list[Factor]:
        return factors(self.channels, self.nuclear_channel)


def sample_cells(cells: CellSet | np.ndarray, n: int = 256, seed: int = 0, ranges: tuple | None = None,
                 nuclear_channel: int = 0) -> Sample:
    """`n` random cells (seeded) of a CellSet, scaled with the whole set's channel ranges (or
    `ranges`), or of an `(N, H, W, C)` array (float32 in [0, 1] used as it is)."""
    if isinstance(cells, Sample):
        return cells
    rng = np.random.default_rng(seed)
    if isinstance(cells, CellSet):
        if len(cells) == 0:
            raise ValueError("no cells to measure: the selection is empty")
        idx = np.sort(rng.choice(len(cells), min(int(n), len(cells)), replace=False))
        lo, hi = ranges if ranges is not None else channel_ranges(cells.images)
        images = to_unit_float(np.asarray(cells.images[idx]), lo, hi)
        return Sample(images, list(cells.channels), nuclear_channel, idx)
    arr = np.asarray(cells)
    arr = arr[..., None] if arr.ndim == 3 else arr
    if arr.ndim != 4:
        raise ValueError(f"expected cells shaped (N, H, W, C), got {arr.shape}")
    if len(arr) == 0:
        raise ValueError("no cells to measure: the array is empty")
    idx = np.sort(rng.choice(len(arr), min(int(n), len(arr)), replace=False))
    pick = arr[idx]
    if not (pick.dtype.kind == "f" and pick.min() >= 0 and pick.max() <= 1):
        pick = to_unit_float(pick, *channel_ranges(arr))
    return Sample(pick.astype(np.float32), [f"ch{k}" for k in range(arr.shape[3])], nuclear_channel, idx)


def view_tables(recipe: Recipe, sample: Sample, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The factors measured on view 1 and on view 2 of every sampled cell (cell i's pair is seeded
    by (seed, i), so two recipes are compared on the same random draws where they share steps)."""
    maker = TwoViews(recipe)
    pairs = [maker(img, _seed_pair(seed, i)) for i, img in enumerate(sample.images)]
    one = measure(np.stack([p[0] for p in pairs]), sample.channels, sample.nuclear_channel)
    two = measure(np.stack([p[1] for p in pairs]), sample.channels, sample.nuclear_channel)
    return one, two


def _scores(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores of the pooled values of both views (ties share their mean rank)."""
    r = rankdata(np.concatenate([a, b]))
    z = ndtri((r - 0.5) / len(r))
    return z[:len(a)], z[len(a):]


def icc(a: np.ndarray, b: np.ndarray, boot: int = 0, seed: int = 0) -> tuple[float, float, float]:
    """ICC(1,1) of two measurements of the same cells on normal scores, and a bootstrap 90% interval
    over cells (`boot` resamples; NaN bounds without). Cells with a missing value are left out."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5 or np.ptp(np.concatenate([a[ok], b[ok]])) == 0:  # too few cells, or all alike
        return float("nan"), float("nan"), float("nan")
    za, zb = _scores(a[ok], b[ok])
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


def reference_table(sample: Sample, seed: int = 0) -> pd.DataFrame:
    """Agreement of each factor between two near-identical views (`REFERENCE`), made once per sample."""
    if sample._reference is None:
        sample._reference = agreements(*view_tables(REFERENCE, sample, seed), sample.factors)
    return sample._reference


def verdict(agreement: float, reference: float) -> str:
    """'keeps', 'partly' or 'drops' from the agreement relative to the reference; 'unclear' when the
    reference itself is low (the cells barely differ in the factor, or it cannot be measured well)."""
    if not np.isfinite(reference) or reference < MEASURABLE or not np.isfinite(agreement):
        return "unclear"
    rel = agreement / reference
    return "keeps" if rel >= KEEPS else ("partly" if rel >= PARTLY else "drops")


def explain(recipe: Recipe | str | Path, cells: CellSet | np.ndarray | Sample, n: int = 256, seed: int = 0,
            ranges: tuple | None = None, nuclear_channel: int = 0, boot: int = 200) -> pd.DataFrame:
    """What `recipe` teaches on `cells`: one row per factor with `factor`, `channel` (or None),
    `words` (plain name), `agreement` (ICC between the two views), `low` / `high` (bootstrap 90%
    interval over cells), `reference` (agreement of near-identical views), `relative`
    (agreement / reference), `verdict` ('keeps', 'partly', 'drops' or 'unclear') and `cells` used.

    `cells` is a CellSet (n random cells are drawn with `seed`), an `(N, H, W, C)` array, or a
    `Sample` (reused: its reference is measured once). Pure: no Streamlit, no files written.
    """
    rec = as_recipe(recipe)
    sample = sample_cells(cells, n, seed, ranges, nuclear_channel)
    fs = sample.factors
    table = agreements(*view_tables(rec, sample, seed), fs, boot)
    ref = reference_table(sample, seed).set_index("factor")["agreement"]
    table.insert(1, "channel", [f.channel if f.name.split(":")[0] in ("brightness", "contrast") else None for f in fs])
    table.insert(2, "words", [f.words for f in fs])
    table["reference"] = table["factor"].map(ref).astype(float)
    table["relative"] = (table["agreement"] / table["reference"]).clip(upper=1.0)
    table["verdict"] = [verdict(a, r) for a, r in zip(table["agreement"], table["reference"])]
    table.attrs.update(recipe=rec.name, cells=len(sample.images), seed=seed)
    return table


def _listing(names: list[str]) -> str:
    return ", ".join(names)


def explain_words(table: pd.DataFrame, recipe_name: str | None = None, subject: str | None = None) -> str:
    """Plain words for an `explain` table, e.g. 'Recipe microscopy-set-a teaches the encoder to
    ignore: brightness of Tubulin, orientation. It keeps: nucleus size, number of nuclei.'
    `subject` replaces the opening 'Recipe <name>' (e.g. '**Recipe A: microscopy-set-a**')."""
    name = recipe_name or table.attrs.get("recipe")
    who = subject or (f"Recipe {name}" if name else "This recipe")
    by = {v: table.loc[table["verdict"] == v, "words"].tolist() for v in ("drops", "partly", "keeps", "unclear")}
    parts = []
    if by["drops"]:
        parts.append(f"{who} teaches the encoder to ignore: {_listing(by['drops'])}.")
    else:
        parts.append(f"{who} scrambles none of the measured factors between its two views.")
    if by["partly"]:
        parts.append(f"It partly scrambles, so the encoder learns to rely less on: {_listing(by['partly'])}.")
    if by["keeps"]:
        parts.append(f"It keeps: {_listing(by['keeps'])}.")
    if by["unclear"]:
        parts.append(f"Not measurable on these cells (they barely differ in it): {_listing(by['unclear'])}.")
    return " ".join(parts)


def as_record(table: pd.DataFrame) -> dict[str, Any]:
    """A JSON-ready dict of an `explain` table: recipe, cells, and each factor by name."""
    rows = table.replace({np.nan: None}).to_dict(orient="records")
    return {"recipe": table.attrs.get("recipe"), "cells": table.attrs.get("cells"), "seed": table.attrs.get("seed"),
            "factors": {r.pop("factor"): r for r in rows}, "words": explain_words(table)}
