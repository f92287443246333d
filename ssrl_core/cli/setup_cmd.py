"""`ssrl setup`: prepare the embedded demo data, the ImageNet/LPIPS weights and UMAP's compiled code
(idempotent)."""

from __future__ import annotations

import argparse

from ssrl_core import paths
from ssrl_core.cli._common import emit
from ssrl_core.evaluate.umap_jit import warm


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="prepare the embedded demo data, the LPIPS/ImageNet weights and UMAP's compiled code")
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
    try:  # the first map of every later process then skips ~9 s of numba compiling
        report["maps"] = {"status": "ready", "seconds": warm()}
    except Exception as exc:  # no working UMAP: the maps say so when asked for one
        report["maps"] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    emit(report, args.json)
    return 0
