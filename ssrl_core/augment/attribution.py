"""Which step of a recipe scrambles a factor, and the smallest change that keeps it.

For every factor the invariance preview finds scrambled (`invariance.explain`: verdict 'drops' or
'partly'), each enabled step is left out in turn (an ablation, as in the paper's sections 3.3-3.4
where sets are built by adding or removing transformations): the steps whose removal raises the
factor's agreement are responsible. Then, for those steps only, changes are tried from the smallest
up: one strength parameter moved towards "no change" by a quarter, a half, three quarters, nine
tenths (e.g. brightness jitter 0.4 -> 0.3 -> 0.2 -> 0.1 -> 0.04), all of the step's strengths
together, the step drawn
once for both views ('same for both views'), the step turned off; and, when no change of one step
is enough (orientation is scrambled by the flips and the rotation together), the same change of all
the responsible steps at once. The first change that brings the factor back to 'keeps' is the
answer. Every candidate is measured on the same cells with the same random draws.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .catalog import CATALOG
from .invariance import KEEPS, MEASURABLE, Sample, as_recipe, kept_table, reference_table, sample_cells
from .recipe import Recipe, step_problems

# Per transform, each strength parameter and its "no change" value (a range: both ends).
NEUTRAL: dict[str, dict[str, Any]] = {
    "brightness_contrast": {"brightness": 0.0, "contrast": 0.0},
    "rotate": {"degrees": 0.0},
    "affine": {"scale": [1.0, 1.0], "translate": 0.0, "shear": 0.0},
    "random_resized_crop": {"scale": [1.0, 1.0], "ratio": [1.0, 1.0]},
    "random_crop": {"fraction": 1.0},
    "gaussian_blur": {"sigma": [0.05, 0.05]},
    "gaussian_noise": {"std": [0.0, 0.0]},
    "random_erasing": {"scale": [0.001, 0.001]},
    "hue_saturation": {"hue": 0.0, "saturation": 0.0},
}
LEVELS = (0.75, 0.5, 0.25, 0.1)  # share of the distance to "no change" that is kept
GAIN = 0.1  # leaving a step out must raise agreement / reference by this much to count (above noise)


@dataclass(frozen=True, eq=True)
class Change:
    """One edit of one step: `param` is a strength parameter, 'p', 'draw' or 'enabled'."""

    step: int
    param: str
    old: Any
    new: Any

    def words(self, recipe: Recipe) -> str:
        s = recipe.steps[self.step]
        title = CATALOG[s.name].title if s.name in CATALOG else s.name
        if self.param == "enabled":
            return f"{title}: turned off"
        if self.param == "draw":
            return f"{title}: the same for both views"
        label = "how often" if self.param == "p" else (CATALOG[s.name].params[self.param].label or self.param).lower()
        return f"{title}: {label} {_fmt(self.old)} -> {_fmt(self.new)}"


def _fmt(v: Any) -> str:
    return f"{v[0]:g} to {v[1]:g}" if isinstance(v, (list, tuple)) else f"{v:g}"


def _toward(old: Any, neutral: Any, keep: float) -> Any:
    if isinstance(old, (list, tuple)):
        return [round(n + keep * (o - n), 3) for o, n in zip(old, neutral)]
    return round(neutral + keep * (old - neutral), 3)


def apply_changes(recipe: Recipe, changes: tuple[Change, ...] | list[Change]) -> Recipe:
    """A copy of `recipe` with the changes made (named '<name> (changed)'); the rest unchanged."""
    out = recipe.copy()
    for c in changes:
        s = out.steps[c.step]
        if c.param == "enabled":
            s.enabled = bool(c.new)
        elif c.param == "draw":
            s.draw = str(c.new)
        elif c.param == "p":
            s.p = float(c.new)
        else:
            s.params[c.param] = copy.deepcopy(c.new)
    if changes and not out.name.endswith("(changed)"):
        out.name = f"{out.name} (changed)"
    return out


def _strengths(s) -> dict[str, Any]:
    return {k: v for k, v in NEUTRAL.get(s.name, {}).items() if k in s.params and s.params[k] != v}


def step_level(recipe: Recipe, i: int, level: float | str) -> tuple[Change, ...]:
    """Every strength of step `i` moved to `level` of its distance from "no change" (a step without
    strength: how often it is applied); `level` 'pair' draws it once for both views, 'off' turns it off."""
    s = recipe.steps[i]
    if level == "off":
        return (Change(i, "enabled", True, False),)
    if level == "pair":
        return (Change(i, "draw", s.draw, "pair"),) if s.draw != "pair" else ()
    strengths = _strengths(s)
    if not strengths:
        return (Change(i, "p", s.p, round(s.p * float(level), 3)),)
    return tuple(Change(i, k, s.params[k], _toward(s.params[k], n, float(level))) for k, n in strengths.items())


def step_changes(recipe: Recipe, i: int) -> list[tuple[float, tuple[Change, ...]]]:
    """The candidate changes of step `i`, each with its size (0 = none, 1 = the step turned off):
    one strength at a time, then all of them, at each of `LEVELS`; the same draw for both views; off."""
    s = recipe.steps[i]
    strengths = _strengths(s)
    out: list[tuple[float, tuple[Change, ...]]] = []
    for level in LEVELS:
        if len(strengths) > 1:
            out += [(1 - level, (Change(i, k, s.params[k], _toward(s.params[k], n, level)),))
                    for k, n in strengths.items()]
        out.append((1 - level + (0.01 if len(strengths) > 1 else 0.0), step_level(recipe, i, level)))
    out += [(0.9, step_level(recipe, i, "pair")), (1.0, step_level(recipe, i, "off"))]
    return sorted(((size, ch) for size, ch in out if ch and not step_problems(apply_changes(recipe, ch).steps[i])),
                  key=lambda x: x[0])


class _Measurer:
    """Agreement / reference of every factor for recipes derived from one recipe (cached by change)."""

    def __init__(self, recipe: Recipe, sample: Sample, seed: int):
        self.recipe, self.sample, self.seed = recipe, sample, seed
        self.ref = reference_table(sample, seed).set_index("factor")["kept"]
        self.cache: dict[tuple, pd.Series] = {}

    def relative(self, changes: tuple[Change, ...] = ()) -> pd.Series:
        key = repr(changes)  # values may be lists (ranges): the text is the key
        if key not in self.cache:
            table = kept_table(apply_changes(self.recipe, changes), self.sample, self.seed)
            self.cache[key] = (table.set_index("factor")["kept"] / self.ref).clip(upper=1.0)
        return self.cache[key]


def _on(recipe: Recipe) -> list[int]:
    return [i for i, s in enumerate(recipe.steps) if s.enabled and s.p > 0]


def _off(steps) -> tuple[Change, ...]:
    return tuple(Change(i, "enabled", True, False) for i in sorted(steps))


def step_effects(recipe: Recipe | str, cells, n: int = 128, seed: int = 0, ranges: tuple | None = None,
                 nuclear_channel: int = 0) -> pd.DataFrame:
    """What each enabled step does to each factor: one row per (factor, step) with `step` (its
    index), `title`, `alone` (agreement / reference with only that step on), `without` (with that
    step left out), `base` (the whole recipe) and `responsible`. Two variants of the recipe per step
    are measured (a few seconds for 128 cells); see `responsible_steps` for the rule."""
    rec = as_recipe(recipe)
    m = _Measurer(rec, sample_cells(cells, n, seed, ranges, nuclear_channel), seed)
    return _effects(m)


def _effects(m: _Measurer) -> pd.DataFrame:
    rec, base, on = m.recipe, m.relative(), _on(m.recipe)
    rows = []
    for i in on:
        alone = m.relative(_off([j for j in on if j != i])) if len(on) > 1 else base
        without = m.relative(_off([i]))
        for f in base.index:
            rows.append({"factor": f, "step": i, "title": CATALOG[rec.steps[i].name].title,
                         "alone": float(alone[f]), "without": float(without[f]), "base": float(base[f])})
    out = pd.DataFrame(rows, columns=["factor", "step", "title", "alone", "without", "base"])
    out["responsible"] = False
    for f, part in out.groupby("factor", sort=False):
        out.loc[part.index, "responsible"] = part["step"].isin(responsible_steps(part)).to_numpy()
    return out


def responsible_steps(part: pd.DataFrame) -> list[int]:
    """The steps responsible for one factor's scrambling, from its rows of the effects table: those
    that scramble it on their own (`alone` below 'keeps'); when none does (steps that only scramble it
    together), those whose removal gains at least `GAIN` (leaving a step out also changes the random
    draws of the steps after it, so smaller gains are noise), else every step that changes it at all."""
    if part.empty or part["base"].iloc[0] >= KEEPS:
        return []
    for rule in (part["alone"] < KEEPS, part["without"] - part["base"] >= GAIN, part["alone"] < 0.98):
        if rule.any():
            return [int(i) for i in part.loc[rule].sort_values("alone")["step"]]
    return []


def changes_words(recipe: Recipe, changes: tuple[Change, ...]) -> str:
    """The changes in words, one clause per step, e.g. 'Brightness/contrast jitter: brightness 0.4 -> 0.1'."""
    by_step: dict[int, list[str]] = {}
    for c in changes:
        title, _, what = c.words(recipe).partition(": ")
        by_step.setdefault(c.step, [title]).append(what)
    return "; ".join(f"{parts[0]}: {', '.join(parts[1:])}" for parts in by_step.values())


@dataclass
class Fix:
    """The smallest change found to keep `factor`: `changes` (empty when none was found), their
    words, the factor's agreement / reference after it, and its side effects in words."""

    factor: str
    steps: list[str]
    changes: tuple[Change, ...]
    words: str
    relative_after: float
    also_keeps: list[str]
    loses: list[str]


