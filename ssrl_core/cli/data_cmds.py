"""`ssrl data ...`: list, inspect, cut nucleus crops from a field, download datasets.

`ssrl data sources` and `ssrl data download NAME` read the source table (`ssrl_core.data.sources`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ssrl_core import paths
from ssrl_core.cli import plate_cmds  # import-plate, import-cellprofiler
from ssrl_core.cli._common import emit

if TYPE_CHECKING:
    import numpy as np

SMALL_CATEGORICAL = 30  # columns with at most this many distinct values get value counts


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="list, inspect, crop and download datasets")
    dsub = data.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    dsub.required = True

    p = dsub.add_parser("list", help="every dataset found, with cell count, shape, dtype, channels")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_list)

    p = dsub.add_parser("info", help="one dataset: shape, channels, metadata columns and value counts")
    p.add_argument("dataset", metavar="PATH_OR_NAME")
    _channel_axis(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_info)

    p = dsub.add_parser("nuclei", help="detect nuclei on a field image and save nucleus-centred crops")
    p.add_argument("field", metavar="FIELD_IMAGE")
    p.add_argument("--crop", type=int, default=196, help="crop side in pixels (default 196, as in the paper)")
    p.add_argument("--channel", default="0", help="nuclear channel: index or name (e.g. DAPI) (default 0)")
    p.add_argument("--channels", default=None, help="comma-separated channel names of the field")
    _channel_axis(p)
    p.add_argument("--border", choices=("skip", "pad"), default="skip",
                   help="nuclei too close to the edge: skip them (default) or pad the crop")
    p.add_argument("--out", required=True, metavar="CROPS.npz",
                   help="crops file (.npz), or a NAME.cells folder for an on-disk cell store")
    p.add_argument("--masks", default=None, metavar="LABELS.tif",
                   help="your own label mask of the field (CellProfiler, Cellpose *_cp_masks, StarDist): crop its "
                        "objects instead of detecting nuclei")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="largest field read, in pixels per plane (default 8192x8192 = 67,108,864; detection "
                        "needs about 40 bytes per pixel, so raise it only with the memory for it)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_nuclei)

    p = dsub.add_parser("sources", help="the data sources the tool knows: what they are, how to get them")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sources)

    from ssrl_core.data.sources import downloadable

    names = [src.name for src in downloadable()]
    p = dsub.add_parser("download", help=f"download or build a data source ({', '.join(names)}; needs the internet)")
    p.add_argument("source", choices=names)
    p.add_argument("--plates", nargs="*", default=None, help="BBBC021 plates, e.g. Week1_22123")
    p.add_argument("--compounds", nargs="*", default=None, help="BBBC021 compounds, e.g. nocodazole taxol")
    p.add_argument("--doses", nargs="*", type=float, default=None, help="BBBC021 concentrations (uM)")
    p.add_argument("--crop", type=int, default=None, help="BBBC021 crop side in pixels (default 196)")
    p.add_argument("--store", action="store_true", help="BBBC021: write an on-disk cell store (NAME.cells), "
                   "field by field and resumable, instead of one npz")
    p.add_argument("--classes", nargs="*", default=None, help="MitoCheck phenotypes (default all)")
    p.add_argument("--per-class", type=int, default=None, help="MitoCheck: at most this many crops per class")
    p.add_argument("--root", default=None, help="CIFAR-10: where the release archive goes (default <cache>/cifar10)")
    p.add_argument("--dest", default=None, help="data folder (default: the data directory)")
    p.add_argument("--base-url", default=None, help="server to download from (default: the public one, or the "
                   "source's SSRL_*_URL mirror)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_download)


    plate_cmds.register(dsub)


def _channel_axis(p: argparse.ArgumentParser) -> None:
    from ssrl_core.data.axes import CHOICES

    p.add_argument("--channel-axis", choices=CHOICES, default="auto",
                   help="multi-page TIFFs that do not say where their channels are: first = each page is a "
                        "channel, last = the last axis holds them (default auto: as the file's OME/ImageJ "
                        "axes say; a stack that says nothing is refused with this hint)")


def _row(d: dict) -> str:
    if "error" in d:
        return f"{d['name']:<40} UNREADABLE: {d['error']}"
    shape = f"{d['height']}x{d['width']}x{d['channels']}"
    unnamed = " (names not stored)" if d.get("note") else ""
    return (f"{d['name']:<40} {d['cells']:>7} cells  {shape:<10} {d['dtype']:<8} "
            f"{', '.join(d['channel_names'])}{unnamed}")


def source_rows() -> list[dict]:
    """One row per source of the table: name, title, description, channels, download, where it is."""
    from ssrl_core.data.sources import SOURCES

    rows = []
    for src in SOURCES:
        here = src.builtin is not None or any(p.is_file() for p in src.locations())
        rows.append({"name": src.name, "title": src.title, "description": src.description,
                     "channels": list(src.channels), "here": here,
                     "download": (f"ssrl data download {src.name}" if src.download else None),
                     "download_help": src.download_help or None, "missing": src.missing or None})
    return rows


def cmd_sources(args: argparse.Namespace) -> int:
    rows = source_rows()
    lines = []
    for r in rows:
        how = f"{r['download']}: {r['download_help']}" if r["download"] else "ships with the tool"
        lines += [f"{r['name']}: {r['title']}" + ("" if r["here"] else "  [not on this computer]"),
                  f"  {r['description']}", f"  channels: {', '.join(r['channels'])}; get it: {how}"]
    emit({"sources": rows}, args.json, "\n".join(lines))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ssrl_core.data.registry import list_datasets

    sets = list_datasets(include_broken=True)
    problem = paths.data_dir_problem()
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    emit({"datasets": sets, "warnings": [problem] if problem else []}, args.json,
         "\n".join(_row(d) for d in sets) or "no datasets found")
    return 0


def dataset_details(name_or_path: str, channel_axis: str = "auto") -> dict:
    """Summary of one dataset plus value counts of its small categorical columns."""
    from ssrl_core.data.registry import load_dataset, resolve

    cells = load_dataset(name_or_path, channel_axis)
    info = cells.summary()
    path = resolve(name_or_path)
    info["path"] = str(path)
    if isinstance(path, Path) and path.suffix == ".npz":
        from ssrl_core.data.registry import dataset_info

        note = dataset_info(path).get("note")
        if note:
            info["note"] = note
    counts = {}
    for col in cells.meta.columns:
        s = cells.meta[col]
        if s.nunique(dropna=False) <= SMALL_CATEGORICAL and (s.dtype.kind not in "f" or col == "concentration"):
            counts[str(col)] = {str(k): int(v) for k, v in s.value_counts(dropna=False).items()}
    info["value_counts"] = counts
    info["skipped_files"] = [{"file": f, "reason": r} for f, r in cells.skipped]
    return info


def cmd_info(args: argparse.Namespace) -> int:
    info = dataset_details(args.dataset, args.channel_axis)
    lines = [_row(info), f"path: {info['path']}", f"columns: {', '.join(info['columns'])}"]
    if info.get("note"):
        lines.append(f"note: {info['note']}")
    for col, counts in info["value_counts"].items():
        lines.append(f"  {col}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if info["skipped"]:
        lines.append(f"skipped {info['skipped']} bad input(s):")
        lines += [f"  {s['file']}: {s['reason']}" for s in info["skipped_files"]]
    emit(info, args.json, "\n".join(lines))
    return 0


def _read_field(path: Path, max_pixels: int | None, channel_axis: str = "auto") -> np.ndarray:
    from ssrl_core.data.imagefile import FIELD_PIXELS, BadImage, read_field_image

    if not path.is_file():
        raise FileNotFoundError(f"no such field image: {path}")
    try:
        return read_field_image(path, max_pixels or FIELD_PIXELS, channel_axis)
    except BadImage as exc:
        hint = "; raise the limit with --max-pixels if this machine has the memory" if "limit" in str(exc) else ""
        raise ValueError(f"{path.name}: {exc}{hint}") from None


def cmd_nuclei(args: argparse.Namespace) -> int:
    from ssrl_core.data.fields import nucleus_crops
    from ssrl_core.data.npz import save_npz

    path, out = Path(args.field), Path(args.out)
    to_store = out.name.endswith(".cells")  # an on-disk cell store (ssrl_core.data.store)
    if out.is_dir() and not to_store:
        raise ValueError(f"--out {out} is a folder; give the crops file to write, e.g. {out / (path.stem + '.npz')}")
    if args.max_pixels is not None and args.max_pixels < 1:
        raise ValueError(f"--max-pixels must be a positive number of pixels; got {args.max_pixels}")
    field = _read_field(path, args.max_pixels, args.channel_axis)
    c = field.shape[2]
    names = [s.strip() for s in args.channels.split(",")] if args.channels else None
    if names is not None and len(names) != c:
        raise ValueError(f"--channels names {len(names)} channel(s) but {path.name} has {c}")
    names = names or (["DNA"] if c == 1 else [f"ch{i}" for i in range(c)])
    if args.channel.isdigit():
        idx = int(args.channel)
    elif args.channel.lower() in [n.lower() for n in names]:
        idx = [n.lower() for n in names].index(args.channel.lower())
    else:
        raise ValueError(f"no channel named {args.channel!r}; the channels are {', '.join(names)} (or give an index)")
    labels = None
    if args.masks:
        from ssrl_core.data.imagefile import read_field_image

        labels = read_field_image(Path(args.masks))
    if to_store and labels is None:
        from ssrl_core.data.fields import nuclei_to_store

        out, rep = nuclei_to_store([(path.name, lambda: field, {"field": path.name, "source": path.stem})], out,
                                   size=args.crop, nuclear_channel=idx, channels=names, border=args.border,
                                   name=out.name[:-6])
        emit({"out": str(out), "cells": rep["cells"], "crop": args.crop, "nuclear_channel": names[idx],
              "channels": names, "dtype": str(field.dtype)}, args.json,
             f"{rep['cells']} nucleus crops of {args.crop} px saved to the cell store {out}")
        return 0
    cells = nucleus_crops(field, size=args.crop, nuclear_channel=idx, channels=names, border=args.border,
                          meta={"field": path.name, "source": path.stem}, name=Path(args.out).stem, labels=labels)
    if len(cells) == 0:
        raise ValueError(f"no nucleus crops of {args.crop} px could be cut from {path.name} "
                         "(no nuclei found, or all too close to the edge: try a smaller --crop or --border pad)")
    out = save_npz(cells, out)
    result = {"out": str(out), "cells": len(cells), "crop": args.crop, "nuclear_channel": names[idx],
              "channels": names, "dtype": str(cells.images.dtype)}
    emit(result, args.json, f"{len(cells)} nucleus crops of {args.crop} px saved to {out}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from ssrl_core.data.download import terminal_progress
    from ssrl_core.data.registry import dataset_info
    from ssrl_core.data.sources import download

    dest = Path(args.dest) if args.dest else paths.data_dir()
    options = {"plates": args.plates, "compounds": args.compounds, "doses": args.doses, "crop": args.crop,
               "store": args.store, "classes": args.classes, "per_class": args.per_class, "root": args.root,
               "base_url": args.base_url}
    out = download(args.source, dest, progress=terminal_progress(sys.stderr), **options)
    result = {"source": args.source, "out": str(out), **dataset_info(out)}
    emit(result, args.json, f"saved {result['cells']} cells to {out}")
    return 0
