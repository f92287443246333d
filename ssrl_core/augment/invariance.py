"""What a recipe teaches, before any training: which readable factors its two views agree on.

Self-supervised learning makes the two views of a cell agree, so whatever a recipe changes between
the views the encoder is taught to ignore (Bendidi et al. 2024: the augmentations are a hidden
supervision). `explain(recipe, cells)` measures readable factors (`ssrl_core.augment.measures`:
each channel's brightness and contrast, the nucleus's size, position and orientation, the number of
nuclei, sharpness, fine texture, apparent scale) on both views of a few hundred cells and reports,
per factor, how well the views agree relative to how much cells differ (`agreement.icc`: the
intraclass correlation ICC(1,1), Shrout & Fleiss 1979, on normal scores). Near 1 the recipe keeps
the factor (the encoder may use it); near 0 it scrambles it (the encoder is taught to drop it).
A view must also still show the cell's own value (`shown`: a centre crop the same for both views
agrees with itself but hides the neighbouring nuclei), so a factor counts as kept as far as both
hold (`kept`).

The same factors are measured on two near-identical views (a shift of at most one pixel and faint
noise, `REFERENCE`): that is the best agreement the measurement itself allows on these cells
(the identity recipe gives exactly 1 by construction, so it says nothing). The verdict compares
what the recipe keeps with that reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet, channel_ranges, to_unit_float

from .agreement import agreements, shown
from .measures import Factor, factors, measure
from .presets import PRESETS, get_preset
from .recipe import Recipe, Step
from .views import TwoViews, _seed_pair

# Verdicts on agreement / reference. An ICC of 0.9 means the views differ by noise of a third of the
# spread between cells (sd ratio sqrt(0.1/0.9)); 0.5 means noise as large as that spread.
KEEPS, PARTLY = 0.9, 0.5  # >= KEEPS: keeps; < PARTLY: drops; between: partly
MEASURABLE = 0.5  # a reference below this: the cells barely differ in the factor, or it is noisy here
HIDDEN = 0.1  # a factor is hidden (not scrambled) when `shown` is this much below the views' agreement
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
    _original: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def factors(self) -> list[Factor]:
        return factors(self.channels, self.nuclear_channel)

    @property
    def original(self) -> pd.DataFrame:
        """The factors of the unaugmented cells (measured once)."""
        if self._original is None:
            self._original = measure(self.images, self.channels, self.nuclear_channel)
        return self._original


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


def shared_view_table(recipe: Recipe, sample: Sample, seed: int = 0) -> pd.DataFrame:
    """The factors of one view of every cell, all cells drawn with the same random numbers (the same
    angle, crop, jitter...): what the recipe removes, apart from how it varies from cell to cell."""
    maker = TwoViews(recipe)
    shared = _seed_pair(seed, 10**6)
    views = np.stack([maker(img, shared)[0] for img in sample.images])
    return measure(views, sample.channels, sample.nuclear_channel)


def kept_table(recipe: Recipe, sample: Sample, seed: int = 0, boot: int = 0) -> pd.DataFrame:
    """Per factor: `agreement` between the two views (with `low` / `high` and `cells`), `shown` (how
    well a view still shows the cell's own value) and `kept`, the smaller of the two: a factor the
    views scramble is taught away, one they hide cannot be learnt. `attrs["zoom"]`: how much larger
    the views show the cells than they are (median square root of the ratio of nucleus areas).

    `shown` is the agreement in order between the cells and one view of each drawn with the same
    random numbers for every cell (`shared_view_table`): a jitter or a rotation shared by all cells
    keeps the order of their brightness or size, a centre crop that cuts away the neighbouring nuclei
    does not keep the order of their number. Orientation has no `shown` (a shared rotation changes
    every angle alike: nothing is lost, yet the order of the angles is not kept)."""
    one, two = view_tables(recipe, sample, seed)
    table = agreements(one, two, sample.factors, boot)
    same = shared_view_table(recipe, sample, seed)
    circular = {"orientation"}
    table["shown"] = [np.nan if f.name in circular else shown(sample.original, same, f) for f in sample.factors]
    table["kept"] = np.where(table["shown"].isna(), table["agreement"], table[["agreement", "shown"]].min(axis=1))
    area = sample.original["nucleus_area"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sqrt(np.concatenate([one["nucleus_area"] / area, two["nucleus_area"] / area]))
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    table.attrs["zoom"] = float(np.median(ratio)) if len(ratio) else float("nan")
    return table


def reference_table(sample: Sample, seed: int = 0) -> pd.DataFrame:
    """`kept_table` of two near-identical views (`REFERENCE`), made once per sample."""
    if sample._reference is None:
        sample._reference = kept_table(REFERENCE, sample, seed)
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
    `words` (plain name), `agreement` (ICC between the two views), `low` / `high` (its bootstrap 90%
    interval over cells), `cells` used, `shown` (ICC between a cell and its views: low when a step
    that is the same for both views removes the factor), `kept` (the smaller of the two),
    `reference` (`kept` for two near-identical views), `relative` (kept / reference), `verdict`
    ('keeps', 'partly', 'drops' or 'unclear') and `hidden` (True when it is lost mostly because the
    views do not show the cell's own value, rather than because they disagree). `attrs`: recipe,
    cells, seed, zoom.

    `cells` is a CellSet (n random cells are drawn with `seed`), an `(N, H, W, C)` array, or a
    `Sample` (reused: its reference is measured once). Pure: no Streamlit, no files written.
    """
    rec = as_recipe(recipe)
    sample = sample_cells(cells, n, seed, ranges, nuclear_channel)
    fs = sample.factors
    table = kept_table(rec, sample, seed, boot)
    ref = reference_table(sample, seed).set_index("factor")["kept"]
    table.insert(1, "channel", [f.channel if f.name.split(":")[0] in ("brightness", "contrast") else None for f in fs])
    table.insert(2, "words", [f.words for f in fs])
    table["reference"] = table["factor"].map(ref).astype(float)
    table["relative"] = (table["kept"] / table["reference"]).clip(upper=1.0)
    table["verdict"] = [verdict(a, r) for a, r in zip(table["kept"], table["reference"])]
    table["hidden"] = (table["verdict"].isin(["drops", "partly"])
                       & (table["shown"] < table["agreement"] - HIDDEN)).to_numpy()
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
    hidden = table["hidden"] if "hidden" in table else pd.Series(False, index=table.index)
    by = {v: table.loc[(table["verdict"] == v) & ~hidden, "words"].tolist()
          for v in ("drops", "partly", "keeps", "unclear")}
    parts = []
    if by["drops"]:
        parts.append(f"{who} teaches the encoder to ignore: {_listing(by['drops'])}.")
    else:
        parts.append(f"{who} scrambles none of the measured factors between its two views.")
    if by["partly"]:
        parts.append(f"It partly scrambles, so the encoder learns to rely less on: {_listing(by['partly'])}.")
    if hidden.any():
        parts.append("Its views do not show the cell's own value (a step the same for both views removes it), "
                     f"so the encoder cannot learn: {_listing(table.loc[hidden, 'words'].tolist())}.")
    if by["keeps"]:
        parts.append(f"It keeps: {_listing(by['keeps'])}.")
    if by["unclear"]:
        parts.append(f"Not measurable on these cells (they barely differ in it): {_listing(by['unclear'])}.")
    zoom = table.attrs.get("zoom", 1.0)
    if np.isfinite(zoom) and not 0.8 <= zoom <= 1.25:
        parts.append(f"Its views show the cells about {zoom:.1f}x {'larger' if zoom > 1 else 'smaller'} than they "
                     "are: an encoder trained on them meets unaugmented cells at another scale.")
    return " ".join(parts)


def as_record(table: pd.DataFrame) -> dict[str, Any]:
    """A JSON-ready dict of an `explain` table: recipe, cells, and each factor by name."""
    rows = table.replace({np.nan: None}).to_dict(orient="records")
    return {"recipe": table.attrs.get("recipe"), "cells": table.attrs.get("cells"), "seed": table.attrs.get("seed"),
            "zoom": table.attrs.get("zoom"), "factors": {r.pop("factor"): r for r in rows},
            "words": explain_words(table)}
