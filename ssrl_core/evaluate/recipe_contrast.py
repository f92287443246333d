"""Two recipes that differ in one step: what the preview says before training, what training did.

The paper's finding (Bendidi et al. 2024) is that the augmentations are a hidden supervision: what
a recipe changes between the two views of a cell, the encoder learns to ignore. A contrast makes it
visible with one change. Two recipes that differ in a single step are
1. previewed before any training (`ssrl_core.augment.invariance.explain`: how well each readable
   factor agrees between the two views; the preview names the factor one recipe keeps and the other
   scrambles), and
2. checked after training: encoders fine-tuned with each recipe (several seeds) are scored on cells
   they never saw under the one evaluation protocol (`protocol.evaluate_cells`: per-plate
   normalisation to the controls, median AMI over K-Means runs), together with how much of the
   factor their embedding still holds (a cosine 10-NN regression of the factor, folds by well,
   cross-validated R^2).

`build` measures everything once (about a minute on a 2-core CPU); `save` / `load` keep the result
as plain JSON next to the shipped checkpoints, so the Home page draws it at once (`load` refuses a
result whose shipped checkpoints changed since). `CASE` is the shipped contrast: set A's
brightness/contrast jitter 0.4 against 0.1 on BBBC021, where tubulin brightness alone separates
cycloheximide from DMSO.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

from ssrl_core import paths
from ssrl_core.data.cellset import to_unit_float
from ssrl_core.data.registry import load_dataset
from ssrl_core.data.rules import rule_mask
from ssrl_core.evaluate.verdicts import compare_words, differs
from ssrl_core.io import atomic_write_json, sha256_file
from ssrl_core.models.shipped import shipped_checkpoints

FILE = "demo_contrast.json"
VERSION = 1
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Case:
    """One contrast: the data, the held-out cells, the column and factor it is about, the two recipes."""

    name: str
    dataset: str
    heldout: dict[str, list]  # the cells never trained on: one `ssrl_core.data.rules` clause
    heldout_words: str
    column: str  # the grouping the encoders should separate (e.g. compound)
    factor: str  # the factor the one changed step keeps or scrambles (a `measures.factors` name)
    labels: tuple[str, str]  # short names of the two recipes
    checkpoints: tuple[str, str]  # shipped encoder of each recipe (seed 0)
    training: str  # how the encoders were trained, in words
    extra_seeds: tuple[int, ...] = (1, 2)

    def config_paths(self) -> tuple[Path, Path]:
        """The training config of each recipe's encoder (`configs/pretrained/<checkpoint>.yaml`)."""
        return tuple(paths.PROJECT_ROOT / "configs" / "pretrained" / f"{c}.yaml" for c in self.checkpoints)


CASE = Case(
    name="bbbc021_jitter", dataset="bbbc021_week4_dmso_cycloheximide",
    heldout={"plate": ["Week4_27801"]},
    heldout_words="plate Week4_27801 (DMSO and cycloheximide at 3 doses), never trained on",
    column="compound", factor="brightness:Tubulin", labels=("jitter 0.4", "jitter 0.1"),
    checkpoints=("bbbc021_jitter_strong", "bbbc021_jitter_weak"),
    training="cells_base fine-tuned for 120 SimCLR steps on the DMSO-only plate Week4_27481")


def recipe_of(config: Path) -> dict[str, Any]:
    """The (single, inline) recipe of a training config, as plain data."""
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    entry = cfg["recipes"][0]
    if "recipe" in entry and entry["recipe"]:
        return entry["recipe"]
    from ssrl_core.augment import get_preset
    return get_preset(entry["preset"]).to_dict()


