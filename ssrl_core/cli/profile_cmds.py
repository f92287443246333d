"""`ssrl profiles | export-anndata | map`: embeddings out to the profiling ecosystem.

- `profiles`: per-cell and per-well profiles in the pycytominer convention (CSV or Parquet),
  optionally normalised to the control wells (`ssrl_core.evaluate.profiles`).
- `export-anndata`: an `.h5ad` for scanpy (`ssrl_core.evaluate.anndata_export`).
- `map`: phenotypic activity (copairs mAP, p- and q-values) of every treatment against the
  controls (`ssrl_core.evaluate.map_copairs`).
"""

from __future__ import annotations

import argparse

from ssrl_core.cli._common import clean, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profiles", help="per-cell / per-well profiles (pycytominer convention) from embeddings")
    p.add_argument("embeddings")
    p.add_argument("--cells", default=None, metavar="CELLS.parquet", help="per-cell profiles (.csv or .parquet)")
    p.add_argument("--wells", default=None, metavar="WELLS.csv", help="per-well median profiles (.csv or .parquet)")
    p.add_argument("--normalize", default=None, metavar="CONTROL",
                   help="z-score features to these control rows (e.g. DMSO) with pycytominer.normalize")
    p.add_argument("--control-column", default="compound", help="metadata column holding the control name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_profiles)

    p = sub.add_parser("export-anndata", help="embeddings (+ clusters, map) to an AnnData .h5ad for scanpy")
    p.add_argument("embeddings")
    p.add_argument("--out", required=True, metavar="CELLS.h5ad")
    p.add_argument("--map", choices=("umap", "tsne", "pca"), default="umap",
                   help="which method made the x, y columns (from `ssrl project`), if any")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_anndata)

    p = sub.add_parser("map", help="mean average precision (copairs) of each treatment against controls")
    p.add_argument("embeddings", help="an embedding file (`ssrl embed`) or a pycytominer profile table "
                                      "(Metadata_* columns + features, e.g. normalised, feature-selected wells)")
    p.add_argument("--control", default="DMSO")
    p.add_argument("--by", default="compound,concentration", help="columns that define a treatment")
    p.add_argument("--level", choices=("cell", "site", "well"), default="well",
                   help="replicates: wells (default, the field's way); cell is exploratory (never significant). "
                        "A profile table is scored row by row")
    p.add_argument("--same-plate", action="store_true", help="negatives only from controls of the same plate")
    p.add_argument("--stream", action="store_true",
                   help="read a parquet embedding table one row group at a time (bounded memory: a whole screen); "
                        "well level, per-plate normalisation to the controls, the same numbers as without it")
    p.add_argument("--null-size", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the table (.csv or .parquet)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_map)


def run_profiles(args: argparse.Namespace) -> int:
    from ssrl_core.evaluate.export import read_embeddings, write_table
    from ssrl_core.evaluate.profiles import cell_profiles, metadata_name, normalize_profiles, well_profiles

    if not args.cells and not args.wells:
        raise ValueError("give --cells and/or --wells (output files)")
    feats, meta = read_embeddings(args.embeddings)
    cells = cell_profiles(feats, meta)
    column, notes, out = metadata_name(args.control_column), [], {"cells": len(cells), "features": feats.shape[1]}
    wells = well_profiles(cells) if args.wells else None
    if args.normalize:
        cells, note = normalize_profiles(cells, args.normalize, column=column)
        notes.append(f"cells: {note}")
        if wells is not None:
            wells, note = normalize_profiles(wells, args.normalize, column=column)
            notes.append(f"wells: {note}")
    if args.cells:
        out["cells_out"] = str(write_table(cells, args.cells))
    if wells is not None:
        out["wells"] = len(wells)
        out["wells_out"] = str(write_table(wells, args.wells))
    out["notes"] = notes
    text = "\n".join([f"{len(cells)} cell profiles" + (f" -> {args.cells}" if args.cells else "")]
                     + ([f"{len(wells)} well profiles (median) -> {args.wells}"] if wells is not None else [])
                     + [f"normalised: {n}" for n in notes])
    emit(out, args.json, text)
    return 0


