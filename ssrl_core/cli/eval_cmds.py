"""`ssrl embed | cluster | probe | project | compare`: embeddings and what they separate.

Each command but `embed` reads an embedding file written by `ssrl embed` (Parquet or CSV:
`cell_index`, `dataset`, metadata, `emb_0..emb_{d-1}`; see docs/evaluate.md) and calls
`ssrl_core.evaluate`. The bias commands (`check-compound`, `factors`, `sweep`) are in `bias_cmds`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ssrl_core.cli._common import CLUSTERS, clean, emit, fmt
from ssrl_core.cli.embed_procs_cmd import embed_in_parts, start_torchrun, under_torchrun
from ssrl_core.evaluate.verdicts import probe_words
from ssrl_core.models.shipped import heldout_mask


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed cells with a checkpoint or a baseline, write EMB.parquet")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint file or run folder")
    src.add_argument("--encoder", help="baseline: random-<backbone>, imagenet-vgg16, hand-features")
    p.add_argument("--data", required=True, help="dataset name (see `ssrl data list`) or file path")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="keep only cells with this metadata value (repeatable)")
    p.add_argument("--heldout", choices=("mitocheck", "bbbc021", "demo"),
                   help="keep only the held-out cells the shipped checkpoints of this group were scored on "
                        "(their cards' and docs/results.md's numbers)")
    p.add_argument("--out", required=True, help="output .parquet or .csv")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=None,
                   help="crops per forward pass (default: 1024 on a GPU; on a CPU the most that keep the largest "
                        "layer output under 16 MB); the embeddings do not depend on it")
    p.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    p.add_argument("--procs", type=int, default=None, metavar="N",
                   help="embed in N processes (started with torchrun; on CUDA one GPU each), in resumable parts "
                        "(a rerun keeps finished parts); also what runs under torchrun on several machines")
    p.add_argument("--shard-cells", type=int, default=None, metavar="CELLS",
                   help="cells per part with --procs or torchrun (default 16384)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_embed)

    p = sub.add_parser("cluster", help="K-Means on embeddings (the evaluation protocol): AMI and its spread, "
                                       "ARI, NMI, silhouette, the plate's share")
    p.add_argument("embeddings")
    p.add_argument("--k", type=CLUSTERS, default=None, help="clusters (default: number of groups in --by)")
    p.add_argument("--by", required=True, help="metadata column to compare the clusters with")
    p.add_argument("--control", default="auto",
                   help="control value to normalise each plate to (default: DMSO/negcon when present; 'none': no controls)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the table with a `cluster` column (.parquet or .csv)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_cluster)

    p = sub.add_parser("probe", help="linear probe and k-NN trained on other plates (or wells): balanced accuracy")
    p.add_argument("embeddings")
    p.add_argument("--by", required=True)
    p.add_argument("--control", default="auto", help="as for `cluster`")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_probe)

    p = sub.add_parser("project", help="2-D map (UMAP, t-SNE or PCA) of embeddings to CSV/Parquet")
    p.add_argument("embeddings")
    p.add_argument("--method", choices=("umap", "tsne", "pca"), default="umap")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--n-neighbors", type=int, default=15)
    p.add_argument("--min-dist", type=float, default=0.1)
    p.add_argument("--max-iter", type=int, default=500, help="t-SNE iterations")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_project)

    p = sub.add_parser("compare", help="two embeddings of the same cells side by side")
    p.add_argument("embeddings_a")
    p.add_argument("embeddings_b")
    p.add_argument("--by", required=True)
    p.add_argument("--k", type=CLUSTERS, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_compare)


def _parse_where(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--where needs COLUMN=VALUE; got {item!r}")
        col, value = item.split("=", 1)
        out.setdefault(col.strip(), []).append(value.strip())
    return out


def _select(cells, where: dict[str, Any]):
    import numpy as np
    import pandas as pd

    mask = np.ones(len(cells), dtype=bool)
    for col, values in where.items():
        if col not in cells.meta.columns:
            raise ValueError(f"no metadata column {col!r}; columns are {list(cells.meta.columns)}")
        column = cells.meta[col]
        hit = np.array(column.astype(str).isin(values), dtype=bool)
        numbers = [float(v) for v in values if v.replace(".", "", 1).replace("-", "", 1).isdigit()]
        if numbers:  # `--where concentration=15` matches 15.0
            hit |= np.isin(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float), numbers)
        mask &= hit
    if not mask.any():
        raise ValueError(f"no cell matches {where}")
    return mask


def run_embed(args: argparse.Namespace) -> int:
    import sys


    if args.procs is not None and args.procs > 1 and not under_torchrun():
        return start_torchrun(args)  # before torch is imported here: the launcher stays small

    import numpy as np

    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate.embedding import embed_with_info
    from ssrl_core.evaluate.encoders import check_fit
    from ssrl_core.evaluate.export import embedding_frame, write_table

    cells = load_dataset(args.data)
    keep = np.ones(len(cells), dtype=bool)
    if args.where:
        keep &= _select(cells, _parse_where(args.where))
    if args.heldout:
        keep &= heldout_mask(cells.meta, args.heldout)
    index = np.flatnonzero(keep)
    if len(index) < len(cells):
        if len(index) == 0:
            raise ValueError("no cell is left after --where / --heldout")
        cells = cells.subset(index)
    encoder = args.checkpoint or args.encoder
    warning = check_fit(encoder, cells.shape[2], cells.shape[0])  # refuses a channel misfit
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.procs is not None or under_torchrun():
        return embed_in_parts(args, cells, encoder, index)
    show = (lambda f: print(f"\rembedding {100 * f:5.1f}%", end="", file=sys.stderr)) if not args.json else None
    feats, info = embed_with_info(cells, encoder, progress=show, device=args.device,
                                  batch_size=args.batch_size, use_cache=not args.no_cache)
    if show:
        print(file=sys.stderr)
    if info.get("cache_note"):
        print(f"note: {info['cache_note']}", file=sys.stderr)
    write_table(embedding_frame(cells.meta, feats, dataset=str(args.data), cell_index=index), args.out)
    report = {"out": str(args.out), "cells": len(cells), "dim": int(feats.shape[1]), "encoder": encoder,
              "cached": bool(info.get("cached")), **({"warning": warning} if warning else {})}
    emit(report, args.json, f"wrote {len(cells)} embeddings of {feats.shape[1]} dimensions to {args.out}"
                            f"{' (from cache)' if info.get('cached') else ''}")
    return 0


def _control(value: str) -> str | None:
    return None if str(value).lower() == "none" else value


def run_cluster(args: argparse.Namespace) -> int:
    import numpy as np

    from ssrl_core.evaluate.export import read_table, require_column, split_embeddings, write_table
    from ssrl_core.evaluate.protocol import evaluate_cells, summary

    table = read_table(args.embeddings)
    feats, meta = split_embeddings(table)
    require_column(meta, args.by)
    res = evaluate_cells(feats, meta, args.by, k=args.k, control=_control(args.control), seed=args.seed, probe=False)
    cm = res["cluster"]
    if args.out:
        clusters = np.full(len(table), -1, dtype=np.int64)
        clusters[meta[args.by].notna().to_numpy()] = cm["clusters"]
        write_table(table.assign(cluster=clusters), args.out)
    comp = cm["composition"]
    out = summary(res)
    out.update(by=args.by, sizes=cm["sizes"], ami_runs=cm["ami_runs"], normalisation_note=res["normalisation"]["note"],
               composition={int(c): row.to_dict() for c, row in comp.iterrows()})
    text = (f"K-Means k={out['k']} on {out['n']} cells vs {args.by!r} ({res['normalisation']['note']})\n"
            f"AMI {fmt(out['ami'])} (median of {cm['runs']} runs; single runs {fmt(min(cm['ami_runs']))} to "
            f"{fmt(max(cm['ami_runs']))}; chance level {fmt(cm['chance95'])}), ARI {fmt(out['ari'])}, "
            f"NMI {fmt(out['nmi'])}, silhouette {fmt(out['silhouette'])}\n{res['words']}\n" + comp.to_string())
    emit(clean(out), args.json, text)
    return 0


def run_probe(args: argparse.Namespace) -> int:
    from ssrl_core.evaluate.export import read_embeddings, require_column
    from ssrl_core.evaluate.heldout_probe import heldout_probe
    from ssrl_core.evaluate.normalise import normalise

    feats, meta = read_embeddings(args.embeddings)
    labels = require_column(meta, args.by)
    keep = labels.notna().to_numpy()
    norm = normalise(feats, meta, _control(args.control))
    res = heldout_probe(norm.features[keep], labels[keep], meta[keep], seed=args.seed)
    per = {str(r["class"]): {"cells": int(r["cells"]), "probe": float(r["probe"]), "knn": float(r["knn"])}
           for _, r in res["per_class"].iterrows()}
    out = {"by": args.by, **{k: res[k] for k in ("balanced_accuracy", "top1", "knn", "knn_top1", "chance", "chance95",
                                                  "knn_chance95", "held_out_by", "folds", "held_out", "classes", "n",
                                                  "dropped")},
           "per_class": per, "normalisation": norm.summary()}
    text = (f"probe on {args.by!r}, {res['held_out']}:\n{probe_words(res, args.by)}\n"
            + res["per_class"].to_string(index=False))
    emit(clean(out), args.json, text)
    return 0


def run_project(args: argparse.Namespace) -> int:
    import time

    from ssrl_core.evaluate.export import read_table, split_embeddings, write_table
    from ssrl_core.evaluate.projection import project

    table = read_table(args.embeddings)
    feats, meta = split_embeddings(table)
    t0 = time.perf_counter()
    xy = project(feats, args.method, seed=args.seed, perplexity=args.perplexity,
                 n_neighbors=args.n_neighbors, min_dist=args.min_dist, max_iter=args.max_iter)
    write_table(meta.assign(x=xy[:, 0], y=xy[:, 1]), args.out)
    out = {"out": str(args.out), "method": args.method, "cells": len(xy), "seconds": time.perf_counter() - t0}
    emit(out, args.json, f"wrote {args.method} map of {len(xy)} cells to {args.out}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    import numpy as np

    from ssrl_core.evaluate.comparison import compare
    from ssrl_core.evaluate.export import read_embeddings, require_column

    fa, ma = read_embeddings(args.embeddings_a)
    fb, mb = read_embeddings(args.embeddings_b)
    if len(fa) != len(fb) or ("cell_index" in ma.columns and "cell_index" in mb.columns
                              and not np.array_equal(ma["cell_index"].to_numpy(), mb["cell_index"].to_numpy())):
        raise ValueError("the two files do not describe the same cells in the same order; embed the same data twice")
    names = (Path(args.embeddings_a).stem, Path(args.embeddings_b).stem)
    if names[0] == names[1]:
        names = ("A", "B")
    require_column(ma, args.by)
    res = compare(fa, fb, ma, args.by, k=args.k, seed=args.seed, names=names)
    out = {"by": args.by, "names": res["names"], "metrics": res["metrics"].to_dict(orient="records"),
           "per_class": res["per_class"].to_dict(orient="records"), "verdicts": res["verdicts"]}
    text = ("\n".join(res["verdicts"]) + "\n\n" + res["metrics"].to_string(index=False) + "\n\n"
            + res["per_class"].to_string(index=False))
    emit(clean(out), args.json, text)
    return 0
