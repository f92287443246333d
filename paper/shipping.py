"""The shipped checkpoints: (re)train them, export them small, index and verify them.

`pretrained/index.json` is `{"format": "ssrl-pretrained-index", "version": 1, "checkpoints": [...]}`;
each entry has name, file, dataset, description (read by the app), plus recipes, method,
backbone, crop_size, epochs, seed, sha256, bytes, half, train_seconds, cells_trained, heldout
(words), heldout_group and heldout_rule (the held-out cells as a `ssrl_core.data.rules` rule,
which the app applies; null for the base encoders, scored on several sets),
metrics (measured on held-out cells by `ssrl-paper reproduce`), config and command (the exact `ssrl`
command that retrains it). Files are encoder-only fp16 copies made by
`train.checkpoint.export_checkpoint`; `models.encoder_file.load_encoder` turns them back into float32 encoders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from paper.plan import ENTRIES, HELDOUT_RULES, Entry, entry, project_root
from ssrl_core.io import atomic_write_json, sha256_file
from ssrl_core.models.encoder_file import CHECKPOINT, load_checkpoint, load_encoder
from ssrl_core.models.shipped import INDEX, read_index

HELDOUT = {
    "mnist": "none: SSL never sees digit labels; all 5,000 digits are scored; there is no plate or well, so the "
             "probe holds out cells (5 folds)",
    "mitocheck": "held out by plate: 25 whole plates (1,001 cells, ~30% of every class) never trained on; the probe "
                 "trains on some of them and is tested on the others; no control cells, so no per-plate normalisation",
    "bbbc021": "held out by site and well, not by plate (cycloheximide is on one plate only): sites 3-4 of Week4_27801 "
               "(trained on sites 1-2) + the DMSO plate Week4_27481 (never trained on); each plate normalised to its "
               "DMSO cells; the probe is trained on other wells",
    "cifar10": "the 10,000 test-split images (never trained on); the probe trains on training-split images",
    "base": "MitoCheck's 25 held-out plates (probe by plate); BBBC021 sites 3-4 of Week4_27801 + DMSO plate "
            "Week4_27481 (probe by well; the base saw that plate's DMSO crops as unlabelled images); MNIST (by cell)",
    "demo": "held out by plate: trained on the DMSO plate Week4_27481 only; scored on every cell of plate Week4_27801 "
            "(DMSO and cycloheximide at 3 doses), normalised to that plate's DMSO; 3 training seeds "
            "(pretrained/demo_contrast.json)",
}
Log = Callable[[str], None]


sha256 = sha256_file


def write_index(folder: str | Path, index: dict[str, Any]) -> Path:
    return atomic_write_json(Path(folder) / INDEX, index)


def train_seconds(run_dir: Path) -> float | None:
    """Wall-clock training time of a run (`train.rundir.run_seconds`)."""
    from ssrl_core.train.rundir import run_seconds

    return run_seconds(run_dir)


def run_state(run_dir: Path) -> str:
    """The state in a run's status.json ('finished', 'running', ...), 'unknown' when unreadable."""
    try:
        return str(json.loads((run_dir / "status.json").read_text(encoding="utf-8")).get("state"))
    except (OSError, ValueError):
        return "unknown"


def retrain(entries: list[Entry], seeds: tuple[int, ...] = (0,), log: Log = print,
            root: Path | None = None) -> list[Path]:
    """Run `ssrl train` for each entry and seed, one after the other (skips finished runs)."""
    root = root or project_root()
    env = dict(os.environ)
    done = []
    for e in entries:
        for seed in seeds:
            run_dir = root / e.run_dir(seed)
            if run_state(run_dir) == "finished":
                log(f"{e.name} seed {seed}: already trained ({run_dir})")
                done.append(run_dir)
                continue
            if run_dir.exists():
                raise ValueError(f"{run_dir} holds an unfinished run: remove it, or finish it with "
                                 f"`ssrl train --resume {run_dir}`")
            cmd = [sys.executable, "-m", "ssrl_core", *e.command(seed).split()[1:]]
            log(f"{e.name} seed {seed}: {e.command(seed)}")
            t0 = time.time()
            subprocess.run(cmd, cwd=root, env=env, check=True)
            log(f"{e.name} seed {seed}: trained in {time.time() - t0:.0f} s")
            done.append(run_dir)
    return done


