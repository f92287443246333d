"""`ssrl-paper` (also `python -m paper`): the paper pipeline beside the product.

Bendidi et al. (Biological Imaging 2024) tested on real data with the product's own training and
evaluation; these commands retrain the shipped checkpoints and rewrite README blocks, docs/ and
pretrained/index.json. The product (`ssrl`, the app) never imports this package.

- `ssrl-paper reproduce`: evaluate `pretrained/*.pt` (and any extra seeds in runs/pretrained/)
  with the baselines on held-out real cells, record the seed-0 metrics in pretrained/index.json
  and write docs/results.md, docs/results_headline.md, docs/figures/ and the README's result
  blocks. `--retrain` first trains every missing run with `ssrl train configs/pretrained/<name>.yaml`
  and exports it; `--quick` evaluates small subsets (a pipeline check: it writes to
  runs/reproduce_quick/ unless --docs is given and never touches the index).
- `ssrl-paper class-bias` (formerly `ssrl reproduce-cifar`): section 3.1, "transformation choices
  induce inter-class bias", on CIFAR-10: run (or resume) the shipped sweeps
  `configs/sweeps/cifar10_*.yaml`, measure the class properties, write docs/results_cifar10.md,
  its figures and `pretrained/sweeps/cifar10/summary.json` (the Bias page's shipped result).
- `ssrl-paper base-data`: build the grey-scale training set of the base encoder `cells_base`.
- `ssrl-paper base-encoder`: export `cells_base` from its run, score it and write its card.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from paper.base_data import build
from paper.class_bias_sweeps import reproduce_cifar
from ssrl_core.cli._common import emit, run_handler
from ssrl_core.paths import PROJECT_ROOT
from ssrl_core.sweeps.class_verdicts import _word


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The whole `ssrl-paper` parser."""
    parser = argparse.ArgumentParser(prog="ssrl-paper", description="The paper's pipeline: retrain the shipped "
                                     "checkpoints and rewrite docs/results*.md from real data.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
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

    p = sub.add_parser("class-bias", aliases=["reproduce-cifar"],
                       help="section 3.1 on CIFAR-10, which classes one augmentation parameter favours: "
                            "sweeps (resumable) + report")
    p.add_argument("--out", type=Path, help="sweep folders (default: <runs>/sweeps/cifar10)")
    p.add_argument("--config", type=Path, nargs="+", help="sweep files (default: configs/sweeps/cifar10_*.yaml)")
    p.add_argument("--report-only", action="store_true", help="no training: report on the finished sweeps")
    p.add_argument("--encoder", default="imagenet-vgg16", help="reference encoder of the class properties "
                   "(a checkpoint, imagenet-vgg16, random-<backbone>, hand-features; '' to skip)")
    p.add_argument("--per-class", type=int, default=300, help="images per class for the class properties")
    p.add_argument("--docs", type=Path, help="folder of results_cifar10.md and figures/ (default: docs/)")
    p.add_argument("--shipped", type=Path, help="summary JSON (default: pretrained/sweeps/cifar10/summary.json)")
    p.add_argument("--null", type=int, default=200, help="shuffles for the chance level of the ratio")
    p.add_argument("--ship-base", action="store_true", help="first export the retrained start encoder "
                   "(runs/pretrained/cifar10_base) into pretrained/ and write its card")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_class_bias)

    p = sub.add_parser("base-data", help="build the base encoder's grey-scale training set (needs the shared data)")
    p.add_argument("--out", type=Path, default=Path("data") / "cells_base_train.npz")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_base_data)

    p = sub.add_parser("base-encoder", help="export cells_base from its run, score it and write its card")
    p.add_argument("--score-only", action="store_true", help="keep the shipped file; score it and rewrite the card")
    p.add_argument("--pretrained", type=Path, help="checkpoint folder with index.json (default: pretrained/)")
    p.set_defaults(handler=run_base_encoder)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ssrl-paper` console script; errors are one plain line, as in `ssrl`."""
    args = build_parser().parse_args(argv)
    return run_handler(args)


def run_reproduce(args: argparse.Namespace) -> int:
    from paper import class_bias_report, plan, readme_blocks, report, runner, shipping

    opts = runner.Options.make(args.pretrained, args.runs, quick=args.quick, max_cells=args.max_cells,
                               device=args.device)
    if args.no_imagenet:
        opts.imagenet = False
    if args.only:
        opts.groups = tuple(args.only)
    chosen = [e for e in plan.ENTRIES if e.group in opts.groups]
    if args.retrain:
        shipping.retrain(chosen, tuple(args.seeds), _log)
    if args.retrain or args.export:
        shipping.export(chosen, opts.pretrained, _log)
    result = runner.reproduce(opts, _log)
    if not args.quick and opts.pretrained.is_dir() and (opts.pretrained / shipping.INDEX).is_file():
        shipping.set_metrics(opts.pretrained, runner.index_metrics(result))
    docs = args.docs or (PROJECT_ROOT / "runs" / "reproduce_quick" if args.quick else PROJECT_ROOT / "docs")
    index = shipping.read_index(opts.pretrained) if opts.pretrained.is_dir() else None
    cmd = "ssrl-paper reproduce" + (" --quick" if args.quick else "")
    written = report.write_report(result, docs, index, command=cmd)
    if not args.quick and args.docs is None:
        seeds = sorted({len(r["seeds"]) for g in result["groups"].values() for r in g["rows"] if r["kind"] == "ssl"})
        readme_blocks.update_readme(PROJECT_ROOT / "README.md",
                             report.readme_block(result, "-".join(str(s) for s in (seeds[0], seeds[-1])) if
                                                 len(seeds) > 1 else str(seeds[0] if seeds else 1)))
        base = readme_blocks.base_block(index)
        if base:
            readme_blocks.update_readme(PROJECT_ROOT / "README.md", base, readme_blocks.BASE_START, readme_blocks.BASE_END)
    if not args.quick:  # the class bias of section 3.1 on CIFAR-10, from the shipped sweep summary
        cifar = class_bias_report.report_from_shipped(docs, command=cmd)
        if cifar:
            written.update({f"cifar10_{k}": v for k, v in cifar.items()})
    claims = report.claims(result)
    out = {"written": {k: str(v) for k, v in written.items()}, "claims": claims, "notes": result["notes"],
           "cells": {g: r["cells"] for g, r in result["groups"].items()}}
    text = report.headline(result) + "\n" + "\n".join(f"- {c['claim']}: {c['verdict']} ({c['numbers']})"
                                                      for c in claims) + f"\n\nwrote {written['results']}"
    emit(out, args.json, text)
    return 0


def run_class_bias(args: argparse.Namespace) -> int:
    res = reproduce_cifar(args.out, args.config, encoder=args.encoder, per_class=args.per_class, docs=args.docs,
                          shipped=args.shipped, report_only=args.report_only, n_null=args.null, ship_base=args.ship_base,
                          log=_log)
    verdicts = res["summary"]["verdicts"]
    out = {"written": {k: str(v) for k, v in res["written"].items()}, "verdicts": verdicts,
           "ratios": {f"{s['method']}/{s['parameter']}": s["ratio"] for s in res["summary"]["sweeps"]}}
    text = "\n".join(f"- {v['claim']}: {_word(v['holds'])} {v.get('detail', '')}" for v in verdicts)
    emit(out, args.json, text + f"\n\nwrote {res['written']['results_cifar10']} and {res['written']['summary']}")
    return 0


def run_base_data(args: argparse.Namespace) -> int:
    counts = build(args.out)
    emit({"out": str(args.out), "counts": counts}, args.json,
         f"wrote {args.out}: {sum(counts.values())} grey images ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 0


def run_base_encoder(args: argparse.Namespace) -> int:
    from paper.base_encoder import ship

    ship(args.pretrained, log=_log, export=not args.score_only)
    return 0
