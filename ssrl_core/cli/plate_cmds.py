"""`ssrl data import-plate`, `import-cellprofiler` and `check-nuclei`: a user's plate in, crops out.

See `ssrl_core.data.plate` (file-name patterns, sites, plate map, nucleus crops),
`ssrl_core.data.cellprofiler` / `cp_tables` (crops at CellProfiler's object centres, from CSV,
SQLite or parquet) and `ssrl_core.data.seg_qc` (the nucleus check shown before an import, and
the comparison with CellProfiler's nuclei).
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
    p.add_argument("--treatment", default=None, metavar="COLUMN",
                   help="plate-map column naming each well's treatment (default: compound, pert_iname, ...)")
    p.add_argument("--controls", default=None, metavar="RULE",
                   help="how control wells are marked: 'control_type == negcon' (JUMP) or a treatment value (DMSO)")
    p.add_argument("--control-name", default="DMSO", help="the treatment name given to control wells (default DMSO)")
    p.add_argument("--check-sites", type=int, default=4, metavar="N",
                   help="check nucleus detection on N sites first and print the report (default 4; 0: no check)")
    p.add_argument("--drop-unmapped", action="store_true", help="leave out wells without a plate-map row")
    p.add_argument("--preview", action="store_true", help="only list the matched sites and unmatched files")
    p.add_argument("--out", default=None, metavar="NAME.npz",
                   help="crops file (.npz), or NAME.cells for an on-disk cell store (written site by site, resumable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import_plate)

    p = dsub.add_parser("import-cellprofiler", help="CellProfiler output (CSV, SQLite, parquet) -> crops at the centres")
    p.add_argument("image_csv", metavar="SOURCE",
                   help="Image.csv, a SQLite database (ExportToDatabase or cytominer-database), a CytoTable "
                        "single-cell table (.parquet/.csv) or a folder of tables")
    p.add_argument("objects_csv", metavar="Nuclei.csv", nargs="?", default=None,
                   help="the object table, when SOURCE is only Image.csv")
    p.add_argument("--compartment", default=None, help="whose centres to crop around: Nuclei (default), Cells ...")
    p.add_argument("--images", default=None, help="folder of the images (default: PathName_* or the CSV's folder)")
    p.add_argument("--channels", default=None,
                   help="comma-separated FileName_<channel> names to stack (default: the original images, Orig*)")
    p.add_argument("--crop", type=int, default=196)
    p.add_argument("--border", choices=("skip", "pad"), default="skip")
    p.add_argument("--out", required=True, metavar="NAME.npz",
                   help="crops file (.npz), or NAME.cells for an on-disk cell store (written image by image, resumable)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_import_cellprofiler)

    p = dsub.add_parser("check-nuclei", help="compare this tool's nuclei with CellProfiler's on the same images")
    p.add_argument("source", metavar="SOURCE", help="CellProfiler output, as for import-cellprofiler")
    p.add_argument("objects", metavar="Nuclei.csv", nargs="?", default=None)
    p.add_argument("--images", default=None, help="folder of the images")
    p.add_argument("--channel", default=None, help="the DNA image's FileName_<channel> (default: DNA, DAPI ...)")
    p.add_argument("--compartment", default="Nuclei")
    p.add_argument("--radius", type=float, default=5.0, help="centres closer than this many pixels match (default 5)")
    p.add_argument("--max-images", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_check_nuclei)


LARGE = 8  # sites: above this, the nucleus check is printed before the import starts


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
    import pandas as pd

    from ssrl_core.data.npz import save_npz
    from ssrl_core.data.plate import import_plate, map_rows, read_plate_map, scan_plate
    from ssrl_core.data.seg_qc import plate_qc, qc_lines

    scan = scan_plate(args.folder, args.pattern, plate=args.plate)
    plate_map = read_plate_map(args.plate_map, treatment=args.treatment, controls=args.controls,
                               control_name=args.control_name) if args.plate_map else None
    channel = int(args.nuclear_channel) if args.nuclear_channel.isdigit() else args.nuclear_channel
    _, unmapped = map_rows(scan, plate_map)  # a map of another plate is refused before any reading
    qc = plate_qc(scan, channel, _names(args.channels), sites=args.check_sites, overlays=0)
    qc_text = qc_lines(qc)
    qc_out = {k: qc[k] for k in ("fields", "warnings", "failed", "objects_per_field") if k in qc}
    notes = [] if plate_map is None else plate_map.attrs.get("notes", [])
    incomplete = [f"{s['plate']}/{s['well']} site {s['site']}: no channel {', '.join(s['missing'])}"
                  for s in scan.incomplete]
    if args.preview:
        out = {"pattern": scan.pattern, "channels": scan.channels, "sites": len(scan.sites),
               "wells": len(scan.wells()), "preview": scan.table().head(50).to_dict("records"),
               "unmatched": scan.unmatched, "not_read": scan.not_read, "incomplete": scan.incomplete,
               "unmapped_wells": unmapped, "matches": scan.matches, "nucleus_check": qc_out, "map_notes": notes}
        text = "\n".join([f"pattern {scan.pattern}: {len(scan.sites)} sites in {len(scan.wells())} wells, "
                          f"channels {', '.join(scan.channels)}", "how the file names were read:",
                          pd.DataFrame(scan.matches).to_string(index=False),
                          scan.table().head(20).to_string(index=False)] + qc_text + notes
                         + _listing("unmatched files", scan.unmatched) + _listing("incomplete sites", incomplete)
                         + _listing("links and special files not followed", scan.not_read)
                         + _listing("wells without a plate-map row", unmapped))
        emit(out, args.json, text)
        return 0
    if not args.out:
        raise ValueError("give --out NAME.npz (or --preview to only look at the matched files)")
    if qc_text and not args.json and (qc["warnings"] or len(scan.sites) > LARGE):  # before the long part
        print("\n".join(qc_text + notes), file=sys.stderr)
    cells, report = import_plate(scan, plate_map, crop=args.crop, nuclear_channel=channel,
                                 names=_names(args.channels), border=args.border, drop_unmapped=args.drop_unmapped,
                                 progress=_progress(args.json), name=Path(args.out).name.removesuffix(".cells"),
                                 out=args.out if str(args.out).endswith(".cells") else None)  # .cells: a store
    out = report["out"] if "out" in report else save_npz(cells, args.out)
    report["out"] = str(out)
    report["nucleus_check"] = qc_out
    text = "\n".join(qc_text + [f"{report['cells']} nucleus crops of {args.crop} px from {report['sites']} sites "
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
                                        progress=_progress(args.json), name=Path(args.out).stem,
                                        compartment=args.compartment,
                                        out=args.out if str(args.out).endswith(".cells") else None)
    report["out"] = report["out"] if "out" in report else str(save_npz(cells, args.out))
    text = "\n".join([f"{report['cells']} crops of {args.crop} px at {report['objects']} CellProfiler "
                      f"{report['compartment']} centres ({report['skipped_border']} too close to the edge) "
                      f"saved to {report['out']}", f"read as: {report['layout']}; stacked {report['channels_note']}"]
                     + _listing("images not found", report["missing_images"]))
    emit(report, args.json, text)
    return 0


def cmd_check_nuclei(args: argparse.Namespace) -> int:
    from ssrl_core.data.seg_qc import compare_with_cellprofiler

    r = compare_with_cellprofiler(args.source, args.objects, image_root=args.images, channel=args.channel,
                                  compartment=args.compartment, radius=args.radius, max_images=args.max_images)
    lines = [f"{r['compartment']} on {r['channel']}: CellProfiler {r['reference']}, this tool {r['ours']}, "
             f"{r['matched']} paired within {r['radius']:g} px: {r['matched_fraction']:.1%} of CellProfiler's "
             f"found, {r['precision']:.1%} of ours are CellProfiler's"]
    lines += [f"  {i['image']}: {i['reference']} vs {i['ours']}, {i['matched']} paired" for i in r["images"]]
    emit(r, args.json, "\n".join(lines + _listing("images not found", r["missing"])))
    return 0 if r["images"] else 1
