"""`ssrl check-compound | factors | sweep`: what a representation is biased towards.

`check-compound` sets a treatment against its control next to the plate (batch effect),
`factors` probes which factors of variation the representation encodes (`evaluate.factor_table`),
and `sweep` varies one recipe parameter over values and seeds (Bendidi et al. 2024, inter-class
bias statistics), in the foreground or as a background job (`ssrl_core.sweeps.jobs`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrl_core import paths
from ssrl_core.cli._common import clean, emit, fmt
from ssrl_core.sweeps import jobs as sweep_jobs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-compound", help="treated vs control K-Means (k=2) AMI, next to the plate")
    p.add_argument("embeddings")
    p.add_argument("--compound", required=True)
    p.add_argument("--dose", type=float, default=None)
    p.add_argument("--control", default="DMSO")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--map", action="store_true",
                   help="add copairs mAP with wells as replicates (p, q values) and the exploratory cell level")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_check_compound)

    p = sub.add_parser("factors", help="factor probe: which factors the representation encodes")
    p.add_argument("embeddings")
    p.add_argument("--data", help="dataset for the image-based factors (default: the file's `dataset`)")
    p.add_argument("--no-images", action="store_true", help="metadata factors only")
    p.add_argument("--nuclear-channel", type=int, default=0)
    p.add_argument("--quantiles", type=int, default=4)
    p.add_argument("--out", help="write the factor table (.csv)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_factors)

    p = sub.add_parser("sweep", help="vary one recipe parameter over values and seeds; bias statistics")
    p.add_argument("config", help="sweep YAML (see docs/evaluate.md)")
    p.add_argument("--out", help="sweep folder (default: <runs>/sweep-<config name>)")
    p.add_argument("--background", action="store_true",
                   help="start as a detached job (folder under <runs>/sweeps unless --out) and return at once")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_sweep_cmd)


def run_check_compound(args: argparse.Namespace) -> int:
    from ssrl_core.evaluate.compound import check_compound
    from ssrl_core.evaluate.export import read_embeddings

    feats, meta = read_embeddings(args.embeddings)
    r = check_compound(feats, meta, args.compound, control=args.control, dose=args.dose, seed=args.seed,
                       with_map=args.map)
    pr = r["probe"] or {}
    text = (f"{args.compound}{'' if args.dose is None else f' at {args.dose:g}'} ({r['n_treated']} cells) vs "
            f"{args.control} ({r['n_control']} cells); {r['normalisation']['note']}\n"
            f"  treatment: AMI {fmt(r['compound_ami'])} (k=2, single runs within {fmt(r['compound_ami_spread'])}; "
            f"chance {fmt(r['chance95'])}; without per-plate normalisation {fmt(r['compound_ami_raw'])}), "
            f"silhouette {fmt(r['compound_silhouette'])}\n"
            + (f"  probe:     balanced accuracy {fmt(pr['balanced_accuracy'])}, k-NN {fmt(pr['knn'])} "
               f"({pr['held_out']})\n" if pr else "")
            + f"  plate:     AMI {fmt(r['plate_ami'])} (controls), silhouette {fmt(r['plate_silhouette'])}\n"
            f"  {r['verdict']}")
    emit(clean({k: v for k, v in r.items() if k != "protocol"}), args.json, text)
    return 0


def run_factors(args: argparse.Namespace) -> int:
    import numpy as np

    from ssrl_core.evaluate.bias_words import bias_verdict
    from ssrl_core.evaluate.export import read_embeddings, write_table
    from ssrl_core.evaluate.factors import factor_table

    feats, meta = read_embeddings(args.embeddings)
    cells, idx, note = None, None, "metadata factors only"
    if not args.no_images:
        name = args.data or (str(meta["dataset"].iloc[0]) if "dataset" in meta.columns else "")
        if not name or name == "nan":
            raise ValueError("the image factors need the images: give --data NAME_OR_PATH (or --no-images)")
        from ssrl_core.data.registry import load_dataset

        cells = load_dataset(name)
        idx = meta["cell_index"].to_numpy(dtype=np.int64) if "cell_index" in meta.columns else np.arange(len(meta))
        if len(idx) and idx.max() >= len(cells):
            raise ValueError(f"the embeddings refer to cell {idx.max()} but {name!r} has {len(cells)} cells: "
                             "is it the dataset they were made from?")
        note = f"image factors measured on {name} (scaled with the whole dataset's channel ranges)"
    skip = [c for c in ("cell_index", "source_cell_index", "dataset", "cluster", "x", "y") if c in meta.columns]
    table = factor_table(feats, meta.drop(columns=skip), cells, idx, nuclear_channel=args.nuclear_channel,
                         quantiles=args.quantiles)
    if args.out:
        write_table(table, args.out)
    verdict = bias_verdict(table)  # the sentence the Bias page shows
    text = note + "\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}") + "\n" + verdict
    emit({"factors": clean(table.to_dict(orient="records")), "note": note, "verdict": verdict}, args.json, text)
    return 0


def run_sweep_cmd(args: argparse.Namespace) -> int:
    import sys

    from ssrl_core.sweeps.runner import load_sweep, run_sweep

    if args.background:
        path = sweep_jobs.launch(args.config, name=Path(args.config).stem, sweep_dir=args.out)
        emit({"sweep_dir": str(path), "state": "queued"}, args.json,
             f"started in the background: {path} (progress in {path / sweep_jobs.STATUS})")
        return 0
    cfg = load_sweep(args.config)
    out = Path(args.out) if args.out else paths.runs_dir() / f"sweep-{Path(args.config).stem}"
    show = (lambda f, msg: print(f"[{100 * f:5.1f}%] {msg}", file=sys.stderr)) if not args.json else None
    rep = run_sweep(cfg, out, progress=show)
    summary = {"sweep_dir": str(out), "opposite_ratio": rep["opposite_ratio"],
               "opposite_classes": rep["opposite_classes"], "trends": rep["trends"],
               "points": int(rep["results"][["value", "seed"]].drop_duplicates().shape[0])}
    text = (f"sweep in {out}: {summary['points']} points; ratio of classes with an opposite partner "
            f"{fmt(rep['opposite_ratio'])}; trends {rep['trends']}\n"
            + rep["slopes"].to_string(index=False))
    emit(clean(summary), args.json, text)
    return 0