def step_changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Where two recipes differ, step by step: one row per differing setting (step, setting, a, b)."""
    out = []
    steps_a = {s["name"]: s for s in a.get("steps", [])}
    steps_b = {s["name"]: s for s in b.get("steps", [])}
    for name in [*steps_a, *[n for n in steps_b if n not in steps_a]]:
        sa, sb = steps_a.get(name), steps_b.get(name)
        if sa is None or sb is None:
            out.append({"step": name, "setting": "used", "a": sa is not None, "b": sb is not None})
            continue
        for key in ("p", "enabled"):
            if sa.get(key) != sb.get(key):
                out.append({"step": name, "setting": key, "a": sa.get(key), "b": sb.get(key)})
        pa, pb = sa.get("params") or {}, sb.get("params") or {}
        for key in [*pa, *[k for k in pb if k not in pa]]:
            if pa.get(key) != pb.get(key):
                out.append({"step": name, "setting": key, "a": pa.get(key), "b": pb.get(key)})
    return out


def heldout_subset(cells, case: Case = CASE):
    """The held-out cells of `case` (its filter rules), metadata re-indexed from 0."""

    out = cells.subset(np.flatnonzero(rule_mask(cells.meta, [case.heldout])))
    out.meta = out.meta.reset_index(drop=True)
    return out


def factor_values(cells, factor: str) -> np.ndarray:
    """The factor measured on the unaugmented crops (the whole dataset's channel ranges)."""
    from ssrl_core.augment.measures import measure_factor

    lo, hi = cells.ranges()
    return measure_factor(to_unit_float(np.asarray(cells.images), lo, hi), list(cells.channels), factor)


def factor_r2(features: np.ndarray, values: np.ndarray, folds: int = 5) -> float:
    """How much of a factor the embedding holds: out-of-fold R^2 (5 folds of cells, seeded) of a cosine
    10-NN regression of the factor's normal scores, features standardised in each fold. This asks what
    shapes the embedding's neighbourhoods (what clustering sees), as `benchmarks/invariance_preview.py`
    does; folds by well would ask something else (a cycloheximide well's brightness is not a DMSO well's)."""
    from scipy.special import ndtri
    from scipy.stats import rankdata
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ok = np.isfinite(values)
    y = ndtri((rankdata(values[ok]) - 0.5) / ok.sum())
    model = make_pipeline(StandardScaler(), KNeighborsRegressor(10, metric="cosine"))
    cv = KFold(folds, shuffle=True, random_state=0)
    return float(cross_val_score(model, features[ok], y, cv=cv, scoring="r2").mean())


def score_encoder(features: np.ndarray, meta: pd.DataFrame, values: np.ndarray, case: Case = CASE) -> dict[str, float]:
    """One encoder under the protocol: median AMI with `case.column` (k = its groups), its spread over
    K-Means runs and chance level, and the factor's R^2 from the embedding."""
    from ssrl_core.evaluate.protocol import evaluate_cells

    cm = evaluate_cells(features, meta, case.column, probe=False, raw=False)["cluster"]
    return {"ami": float(cm["ami"]), "ami_spread": float(cm["ami_spread"]), "chance95": float(cm["chance95"]),
            "factor_r2": factor_r2(features, values)}


def preview(case: Case, cells, n: int = 256, seed: int = 0) -> pd.DataFrame:
    """The invariance preview of both recipes on the same `n` held-out cells: one row per factor with
    its plain words, and `kept` and `verdict` for each recipe."""
    from ssrl_core.augment import Recipe
    from ssrl_core.augment.invariance import explain, sample_cells

    sample = sample_cells(cells, n, seed, ranges=cells.ranges())
    rows = None
    for label, config in zip(case.labels, case.config_paths()):
        t = explain(Recipe.from_dict(recipe_of(config)), sample, seed=seed, boot=0)
        part = t[["factor", "words", "kept", "verdict"]].rename(columns={"kept": f"kept|{label}",
                                                                        "verdict": f"verdict|{label}"})
        rows = part if rows is None else rows.merge(part, on=["factor", "words"])
    return rows


def _mean_sd(values: list[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def build(seeds: dict[str, list[Path]], case: Case = CASE, cells=None, preview_cells: int = 256,
          maps: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """Measure the contrast: the preview of both recipes, every encoder in `seeds` (label -> checkpoints,
    seed 0 first) on the held-out cells, and the maps of the seed-0 encoders. JSON-ready."""
    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.evaluate.projection import project

    say = progress or (lambda _f, _m: None)
    say(0.0, "loading the held-out cells")
    cells = heldout_subset(cells if cells is not None else load_dataset(case.dataset), case)
    meta = cells.meta
    values = factor_values(cells, case.factor)
    say(0.1, "previewing both recipes (before any training)")
    table = preview(case, cells, preview_cells)
    recipes = [recipe_of(p) for p in case.config_paths()]
    out: dict[str, Any] = {
        "version": VERSION, "case": case.name, "dataset": case.dataset, "column": case.column,
        "factor": case.factor, "labels": list(case.labels), "checkpoints": list(case.checkpoints),
        "heldout": case.heldout_words, "training": case.training, "cells": len(cells),
        "groups": {str(k): int(v) for k, v in meta[case.column].astype(str).value_counts().items()},
        "changes": step_changes(*recipes), "recipes": [r.get("name") for r in recipes],
        "preview": {"cells": min(preview_cells, len(cells)), "factors": table.replace({np.nan: None}).to_dict("records")},
        "seeds": {}, "summary": {}, "maps": {}, "sha256": {}}
    total = sum(len(v) for v in seeds.values())
    done = 0
    for label, ckpts in seeds.items():
        rows = []
        for k, ckpt in enumerate(ckpts):
            say(0.2 + 0.6 * done / max(total, 1), f"embedding with {label}, seed {k}")
            feats = embed(cells, str(ckpt))
            rows.append({"seed": k, **score_encoder(feats, meta, values, case)})
            if k == 0:
                out["sha256"][label] = sha256_file(ckpt)
                if maps:
                    say(0.2 + 0.6 * done / max(total, 1), f"mapping the cells ({label})")
                    xy = project(feats, method="umap", seed=0)
                    out["maps"][label] = np.round(xy, 3).tolist()
            done += 1
        out["seeds"][label] = rows
        ami, ami_sd = _mean_sd([r["ami"] for r in rows])
        r2, r2_sd = _mean_sd([r["factor_r2"] for r in rows])
        out["summary"][label] = {"ami": ami, "ami_sd": ami_sd, "ami_spread": float(np.median([r["ami_spread"] for r in rows])),
                                 "chance95": float(max(r["chance95"] for r in rows)), "factor_r2": r2,
                                 "factor_r2_sd": r2_sd, "seeds": len(rows)}
    out["points"] = {case.column: meta[case.column].astype(str).tolist(),
                     "factor": np.round(values, 4).tolist(),
                     "well": meta["well"].astype(str).tolist() if "well" in meta.columns else None}
    say(1.0, "done")
    return out


def change_words(changes: list[dict[str, Any]]) -> str:
    """'brightness contrast: brightness 0.4 -> 0.1, contrast 0.4 -> 0.1' (settings grouped by step)."""
    steps: dict[str, list[str]] = {}
    for c in changes:
        steps.setdefault(c["step"].replace("_", " "), []).append(f"{c['setting']} {c['a']} -> {c['b']}")
    return "; ".join(f"{step}: {', '.join(parts)}" for step, parts in steps.items())


def verdict(result: dict[str, Any]) -> dict[str, str]:
    """Plain words: what the preview said before training, and whether training confirmed it."""

    a, b = result["labels"]
    row = next(r for r in result["preview"]["factors"] if r["factor"] == result["factor"])
    words = row["words"]
    ka, kb = row[f"kept|{a}"], row[f"kept|{b}"]
    keeper, loser = (b, a) if kb > ka else (a, b)
    change = change_words(result["changes"])
    before = (f"The recipes differ in one step ({change}). Before any training, the preview says {keeper} keeps "
              f"the {words} ({max(ka, kb):.2f} agreement between views, {row['verdict|' + keeper]}) and {loser} "
              f"scrambles it ({min(ka, kb):.2f}, {row['verdict|' + loser]}), so an encoder trained with {loser} "
              f"should hold less of it.")
    s = result["summary"]
    spread_a = max(s[a]["ami_sd"], s[a]["ami_spread"])
    spread_b = max(s[b]["ami_sd"], s[b]["ami_spread"])
    what = f"agreement of the clusters with the {result['column']} (AMI, mean of {s[a]['seeds']} seeds)"
    after = compare_words(a, s[a]["ami"], b, s[b]["ami"], what, spread_a, spread_b, max(s[a]["chance95"], s[b]["chance95"]))
    held = (f"Its embedding holds the {words} with R^2 {s[keeper]['factor_r2']:.2f} ± {s[keeper]['factor_r2_sd']:.2f} "
            f"({keeper}) against {s[loser]['factor_r2']:.2f} ± {s[loser]['factor_r2_sd']:.2f} ({loser}).")
    confirmed = (differs(s[keeper]["factor_r2"], s[loser]["factor_r2"], s[keeper]["factor_r2_sd"], s[loser]["factor_r2_sd"])
                 and s[keeper]["factor_r2"] > s[loser]["factor_r2"])
    return {"before": before, "after": after, "held": held,
            "confirmed": "yes" if confirmed else "no", "keeper": keeper, "loser": loser}


def save(result: dict[str, Any], folder: str | Path | None = None) -> Path:
    """Write the result next to the shipped checkpoints (atomic)."""
    return atomic_write_json(Path(folder or paths.pretrained_dir()) / FILE, result)


def load(folder: str | Path | None = None, case: Case = CASE) -> dict[str, Any] | None:
    """The saved result, or None when absent, of another version, or made with other checkpoints than
    the shipped ones (their sha256 differs)."""
    import json


    folder = Path(folder or paths.pretrained_dir())
    path = folder / FILE
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if result.get("version") != VERSION or result.get("case") != case.name:
        return None
    ships = {c["name"]: c for c in shipped_checkpoints(folder)}
    for label, name in zip(case.labels, case.checkpoints):
        if name not in ships or ships[name].get("sha256") != result.get("sha256", {}).get(label):
            return None
    return result