def smallest_change(recipe: Recipe | str, factor: str, cells, n: int = 128, seed: int = 0,
                    ranges: tuple | None = None, nuclear_channel: int = 0,
                    effects: pd.DataFrame | None = None, _m: _Measurer | None = None) -> Fix:
    """The smallest change of the steps responsible for `factor` (see `step_effects`) that brings it
    back to 'keeps': for one responsible step, its candidates from the smallest up (`step_changes`);
    for several, the same level of change made to all of them at once. `cells` and `seed` must be
    those of `effects` when it is given."""
    rec = as_recipe(recipe)
    m = _m or _Measurer(rec, sample_cells(cells, n, seed, ranges, nuclear_channel), seed)
    eff = _effects(m) if effects is None else effects
    mine = eff.loc[eff["factor"] == factor]
    resp = [int(i) for i in mine.loc[mine["responsible"]].sort_values("alone")["step"]]
    for i in mine.sort_values("without", ascending=False)["step"]:  # what is needed to keep it, when those are not
        if not resp or m.relative(_off(resp))[factor] >= KEEPS:
            break
        if int(i) not in resp:
            resp.append(int(i))
    found = _search(rec, m, factor, resp)
    base = m.relative()
    after = m.relative(found) if found else base
    words = dict(zip((f.name for f in m.sample.factors), (f.words for f in m.sample.factors)))
    return Fix(factor, [CATALOG[rec.steps[i].name].title for i in resp], found, changes_words(rec, found),
               float(after[factor]),
               [words[g] for g in base.index if g != factor and found and base[g] < KEEPS <= after[g]],
               [words[g] for g in base.index if found and base[g] >= KEEPS > after[g]])