def export(entries: list[Entry], folder: str | Path, log: Log = print, root: Path | None = None) -> dict[str, Any]:
    """Export each entry's seed-0 run to `<folder>/<name>.pt` (fp16 encoder) and index it."""
    root = root or project_root()
    folder = Path(folder)
    index = read_index(folder)
    by_name = {c.get("name"): c for c in index["checkpoints"]}
    for e in entries:
        run_dir = root / e.run_dir()
        ckpt = run_dir / CHECKPOINT
        if not ckpt.is_file():
            log(f"{e.name}: no trained run at {run_dir}; run `{e.command()}` first")
            continue
        if run_state(run_dir) != "finished":
            log(f"{e.name}: the run in {run_dir} has not finished ({run_state(run_dir)}); not exported")
            continue
        out = _export_unless_same(ckpt, folder / e.file)
        full = load_checkpoint(ckpt)
        cfg = full.get("config") or {}
        item = dict(by_name.get(e.name, {}))
        item.update(name=e.name, file=e.file, dataset=e.dataset, description=e.description,
                    recipes=list(e.recipes), recipe_weights=full.get("recipe_weights"), method=full.get("method"),
                    method_params=(cfg.get("method") or {}).get("params"), backbone=full.get("backbone"),
                    crop_size=full.get("crop_size"), in_channels=full.get("in_channels"),
                    channels=full.get("channels"), epochs=cfg.get("epochs"), steps=full.get("step"),
                    batch_size=cfg.get("batch_size"), seed=cfg.get("seed"), cells_trained=full.get("cells"),
                    final_loss=(full.get("metrics") or {}).get("loss"), train_seconds=train_seconds(run_dir),
                    half=True, bytes=out.stat().st_size, sha256=sha256(out), heldout=HELDOUT[e.group],
                    heldout_group=e.group, heldout_rule=HELDOUT_RULES.get(e.group),
                    config=e.config, command=e.command(), per_channel=bool(full.get("per_channel", False)))
        parent = full.get("parent")
        if isinstance(parent, dict):  # a fine-tune: what it started from
            item["parent"] = {"init": parent.get("init"), "sha256": parent.get("sha256"),
                              "backbone": parent.get("backbone")}
        else:
            item.pop("parent", None)
        item.setdefault("metrics", {})
        by_name[e.name] = item
        log(f"{e.name}: exported {out.name} ({out.stat().st_size / 1e6:.2f} MB)")
    order = [e.name for e in ENTRIES]
    index["checkpoints"] = sorted(by_name.values(), key=lambda c: order.index(c["name"]) if c["name"] in order else 99)
    write_index(folder, index)
    return index


def _export_unless_same(ckpt: Path, dest: Path) -> Path:
    """Export `ckpt` to `dest`, but keep the file already there when it holds the same weights and
    facts: `torch.save` writes different bytes for equal tensors, and a shipped file that changes
    without a change of content only makes the repository heavier."""
    from ssrl_core.train.checkpoint import export_checkpoint

    fresh = export_checkpoint(ckpt, dest.with_name(dest.name + ".new"), half=True)
    if dest.is_file() and _same_content(load_checkpoint(dest), load_checkpoint(fresh)):
        fresh.unlink()
        return dest
    return fresh.replace(dest)


def _same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import torch

    ma, mb = a.get("model") or {}, b.get("model") or {}
    if ma.keys() != mb.keys() or not all(torch.equal(ma[k], mb[k]) for k in ma):
        return False
    return {k: v for k, v in a.items() if k != "model"} == {k: v for k, v in b.items() if k != "model"}


def set_metrics(folder: str | Path, metrics: dict[str, dict[str, float]]) -> None:
    """Record held-out metrics (name -> {metric: value}) in the index."""

    index = read_index(folder)
    for c in index["checkpoints"]:
        if c.get("name") in metrics:
            c["metrics"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics[c["name"]].items()}
            group = entry(c["name"]).group
            c["heldout"] = HELDOUT[group]  # what was held out, in the protocol's words
            c.update(heldout_group=group, heldout_rule=HELDOUT_RULES.get(group))  # and as a rule the app applies
    write_index(folder, index)


def verify(folder: str | Path) -> list[str]:
    """Problems with the shipped checkpoints (missing file, wrong sha256, unreadable); [] when fine."""
    folder = Path(folder)
    problems = []
    for c in read_index(folder)["checkpoints"]:
        path = folder / str(c.get("file"))
        if not path.is_file():
            problems.append(f"{c.get('name')}: file {path.name} is missing")
            continue
        if sha256(path) != c.get("sha256"):
            problems.append(f"{c.get('name')}: {path.name} does not match its sha256 (damaged or replaced)")
            continue
        try:
            load_encoder(path)
        except (ValueError, FileNotFoundError) as exc:
            problems.append(f"{c.get('name')}: {exc}")
    return problems
