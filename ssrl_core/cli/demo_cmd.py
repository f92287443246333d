"""`ssrl demo show | build`: the Home page's recipe contrast (`ssrl_core.evaluate.recipe_contrast`).

`show` prints what the shipped measurements say (the preview before training, the trained encoders
after); `build` measures them again: the preview of both recipes, each recipe's shipped seed-0
encoder and its extra seeds (`runs/pretrained/<name>_seed<N>/checkpoint.pt`, made by the command in
each config's header with `--set seed=N`), and writes `pretrained/demo_contrast.json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssrl_core import paths
from ssrl_core.cli._common import emit
from ssrl_core.models.shipped import shipped_path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the Home page's recipe contrast: show or measure it again")
    cmds = p.add_subparsers(dest="demo_command", metavar="COMMAND")
    cmds.required = True
    show = cmds.add_parser("show", help="what the shipped measurements say")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)
    build = cmds.add_parser("build", help="measure the contrast again and write pretrained/demo_contrast.json")
    build.add_argument("--out", type=Path, default=None, help="folder to write into (default: pretrained/)")
    build.add_argument("--no-seeds", action="store_true", help="score the shipped seed-0 encoders only")
    build.add_argument("--json", action="store_true")
    build.set_defaults(handler=run_build)


def seed_checkpoints(case, with_extra: bool = True) -> dict[str, list[Path]]:
    """label -> [shipped seed-0 file, finished extra-seed runs...] for each recipe of `case`."""

    out = {}
    for label, name in zip(case.labels, case.checkpoints):
        first = shipped_path(name)
        if first is None:
            raise FileNotFoundError(f"the shipped encoder {name!r} is missing from {paths.pretrained_dir()}")
        found = [first]
        for seed in case.extra_seeds if with_extra else ():
            run = paths.runs_dir() / "pretrained" / f"{name}_seed{seed}"
            if (run / "checkpoint.pt").is_file():
                found.append(run / "checkpoint.pt")
        out[label] = found
    return out


def run_show(args: argparse.Namespace) -> int:
    from ssrl_core.evaluate import recipe_contrast as rc

    res = rc.load()
    if res is None:
        sys.stderr.write("no up-to-date demo measurements in pretrained/ (run `ssrl demo build`)\n")
        return 1
    words = rc.verdict(res)
    emit({"summary": res["summary"], "changes": res["changes"], **words}, args.json,
         text="\n".join([words["before"], words["after"], words["held"]]))
    return 0


def run_build(args: argparse.Namespace) -> int:
    from ssrl_core.evaluate import recipe_contrast as rc

    seeds = seed_checkpoints(rc.CASE, not args.no_seeds)
    res = rc.build(seeds, progress=None if args.json else (lambda f, m: sys.stderr.write(f"[{f:4.0%}] {m}\n")))
    path = rc.save(res, args.out)
    words = rc.verdict(res)
    emit({"written": str(path), "summary": res["summary"], **words}, args.json,
         text="\n".join([f"wrote {path}", words["before"], words["after"], words["held"]]))
    return 0
