"""The shipped base encoder `cells_base`: score it on every held-out set and index it with its card.

Trained in two stages on the grey-scale set that `paper/base_data.py` builds: stage 1
(`configs/pretrained/cells_base_stage1.yaml`, SimCLR with microscopy set A) learns shapes; stage 2
(`configs/pretrained/cells_base.yaml`, `init:` stage 1's run) continues it with a weak intensity
jitter so that it keeps per-channel brightness, which set A's jitter teaches it to discard and
which is much of what separates cycloheximide from DMSO on BBBC021 (`benchmarks/base_encoder.md`).
The card lists both stages (`stages`: run, command, steps, training seconds, recipes, lr).
Its bar (issue "Encoders worth exploring"): on the held-out cells of every dataset it beats
random initialisation of the same architecture (the same per-channel `small_cnn`,
`random-small_cnn-per-channel`) and the hand features, on AMI and on the linear probe. The card
in `pretrained/index.json` holds those numbers next to the baselines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from paper import shipping
from paper.plan import entry, project_root
from paper.quality import score
from ssrl_core import paths
from ssrl_core.evaluate.verdicts import margin
from ssrl_core.models.encoder_file import find_checkpoint, load_checkpoint

GROUPS = ("mitocheck", "bbbc021", "mnist")
Log = Callable[[str], None]


METRICS = ("probe", "knn", "ami")


def scores(encoder: str, backbone: str, groups: tuple[str, ...] = GROUPS) -> dict[str, dict[str, Any]]:
    """{group: {encoder | random | hand: scores}} on each group's held-out cells (the protocol's)."""

    out: dict[str, dict[str, Any]] = {}
    for group in groups:
        rows = {"encoder": score(encoder, group), "random": score(f"random-{backbone}-per-channel", group)}
        if group != "mnist":
            rows["hand"] = score("hand-features", group)
        out[group] = {k: {m: v[m] for m in (*METRICS, "cells")} for k, v in rows.items()}
        out[group]["split"] = rows["encoder"]["split"]
        out[group]["held_out_by"] = rows["encoder"]["held_out_by"]
    return out


def bar_problems(card: dict[str, dict[str, Any]]) -> list[str]:
    """Where the encoder does not beat random init and hand features on AMI and the held-out probe
    by more than the protocol's margin (a smaller gap is a tie, which is not a win)."""

    problems = []
    for group, rows in card.items():
        for base in ("random", "hand"):
            for metric in ("ami", "probe"):
                if base in rows and rows["encoder"][metric] <= rows[base][metric] + margin():
                    how = "ties" if rows["encoder"][metric] > rows[base][metric] - margin() else "is below"
                    problems.append(f"{group}: {metric} {rows['encoder'][metric]:.3f} {how} {base} "
                                    f"{rows[base][metric]:.3f}")
    return problems


def _relative(folder: Path) -> str:
    try:
        return folder.resolve().relative_to(project_root().resolve()).as_posix()
    except ValueError:
        return str(folder)


def stages(run_dir: Path) -> list[dict[str, Any]]:
    """The training stages behind a run, oldest first: each run, then the run its `init:` names."""

    out: list[dict[str, Any]] = []
    seen: set[Path] = set()
    folder: Path | None = run_dir
    while folder is not None and folder.is_dir() and folder.resolve() not in seen:
        seen.add(folder.resolve())
        full = load_checkpoint(find_checkpoint(folder))
        cfg = full.get("config") or {}
        recipes = [r.get("preset") or (r.get("recipe") or {}).get("name") for r in cfg.get("recipes") or []]
        run = _relative(folder)
        config = f"configs/pretrained/{folder.name}.yaml"
        command = f"ssrl train {config} --out {run}" if (project_root() / config).is_file() else None
        out.append({"run": run, "command": command, "steps": full.get("step"),
                    "train_seconds": shipping.train_seconds(folder), "recipes": recipes, "lr": cfg.get("lr")})
        init = (full.get("parent") or {}).get("init")
        parent = Path(init) if init else None
        if parent is not None and not parent.is_absolute():
            parent = project_root() / parent  # configs name run folders from the project root
        folder = parent if parent is not None and parent.is_dir() else None  # a shipped name or a file ends the chain
    return out[::-1]


def ship(folder: str | Path | None = None, log: Log = print, export: bool = True) -> dict[str, Any]:
    """Export the finished run of `cells_base` (fp16; `export=False` keeps the shipped file), score
    it, and write its card in the index."""

    folder = Path(folder or paths.pretrained_dir())
    e = entry("cells_base")
    index = shipping.export([e], folder, log) if export else shipping.read_index(folder)
    item = next(c for c in index["checkpoints"] if c["name"] == e.name)
    card = scores(str(folder / e.file), str(item["backbone"]))
    item.update(per_channel=True, metrics=card, bar_problems=bar_problems(card), heldout=shipping.HELDOUT["base"])
    if export:
        item["stages"] = stages(project_root() / e.run_dir())
    shipping.write_index(folder, index)
    log(f"{e.name}: " + ("beats random init and hand features everywhere" if not item["bar_problems"]
                         else "; ".join(item["bar_problems"])))
    return item


if __name__ == "__main__":
    import sys

    ship(export="--score-only" not in sys.argv[1:])
