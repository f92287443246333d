"""`ssrl recipe list | explain`: the shipped presets, and what a recipe teaches the encoder, before any training.

`ssrl recipe list [--json]` names each preset with its steps and its description (the preset's
own, `ssrl_core.augment.presets`; the Augment page shows the same text).

`ssrl recipe explain RECIPE --data NAME [--where COL=VAL ...] [--cells 256] [--why] [--json]`
measures readable factors (each channel's brightness and contrast, nucleus size, position and
orientation, number of nuclei, sharpness, texture, apparent scale) on both views of a sample of
the cells and reports, per factor, how well the two views agree and whether they still show the cell's own value
(`ssrl_core.augment.invariance`).
RECIPE is a preset name (`microscopy-set-a`) or a recipe YAML file. `--why` adds, for each
scrambled factor, the responsible steps and the smallest change that keeps it
(`ssrl_core.augment.attribution`). With `--json`, one JSON object.
"""

from __future__ import annotations

import argparse
import time

from ssrl_core.cli._common import clean, emit, fmt


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipe", help="augmentation recipes: what a recipe teaches, before training")
    c = p.add_subparsers(dest="recipe_command", metavar="COMMAND")
    c.required = True
    ls = c.add_parser("list", help="the presets: their steps and what each is for")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    ls.set_defaults(handler=run_list)
    e = c.add_parser("explain", help="which factors a recipe keeps or scrambles between its two views")
    e.add_argument("recipe", help="a preset name (see docs/recipes.md) or a recipe YAML file")
    e.add_argument("--data", required=True, help="dataset name (see `ssrl data list`) or file path")
    e.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="keep only cells with this metadata value (repeatable; the same column twice = either)")
    e.add_argument("--cells", type=int, default=256, help="cells measured (default 256)")
    e.add_argument("--seed", type=int, default=0, help="which cells and which random views")
    e.add_argument("--nuclear-channel", type=int, default=0, help="the channel showing nuclei (default 0)")
    e.add_argument("--why", action="store_true", help="also: the steps responsible for each scrambled factor and "
                   "the smallest change that keeps it (slower: tens of seconds)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(handler=run_explain)


def preset_rows() -> list[dict]:
    """One row per preset: name, description, steps (names, in order)."""
    from ssrl_core.augment import PRESETS

    return [{"name": r.name, "description": r.description, "steps": [s.name for s in r.steps]}
            for r in PRESETS.values()]


def run_list(args: argparse.Namespace) -> int:
    rows = preset_rows()
    text = "\n\n".join(f"{r['name']}: {' > '.join(r['steps'])}\n  {r['description']}" for r in rows)
    emit({"presets": rows}, args.json, text)
    return 0


def parse_where(items: list[str]) -> dict[str, list[str]]:
    """`COLUMN=VALUE` items as {column: [values]} (a column given twice means either value)."""
    out: dict[str, list[str]] = {}
    for item in items:
        col, sep, value = item.partition("=")
        if not sep or not col.strip():
            raise ValueError(f"--where needs COLUMN=VALUE; got {item!r}")
        out.setdefault(col.strip(), []).append(value.strip())
    return out


def select(cells, where: dict[str, list[str]]):
    """The cells whose metadata matches every column (as text, or as a number: `site=3` matches 3.0)."""
    import numpy as np
    import pandas as pd

    mask = np.ones(len(cells), dtype=bool)
    for col, values in where.items():
        if col not in cells.meta.columns:
            raise ValueError(f"no metadata column {col!r}; columns are {list(cells.meta.columns)}")
        column = cells.meta[col].reset_index(drop=True)
        hit = np.array(column.astype(str).isin(values), dtype=bool)  # a writable copy
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
        if len(numbers):
            hit |= np.isin(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float), numbers)
        mask &= hit
    if not mask.any():
        raise ValueError(f"no cell matches {where}")
    return cells.subset(np.flatnonzero(mask))


def run_explain(args: argparse.Namespace) -> int:
    from ssrl_core.augment.attribution import diagnose, explain_fix
    from ssrl_core.augment.invariance import as_recipe, as_record, explain, sample_cells
    from ssrl_core.data.registry import load_dataset

    if args.cells < 10:
        raise ValueError("--cells must be at least 10")
    recipe = as_recipe(args.recipe)
    cells = load_dataset(args.data)
    if args.where:
        cells = select(cells, parse_where(args.where))
    t0 = time.perf_counter()
    sample = sample_cells(cells, args.cells, args.seed, nuclear_channel=args.nuclear_channel)
    table = explain(recipe, sample, seed=args.seed)
    seconds = time.perf_counter() - t0
    out = as_record(table)
    out.update(data=args.data, where=parse_where(args.where), seconds=round(seconds, 2))
    lines = [f"{recipe.name} on {len(sample.images)} cells of {args.data} ({seconds:.1f} s)", "",
             f"{'factor':<28} {'agreement':>9} {'90% interval':>14} {'shown':>6} {'reference':>9}  verdict"]
    for _, r in table.iterrows():
        lines.append(f"{r['factor']:<28} {fmt(r['agreement']):>9} {fmt(r['low']) + '-' + fmt(r['high']):>14} "
                     f"{fmt(r['shown']):>6} {fmt(r['reference']):>9}  {r['verdict']}"
                     + (" (hidden by the views)" if r["hidden"] else ""))
    lines += ["", out["words"]]
    if args.why:
        diag = diagnose(recipe, sample, seed=args.seed)
        out["why"] = [{"factor": r["factor"], "steps": r["steps"], "together": bool(r["together"]),
                       "change": r["change_words"] or None, "relative_after": r["relative_after"],
                       "also_keeps": r["also_keeps"], "loses": r["loses"], "words": explain_fix(r)}
                      for _, r in diag.iterrows()]
        lines += ["", "Which step does it, and the smallest change that keeps it:"]
        lines += [f"- {w['words']}" for w in out["why"]]
    emit(clean(out), args.json, "\n".join(lines))
    return 0
