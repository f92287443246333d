"""`ssrl setup`: prepare the embedded demo data and the ImageNet/LPIPS weights (idempotent)."""

from __future__ import annotations

import argparse

from ssrl_core import paths
from ssrl_core.cli._common import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="prepare the embedded demo data and LPIPS/ImageNet weights")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ssrl_core.data.demo import prepare_demo
    from ssrl_core.weights import prepare_weights

    report: dict = {}
    try:
        report["demo"] = str(prepare_demo(paths.data_dir()))
    except Exception as exc:  # setup must say what failed and carry on with the rest
        report["demo_error"] = f"{type(exc).__name__}: {exc}"
    report["weights"] = prepare_weights()
    emit(report, args.json)
    return 0
