"""`reproduce(options)`: evaluate the shipped checkpoints (and baselines) on held-out real cells.

For each group (MNIST, MitoCheck, BBBC021) the held-out cells are embedded with every encoder:
the seed-0 shipped checkpoint (`pretrained/<name>.pt`), any extra training seeds found as
`runs/pretrained/<name>_seed<k>/checkpoint.pt` (metrics are then mean ± std over seeds), and the
baselines of the paper: ImageNet VGG16 features, the same backbone at random initialisation, and
hand-made features. Results are plain dicts of lists (one value per seed) for `report.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from paper import tables
from paper.floors import card_words, versus_random
from paper.plan import ENTRIES, Entry, entries, heldout_cells, project_root
from paper.shipping import run_state
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.registry import load_dataset
from ssrl_core.evaluate.embedding import embed
from ssrl_core.evaluate.encoders import PER_CHANNEL
from ssrl_core.models.encoder_file import CHECKPOINT, load_checkpoint

Log = Callable[[str], None]
GROUPS = ("mnist", "mitocheck", "bbbc021")


@dataclass
class Options:
    """Where to read checkpoints, how much to evaluate. `quick` = small subsets, no ImageNet baseline."""

    pretrained: Path
    runs: Path
    quick: bool = False
    max_cells: int | None = None  # per group (None: all held-out cells)
    lpips_pairs: int = 256
    imagenet: bool = True
    groups: tuple[str, ...] = GROUPS
    device: str = "auto"
    max_seeds: int = 5
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, pretrained: Path | None = None, runs: Path | None = None, quick: bool = False,
             **kw: Any) -> "Options":
        root = project_root()
        opts = cls(pretrained=Path(pretrained or root / "pretrained"), runs=Path(runs or root / "runs" / "pretrained"),
                   quick=quick, **kw)
        if quick:
            opts.max_cells = opts.max_cells or 160
            opts.lpips_pairs = min(opts.lpips_pairs, 8)
            opts.imagenet = False
            opts.max_seeds = 1
        return opts


def checkpoints_of(e: Entry, opts: Options) -> list[tuple[int, Path]]:
    """(seed, path) of the trained encoders of an entry: shipped seed 0 first, then extra seeds."""
    found = []
    shipped = opts.pretrained / e.file
    run0 = opts.runs / e.name / CHECKPOINT
    if shipped.is_file():
        found.append((0, shipped))
    elif run0.is_file() and run_state(run0.parent) == "finished":
        found.append((0, run0))
    for k in range(1, 10):
        p = opts.runs / f"{e.name}_seed{k}" / CHECKPOINT
        if p.is_file() and run_state(p.parent) == "finished":
            found.append((k, p))
    return found[: opts.max_seeds]


def _subsample(cells: CellSet, n: int | None, seed: int, column: str | None) -> CellSet:
    """At most n cells, drawn per `column` group in proportion (so every group stays)."""
    if n is None or len(cells) <= n:
        return cells
    rng = np.random.default_rng(seed)
    if column is None:
        idx = rng.choice(len(cells), n, replace=False)
    else:
        groups = cells.meta[column].astype(str).to_numpy()
        idx = []
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            take = max(2, int(round(n * len(members) / len(cells))))
            idx.extend(rng.choice(members, min(take, len(members)), replace=False).tolist())
    out = cells.subset(np.sort(np.asarray(idx)))
    out.meta = out.meta.reset_index(drop=True)
    return out


def load_group_cells(group: str, opts: Options) -> CellSet:
    dataset = entries(group)[0].dataset
    cells = heldout_cells(load_dataset(dataset), group)
    column = {"mnist": "label", "mitocheck": "label", "bbbc021": "well"}[group]
    return _subsample(cells, opts.max_cells, opts.seed, column)


def _baselines(group: str, found: list[Path], opts: Options) -> list[tuple[str, str]]:
    """The paper's floors for a group: ImageNet VGG16, random init of the checkpoints' own
    backbone (per-channel when they are), the hand features, and the encoder they were
    fine-tuned from (so that a fine-tune shows what it adds to its parent)."""
    info = _first_info(found)
    out = []
    if opts.imagenet and group != "mnist":
        out.append(("ImageNet VGG16", "imagenet-vgg16"))
    if info:
        backbone = str(info.get("backbone"))
        suffix = PER_CHANNEL if info.get("per_channel") else ""
        out.append((f"random init ({backbone}{' per channel' if suffix else ''})", f"random-{backbone}{suffix}"))
    if group != "mnist":
        out.append(("hand features", "hand-features"))
    parent = (info or {}).get("parent") or {}
    asked = parent.get("init") if isinstance(parent, dict) else None
    if asked and (opts.pretrained / f"{asked}.pt").is_file():
        out.append((f"{asked} (no fine-tune)", str(opts.pretrained / f"{asked}.pt")))
    return out


def _first_info(paths: list[Path]) -> dict[str, Any] | None:
    for p in paths:
        return load_checkpoint(p)
    return None


def _embed(cells: CellSet, encoder: str, opts: Options) -> np.ndarray:
    return embed(cells, encoder, device=opts.device)


def _encoders(group: str, opts: Options) -> list[tuple[str, str, str, list[tuple[int, str]]]]:
    """(label, kind, name, [(seed, encoder)]) for the SSL checkpoints and the baselines."""
    out = []
    found_all = []
    for e in entries(group):
        found = checkpoints_of(e, opts)
        if not found:
            opts.notes.append(f"{e.name}: no checkpoint found; retrain it with `{e.command()}`")
        found_all += [p for _, p in found]
        out.append((e.label, "ssl", e.name, [(s, str(p)) for s, p in found]))
    for label, name in _baselines(group, found_all, opts):
        out.append((label, "baseline", name, [(0, name)]))
    return out


def evaluate_group(group: str, opts: Options, log: Log = print) -> dict[str, Any]:
    """Rows (one per encoder) of metric -> list of values (one per training seed)."""
    t0 = time.time()
    cells = load_group_cells(group, opts)
    log(f"{group}: {len(cells)} held-out cells")
    nuisance = tables.measured_factors(cells) if group != "mnist" else None
    label_col = "compound" if group == "bbbc021" else "label"
    rows = []
    for label, kind, name, found in _encoders(group, opts):
        values: dict[str, list[float]] = {}
        for _seed, enc in found:
            try:
                feats = _embed(cells, enc, opts)
            except (RuntimeError, ValueError, FileNotFoundError) as exc:
                opts.notes.append(f"{label} ({group}) could not be evaluated: {exc}")
                continue
            measured = _metrics(group, feats, cells, opts.seed)
            if nuisance is not None:
                measured.update(tables.factor_metrics(feats, cells.meta, nuisance, label_col, opts.seed))
            for k, v in measured.items():
                values.setdefault(k, []).append(v)
        rows.append({"encoder": label, "kind": kind, "name": name, "seeds": [s for s, _ in found],
                     "values": values})
        log(f"{group}: {label}: " + ", ".join(f"{k}={tables.fmt(v)}" for k, v in values.items()
                                              if k in ("ami", "probe", "knn", "ami_raw", "plate_ami")))
    out = {"group": group, "cells": len(cells), "rows": rows, "seconds": round(time.time() - t0, 1)}
    if group == "mnist":
        out["lpips"] = {e.label: tables.view_lpips(cells, e.recipes[0], n=opts.lpips_pairs, seed=opts.seed)
                        for e in entries("mnist")}
    return out


def _metrics(group: str, feats: np.ndarray, cells: CellSet, seed: int) -> dict[str, float]:
    if group == "mnist":
        return tables.digit_metrics(feats, cells.meta["label"], seed)
    if group == "mitocheck":
        return tables.phenotype_metrics(feats, cells.meta, seed)
    return tables.compound_metrics(feats, cells.meta, seed)


def reproduce(opts: Options, log: Log = print) -> dict[str, Any]:
    """Evaluate every group; returns {"groups": {group: result}, "notes": [...], "options": {...}}."""
    results = {}
    for g in opts.groups:
        try:
            results[g] = evaluate_group(g, opts, log)
        except FileNotFoundError as exc:  # e.g. MitoCheck / BBBC021 not downloaded on this machine
            opts.notes.append(f"{g} was skipped: {exc}. See docs/data.md to get this data set.")
            log(f"{g}: skipped ({exc})")
    return {"groups": results, "notes": list(opts.notes),
            "options": {"quick": opts.quick, "max_cells": opts.max_cells, "lpips_pairs": opts.lpips_pairs,
                        "imagenet": opts.imagenet, "pretrained": str(opts.pretrained), "runs": str(opts.runs)}}


def index_metrics(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Seed-0 held-out metrics per shipped checkpoint (the shipped file's own numbers, which the app
    shows for the same cells), with `seed_std`: each metric's standard deviation over the training
    seeds found (the spread a verdict must exceed), for pretrained/index.json."""

    words = card_words(versus_random(result))
    out: dict[str, dict[str, float]] = {}
    for g, res in result["groups"].items():
        for row in res["rows"]:
            if row["kind"] != "ssl" or not row["seeds"] or row["seeds"][0] != 0:
                continue
            m: dict[str, Any] = {k: v[0] for k, v in row["values"].items() if v}
            if (g, row["encoder"]) in words:
                m["against_floors"] = words[(g, row["encoder"])]
            if len(row["seeds"]) > 1:
                m["seed_std"] = {k: round(tables.mean_std(v)[1], 4) for k, v in row["values"].items() if len(v) > 1}
                m["training_seeds"] = len(row["seeds"])
            if g == "mnist":
                m["view_lpips"] = res.get("lpips", {}).get(row["encoder"])
            m["heldout_cells"] = res["cells"]
            out[row["name"]] = m
    return out


__all__ = ["Options", "reproduce", "evaluate_group", "index_metrics", "checkpoints_of", "ENTRIES"]
