"""The recipe advisor: which recipe keeps the factors you care about and scrambles the ones you don't.

A biologist marks factors to keep (the encoder should be able to use them) and factors to ignore
(the encoder should be taught to drop them, e.g. orientation or the position in the crop). With a
metadata column (compound, phenotype...), `group_effects` shows which measured factors differ
between its groups (Cohen's d on the unaugmented cells; a recipe that scrambles such a factor
teaches the encoder to drop what separates the groups, as set A's brightness jitter does with
tubulin brightness on BBBC021). `rank_recipes` scores every candidate recipe's invariance preview
(`invariance.explain`) against the wishes; `suggestions` adds, for each wanted factor the recipe
scrambles, the recipe with the smallest change that keeps it (`attribution.smallest_change`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kruskal

from ssrl_core.data.cellset import CellSet, channel_ranges, to_unit_float

from .attribution import Change, _Measurer, apply_changes, changes_words, smallest_change
from .invariance import KEEPS, Sample, explain, sample_cells
from .measures import factors, measure
from .presets import PRESETS, get_preset
from .recipe import Recipe, channel_problems

LARGE, MEDIUM = 0.8, 0.5  # Cohen's conventional large and medium effects (|d|)


def group_effects(cells: CellSet, column: str, per_group: int = 200, seed: int = 0, ranges: tuple | None = None,
                  nuclear_channel: int = 0, max_groups: int = 20) -> pd.DataFrame:
    """How much each factor differs between the groups of `column`, on up to `per_group` random
    unaugmented cells per group: `factor`, `words`, `group` (the group that differs most from the
    others), `d` (its Cohen's d against all the other cells, pooled standard deviation), `p`
    (Kruskal-Wallis across all groups), `size` ('large' |d| >= 0.8, 'medium' >= 0.5, else 'small'),
    sorted by |d|. A factor of two columns (orientation) reports the larger."""
    if column not in cells.meta.columns:
        raise KeyError(f"no metadata column {column!r}; columns are {list(cells.meta.columns)}")
    labels = cells.meta[column].astype(str).to_numpy()
    groups, counts = np.unique(labels, return_counts=True)
    if len(groups) < 2:
        raise ValueError(f"column {column!r} has one group only ({groups[0] if len(groups) else 'none'}): "
                         "nothing to compare")
    if len(groups) > max_groups:
        raise ValueError(f"column {column!r} has {len(groups)} groups; choose a column with at most {max_groups}")
    rng = np.random.default_rng(seed)
    idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == g), min(per_group, c), replace=False)
                                  for g, c in zip(groups, counts)]))
    lo, hi = ranges if ranges is not None else channel_ranges(cells.images)
    images = to_unit_float(np.asarray(cells.images[idx]), lo, hi)
    table = measure(images, list(cells.channels), nuclear_channel)
    lab = labels[idx]
    rows = []
    for f in factors(list(cells.channels), nuclear_channel):
        best = {"d": 0.0, "group": "", "p": float("nan")}
        for col in f.columns:
            v = table[col].to_numpy(dtype=float)
            ok = np.isfinite(v)
            parts = [v[ok & (lab == g)] for g in groups]
            if sum(len(p) > 1 for p in parts) < 2:
                continue
            p = float(kruskal(*[x for x in parts if len(x)]).pvalue) if np.ptp(v[ok]) > 0 else 1.0
            for g in groups:
                d = cohens_d(v[ok & (lab == g)], v[ok & (lab != g)])
                if np.isfinite(d) and abs(d) > abs(best["d"]):
                    best = {"d": d, "group": g, "p": p}
        size = "large" if abs(best["d"]) >= LARGE else ("medium" if abs(best["d"]) >= MEDIUM else "small")
        rows.append({"factor": f.name, "words": f.words, "group": best["group"], "d": float(best["d"]),
                     "p": best["p"], "size": size})
    out = pd.DataFrame(rows)
    return out.reindex(out["d"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's d of a against b with the pooled standard deviation (NaN with fewer than 2 each)."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else 0.0


def match(table: pd.DataFrame, keep: list[str], ignore: list[str]) -> dict:
    """How well one `explain` table fits the wishes: `score` (mean over the wishes of agreement /
    reference for a factor to keep and 1 - it for one to ignore, 1 = a perfect fit), `misses` (the
    factors it does not treat as wished, in words: to keep but not kept, to ignore but kept)."""
    t = table.set_index("factor")
    unknown = [f for f in [*keep, *ignore] if f not in t.index]
    if unknown:
        raise KeyError(f"unknown factor(s) {unknown}; the factors are {list(t.index)}")
    parts = [float(t.loc[f, "relative"]) for f in keep] + [1 - float(t.loc[f, "relative"]) for f in ignore]
    misses = [t.loc[f, "words"] for f in keep if t.loc[f, "verdict"] != "keeps"]
    misses += [t.loc[f, "words"] for f in ignore if t.loc[f, "verdict"] == "keeps"]
    return {"score": float(np.mean(parts)) if parts else float("nan"), "misses": misses}


def suggestions(recipe: Recipe, cells, keep: list[str], n: int = 128, seed: int = 0, ranges: tuple | None = None,
                nuclear_channel: int = 0) -> dict[str, Recipe]:
    """For each factor in `keep` that `recipe` does not keep, the recipe with the smallest change that
    keeps it, named by the change; and, when there are several, all the changes at once."""
    sample = sample_cells(cells, n, seed, ranges, nuclear_channel)
    m = _Measurer(recipe, sample, seed)
    base = m.relative()
    out: dict[str, Recipe] = {}
    merged: dict[tuple[int, str], Change] = {}
    for f in keep:
        if f not in base.index or base[f] >= KEEPS:
            continue
        fix = smallest_change(recipe, f, None, _m=m)
        if fix.changes:
            changed = apply_changes(recipe, fix.changes)
            changed.name = f"{recipe.name} with {changes_words(recipe, fix.changes)}"
            out[changed.name] = changed
            for c in fix.changes:
                merged[(c.step, c.param)] = _stronger(merged.get((c.step, c.param)), c)
    if len(out) > 1:
        off = {step for (step, param), c in merged.items() if param == "enabled"}
        together = tuple(c for (step, param), c in merged.items() if step not in off or param == "enabled")
        both = apply_changes(recipe, together)
        both.name = f"{recipe.name} with {changes_words(recipe, together)}"
        out[both.name] = both
    return out


def _stronger(old: Change | None, new: Change) -> Change:
    """Of two changes of one parameter, the one further from the recipe's own value."""
    if old is None:
        return new
    if new.param in ("enabled", "draw"):
        return new
    dist = lambda c: float(np.abs(np.subtract(c.new, c.old)).sum())  # noqa: E731
    return new if dist(new) > dist(old) else old


def presets_for(channels: int) -> dict[str, Recipe]:
    """The presets that can run on images with this many channels."""
    return {name: get_preset(name) for name, r in PRESETS.items() if not channel_problems(r, channels)}


def rank_recipes(candidates: dict[str, Recipe], cells, keep: list[str], ignore: list[str], n: int = 256,
                 seed: int = 0, ranges: tuple | None = None, nuclear_channel: int = 0) -> pd.DataFrame:
    """Every candidate's preview scored against the wishes, best first: `recipe` (its label),
    `score`, `misses` (in words), `fits` (no miss), `keeps`, `drops` (what it keeps and scrambles,
    in words). The same cells and random draws for every candidate."""
    if not keep and not ignore:
        raise ValueError("mark at least one factor to keep or to ignore")
    sample: Sample = sample_cells(cells, n, seed, ranges, nuclear_channel)
    rows = []
    for label, recipe in candidates.items():
        table = explain(recipe, sample, seed=seed, boot=0)
        fit = match(table, keep, ignore)
        rows.append({"recipe": label, "score": fit["score"], "misses": fit["misses"], "fits": not fit["misses"],
                     "keeps": table.loc[table["verdict"] == "keeps", "words"].tolist(),
                     "drops": table.loc[table["verdict"].isin(["drops", "partly"]), "words"].tolist()})
    out = pd.DataFrame(rows)
    out["n_misses"] = out["misses"].apply(len)
    out = out.sort_values(["n_misses", "score"], ascending=[True, False])
    return out.drop(columns="n_misses").reset_index(drop=True)
