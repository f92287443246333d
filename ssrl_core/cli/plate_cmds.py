"""`ssrl data import-plate` and `ssrl data import-cellprofiler`: a user's plate in, crops out.

See `ssrl_core.data.plate` (file-name patterns, sites, plate map, nucleus crops) and
`ssrl_core.data.cellprofiler` (crops at CellProfiler's object centres).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssrl_core.cli._common import emit


def register(dsub: argparse._SubParsersAction) -> None:
    """Add the two import commands under `ssrl data`."""
    from ssrl_core.data.patterns import BUILTIN

    p = dsub.add_parser("import-plate", help="a plate folder of field images + a plate map -> nucleus crops")
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument("--plate-map", default=None, metavar="MAP.csv", help="one row per well: well, compound, ...")
    p.add_argument("--pattern", default="auto",
                   help=f"file names: auto, {', '.join(BUILTIN)}, a template like "
                        "'{well}_s{site}_w{channel}.tif' or a regex with (?P<well>...) groups")
    p.add_argument("--plate", default=None, help="plate name when the file names do not say it")
    p.add_argument("--crop", type=int, default=196, help="crop side in pixels (default 196)")
    p.add_argument("--nuclear-channel", default="0", help="index or name of the DNA channel (default 0)")
    p.add_argument("--channels", default=None, help="comma-separated names for the channels, in order")
    p.add_argument("--border", choices=("skip", "pad"), default="skip")
    p.add_argument("--drop-unmapped", action="store_true", help="leave out wells without a plate-map row")
    p.add_argument("--preview", action="store_true", help="only list the matched sites and unmatched files")
    p.add_argument("--out", default=None, metavar="NAME.npz",
                   help="crops file (.npz), or NAME.cells for an on-disk cell store (written site by site, resumable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import_plate)

    p = dsub.add_parser("import-cellprofiler", help="CellProfiler Image.csv + Nuclei.csv -> crops at the centres")
    p.add_argument("image_csv", metavar="Image.csv")
    p.add_argument("objects_csv", metavar="Nuclei.csv")
    p.add_argument("--images", default=None, help="folder of the images (default: PathName_* or the CSV's folder)")
    p.add_argument("--channels", default=None, help="comma-separated FileName_<channel> names to stack")
    p.add_argument("--crop", type=int, default=196)
    p.add_argument("--border", choices=("skip", "pad"), default="skip")
    p.add_argument("--out", required=True, metavar="NAME.npz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import_cellprofiler)


def _names(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _progress(as_json: bool):
    if as_json:
        return None
    return lambda done, total, label: print(f"\r[{done}/{total}] {label:<40}", end="" if done < total else "\n",
                                            file=sys.stderr)


def _listing(title: str, items: list, limit: int = 10) -> list[str]:
    if not items:
        return []
    lines = [f"{title} ({len(items)}):"] + [f"  {i}" for i in items[:limit]]
    return lines + ([f"  ... and {len(items) - limit} more"] if len(items) > limit else [])


def cmd_import_plate(args: argparse.Namespace) -> int:
    from ssrl_core.data.npz import save_npz
    from ssrl_core.data.plate import import_plate, map_rows, read_plate_map, scan_plate

    scan = scan_plate(args.folder, args.pattern, plate=args.plate)
    plate_map = read_plate_map(args.plate_map) if args.plate_map else None
    incomplete = [f"{s['plate']}/{s['well']} site {s['site']}: no channel {', '.join(s['missing'])}"
                  for s in scan.incomplete]
    if args.preview:
        _, unmapped = map_rows(scan, plate_map)
        out = {"pattern": scan.pattern, "channels": scan.channels, "sites": len(scan.sites),
               "wells": len(scan.wells()), "preview": scan.table().head(50).to_dict("records"),
               "unmatched": scan.unmatched, "not_read": scan.not_read, "incomplete": scan.incomplete,
               "unmapped_wells": unmapped}
        text = "\n".join([f"pattern {scan.pattern}: {len(scan.sites)} sites in {len(scan.wells())} wells, "
                          f"channels {', '.join(scan.channels)}", scan.table().head(20).to_string(index=False)]
                         + _listing("unmatched files", scan.unmatched) + _listing("incomplete sites", incomplete)
                         + _listing("links and special files not followed", scan.not_read)
                         + _listing("wells without a plate-map row", unmapped))
        emit(out, args.json, text)
        return 0
    if not args.out:
        raise ValueError("give --out NAME.npz (or --preview to only look at the matched files)")
    channel = int(args.nuclear_channel) if args.nuclear_channel.isdigit() else args.nuclear_channel
    cells, report = import_plate(scan, plate_map, crop=args.crop, nuclear_channel=channel,
                                 names=_names(args.channels), border=args.border, drop_unmapped=args.drop_unmapped,
                                 progress=_progress(args.json), name=Path(args.out).name.removesuffix(".cells"),
                                 out=args.out if str(args.out).endswith(".cells") else None)  # .cells: a store
    out = report["out"] if "out" in report else save_npz(cells, args.out)
    report["out"] = str(out)
    text = "\n".join([f"{report['cells']} nucleus crops of {args.crop} px from {report['sites']} sites "
                      f"({scan.pattern}) saved to {out}"]
                     + _listing("unmatched files", report["unmatched"]) + _listing("incomplete sites", incomplete)
                     + _listing("links and special files not followed", report["not_read"])
                     + _listing("wells without a plate-map row", report["unmapped_wells"])
                     + _listing("plate-map wells without images", report["map_wells_without_images"])
                     + _listing("sites that could not be read", [f"{f['site']}: {f['reason']}" for f in report["failed"]]))
    emit(report, args.json, text)
    return 0


def cmd_import_cellprofiler(args: argparse.Namespace) -> int:
    from ssrl_core.data.cellprofiler import import_cellprofiler
    from ssrl_core.data.npz import save_npz

    cells, report = import_cellprofiler(args.image_csv, args.objects_csv, image_root=args.images, size=args.crop,
                                        channels=_names(args.channels), border=args.border,
                                        progress=_progress(args.json), name=Path(args.out).stem)
    report["out"] = str(save_npz(cells, args.out))
    text = "\n".join([f"{report['cells']} crops of {args.crop} px at {report['objects']} CellProfiler objects "
                      f"({report['skipped_border']} too close to the edge) saved to {report['out']}"]
                     + _listing("images not found", report["missing_images"]))
    emit(report, args.json, text)
    return 0