def run_anndata(args: argparse.Namespace) -> int:
    from ssrl_core.evaluate.anndata_export import MAP_KEYS, embedding_to_h5ad
    from ssrl_core.evaluate.export import read_table

    table = read_table(args.embeddings)
    dataset = str(table["dataset"].iloc[0]) if "dataset" in table.columns and len(table) else ""
    path = embedding_to_h5ad(table, args.out, info={"dataset": dataset, "source": str(args.embeddings),
                                                    "map": args.map})
    has_map = {"x", "y"} <= set(table.columns)
    out = {"out": str(path), "cells": len(table), "obsm": [MAP_KEYS[args.map]] if has_map else [],
           "cluster": "cluster" in table.columns}
    emit(out, args.json, f"wrote {len(table)} cells to {path}" + (f" (with {MAP_KEYS[args.map]})" if has_map else ""))
    return 0


def _map_inputs(path: str, control: str):
    """(features, metadata, what) from an embedding file (normalised per plate to `control` first)
    or a profile table (used as it is)."""
    from ssrl_core.evaluate.export import EMB_PREFIX, read_table, split_embeddings
    from ssrl_core.evaluate.normalise import normalise
    from ssrl_core.evaluate.profiles import split_profiles

    table = read_table(path)
    if any(str(c).startswith(EMB_PREFIX) for c in table.columns):
        feats, meta = split_embeddings(table)
        norm = normalise(feats, meta, control=control, clip=None)
        return norm.features, meta, f"embeddings, {norm.note[0].lower()}{norm.note[1:]}"
    feats, meta = split_profiles(table)
    return feats, meta, "a profile table, used as it is (one replicate per row)"


def run_map(args: argparse.Namespace) -> int:
    import numpy as np

    from ssrl_core.evaluate.export import require_column, write_table
    from ssrl_core.evaluate.map_copairs import activity_map

    cols = [c.strip() for c in args.by.split(",") if c.strip()]
    if args.stream:
        return _run_map_streamed(args, cols)
    feats, meta, what = _map_inputs(args.embeddings, args.control)
    level = "profile" if what.startswith("a profile table") else args.level
    parts = [require_column(meta, c).astype(str) for c in cols if c in meta.columns or c == cols[0]]
    label = parts[0].copy()
    for p in parts[1:]:
        label = label + " @ " + p
    is_ctrl = parts[0].str.lower() == args.control.lower()
    label = np.where(is_ctrl, args.control, label.to_numpy())
    table = activity_map(feats, meta, label, control=args.control, level=level, same_plate=args.same_plate,
                         null_size=args.null_size, seed=args.seed)
    if args.out:
        write_table(table, args.out)
    text = (f"mAP against {args.control} at the {level} level"
            f"{' (same-plate controls)' if args.same_plate else ''}; input: {what}\n"
            + table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    emit({"level": level, "control": args.control, "input": what,
          "treatments": clean(table.to_dict(orient="records"))}, args.json, text)
    return 0


def _run_map_streamed(args: argparse.Namespace, cols: list[str]) -> int:
    """`ssrl map --stream`: well profiles and mAP read from the table in row groups (`plate_stream`)."""
    from ssrl_core.evaluate.export import write_table
    from ssrl_core.evaluate.plate_stream import plate_profiles

    if args.level != "well" or args.same_plate:
        raise ValueError("--stream scores wells against all controls: drop --level/--same-plate, or --stream")
    if not str(args.embeddings).endswith(".parquet"):
        raise ValueError("--stream reads a parquet embedding table (`ssrl embed --out NAME.parquet`)")
    table = plate_profiles(args.embeddings, control=args.control, by=tuple(cols), null_size=args.null_size,
                           seed=args.seed)["map"]
    if args.out:
        write_table(table, args.out)
    what = "an embedding table, streamed by row group"
    text = (f"mAP against {args.control} at the well level; input: {what}\n"
            + table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    emit({"level": "well", "control": args.control, "input": what,
          "treatments": clean(table.to_dict(orient="records"))}, args.json, text)
    return 0