def diagnose(recipe: Recipe | str, cells, n: int = 128, seed: int = 0, ranges: tuple | None = None,
             nuclear_channel: int = 0) -> pd.DataFrame:
    """`smallest_change` for every factor the recipe scrambles ('drops' or 'partly'), sharing one set
    of measurements: columns `factor`, `words`, `relative`, `steps`, `together`, `changes`,
    `change_words`, `relative_after`, `also_keeps`, `loses`."""
    rec = as_recipe(recipe)
    m = _Measurer(rec, sample_cells(cells, n, seed, ranges, nuclear_channel), seed)
    eff = _effects(m)
    base = m.relative()
    words = {f.name: f.words for f in m.sample.factors}
    rows = []
    for f in [f for f in base.index if base[f] < KEEPS and m.ref[f] >= MEASURABLE]:
        fix = smallest_change(rec, f, None, effects=eff, _m=m)
        rows.append({"factor": f, "words": words[f], "relative": float(base[f]), "steps": fix.steps,
                     "together": len(fix.steps) > 1, "changes": fix.changes, "change_words": fix.words,
                     "relative_after": fix.relative_after, "also_keeps": fix.also_keeps, "loses": fix.loses})
    return pd.DataFrame(rows, columns=["factor", "words", "relative", "steps", "together", "changes",
                                       "change_words", "relative_after", "also_keeps", "loses"])


def _search(rec: Recipe, m: _Measurer, factor: str, resp: list[int]) -> tuple[Change, ...]:
    """The smallest change of the responsible step that keeps `factor`; for several responsible
    steps, the smallest change made to all of them at once."""
    if len(resp) == 1:
        for _, changes in step_changes(rec, resp[0]):
            if m.relative(changes)[factor] >= KEEPS:
                return changes
    elif resp:
        for level in (*LEVELS, "pair", "off"):
            combo = tuple(c for i in resp for c in step_level(rec, i, level)
                          if not step_problems(apply_changes(rec, (c,)).steps[i]))
            if combo and m.relative(combo)[factor] >= KEEPS:
                return combo
    return ()


def explain_fix(fix: Fix | pd.Series | dict, words: str | None = None) -> str:
    """One plain sentence for a `Fix` (or a row of `diagnose`)."""
    get = (lambda k: getattr(fix, k)) if isinstance(fix, Fix) else (lambda k: fix[k])  # noqa: E731
    name = words or (fix["words"] if not isinstance(fix, Fix) else fix.factor)
    steps = get("steps")
    by = ("scrambled by " + (" + ".join(steps) + " together" if len(steps) > 1 else steps[0])) if steps else "scrambled"
    text = get("words") if isinstance(fix, Fix) else get("change_words")
    if not get("changes"):
        return f"{name}: {by}; no change of those steps keeps it."
    extra = f" (it also keeps {', '.join(get('also_keeps'))})" if get("also_keeps") else ""
    cost = f"; but it scrambles {', '.join(get('loses'))}" if get("loses") else ""
    return f"{name}: {by}. {text} keeps it{extra}; the rest of the recipe unchanged{cost}."


def summary(diag: pd.DataFrame) -> list[str]:
    """The `explain_fix` sentence of every row of `diagnose`."""
    return [explain_fix(r) for _, r in diag.iterrows()]
