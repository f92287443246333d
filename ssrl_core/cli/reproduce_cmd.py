"""`ssrl reproduce`: regenerate docs/results.md (tables, claims, figures) from the shipped checkpoints.

`ssrl reproduce` evaluates `pretrained/*.pt` (and any extra seeds in runs/pretrained/) with the
baselines on held-out real cells, records the seed-0 metrics in pretrained/index.json and writes
docs/results.md, docs/results_headline.md and docs/figures/. `--retrain` first trains every
missing run with `ssrl train configs/pretrained/<name>.yaml` and exports it; `--quick` evaluates
small subsets (for tests; it writes to runs/reproduce_quick/ unless --docs is given and never
touches the index).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssrl_core.cli._common import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="regenerate docs/results.md: the paper's claims tested on real data")
    p.add_argument("--quick", action="store_true", help="small subsets, no ImageNet baseline (a pipeline check)")
    p.add_argument("--retrain", action="store_true", help="train the missing runs first (sequentially), then export")
    p.add_argument("--export", action="store_true", help="export the finished runs to pretrained/ before evaluating")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="with --retrain: training seeds (default 0)")
    p.add_argument("--only", nargs="+", choices=("mnist", "mitocheck", "bbbc021"), help="evaluate these groups only")
    p.add_argument("--docs", type=Path, help="folder for results.md and figures/ (default: docs/)")
    p.add_argument("--pretrained", type=Path, help="checkpoint folder with index.json (default: pretrained/)")
    p.add_argument("--runs", type=Path, help="training runs folder (default: runs/pretrained/)")
    p.add_argument("--max-cells", type=int, help="at most this many held-out cells per dataset")
    p.add_argument("--no-imagenet", action="store_true", help="leave out the ImageNet VGG16 baseline")
    p.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_reproduce)


def run_reproduce(args: argparse.Namespace) -> int:
    from ssrl_core.paths import PROJECT_ROOT
    from ssrl_core.reproduce import plan, readme_blocks, report, runner, section31, shipping

    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    opts = runner.Options.make(args.pretrained, args.runs, quick=args.quick, max_cells=args.max_cells,
                               device=args.device)
    if args.no_imagenet:
        opts.imagenet = False
    if args.only:
        opts.groups = tuple(args.only)
    chosen = [e for e in plan.ENTRIES if e.group in opts.groups]
    if args.retrain:
        shipping.retrain(chosen, tuple(args.seeds), log)
    if args.retrain or args.export:
        shipping.export(chosen, opts.pretrained, log)
    result = runner.reproduce(opts, log)
    if not args.quick and opts.pretrained.is_dir() and (opts.pretrained / shipping.INDEX).is_file():
        shipping.set_metrics(opts.pretrained, runner.index_metrics(result))
    docs = args.docs or (PROJECT_ROOT / "runs" / "reproduce_quick" if args.quick else PROJECT_ROOT / "docs")
    index = shipping.read_index(opts.pretrained) if opts.pretrained.is_dir() else None
    cmd = "ssrl reproduce" + (" --quick" if args.quick else "")
    written = report.write_report(result, docs, index, command=cmd)
    if not args.quick and args.docs is None:
        seeds = sorted({len(r["seeds"]) for g in result["groups"].values() for r in g["rows"] if r["kind"] == "ssl"})
        readme_blocks.update_readme(PROJECT_ROOT / "README.md",
                             report.readme_block(result, "-".join(str(s) for s in (seeds[0], seeds[-1])) if
                                                 len(seeds) > 1 else str(seeds[0] if seeds else 1)))
        base = readme_blocks.base_block(index)
        if base:
            readme_blocks.update_readme(PROJECT_ROOT / "README.md", base, readme_blocks.BASE_START, readme_blocks.BASE_END)
    if not args.quick:  # the paper's section 3.1 on CIFAR-10, from the shipped sweep summary
        cifar = section31.report_from_shipped(docs, command=cmd)
        if cifar:
            written.update({f"cifar10_{k}": v for k, v in cifar.items()})
    claims = report.claims(result)
    out = {"written": {k: str(v) for k, v in written.items()}, "claims": claims, "notes": result["notes"],
           "cells": {g: r["cells"] for g, r in result["groups"].items()}}
    text = report.headline(result) + "\n" + "\n".join(f"- {c['claim']}: {c['verdict']} ({c['numbers']})"
                                                      for c in claims) + f"\n\nwrote {written['results']}"
    emit(out, args.json, text)
    return 0
