"""Nucleus-detection quality control, shown before a large import.

The detector (`ssrl_core.data.fields.detect_nuclei`: Li threshold, LoG peaks, watershed) has no
learned model, so its output is checked the way a CellProfiler user checks `IdentifyPrimaryObjects`
(McQuin et al., PLoS Biol 2018): objects per field, the size distribution (area, equivalent
diameter), outlines drawn over a few fields, and a warning when the numbers are implausible for
nuclei. Where a CellProfiler table exists for the same images, `match_centres` pairs the two sets
of centres one to one within a radius (Hungarian assignment) and reports the matched fraction.

A trained segmenter (StarDist, Cellpose) would do better on clumps, but both fetch their weights
at run time (no wheel on PyPI ships them), which fails offline; users who have such masks, or
CellProfiler's, can import at CellProfiler's centres instead (`ssrl data import-cellprofiler`).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ssrl_core.data.cp_tables import (
    choose_compartment,
    default_channels,
    read_cp_tables,
)
from ssrl_core.data.ome import read_field
from ssrl_core.data.plate import _channel_index, channel_names, read_site

# Plausibility limits for nuclei (documented, deliberately loose): fewer than this many pixels per
# object on average (over 1 object per 150 px^2, e.g. 1,750 on a 512x512 field) or a median
# equivalent diameter under 5 px means noise or texture was split into "nuclei".
MAX_OBJECTS_PER_MPX = 1e6 / 150
MIN_MEDIAN_DIAMETER = 5.0
MAX_SIZE_SPREAD = 8.0  # 95th / 5th percentile of the area: one threshold caught two kinds of things


def field_stats(labels: np.ndarray) -> dict:
    """Objects and sizes of one labelled field."""
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    n = int(len(areas))
    px = int(labels.size)
    out = {"objects": n, "pixels": px, "objects_per_mpx": n / px * 1e6,
           "covered": float((labels > 0).mean())}
    if n:
        d = np.sqrt(4 * areas / np.pi)
        out.update(area_median=float(np.median(areas)), area_p5=float(np.percentile(areas, 5)),
                   area_p95=float(np.percentile(areas, 95)), diameter_median=float(np.median(d)))
    return out


def warnings_for(stats: list[dict], names: list[str] | None = None) -> list[str]:
    """Plain-words warnings for counts or sizes that do not look like nuclei."""
    names = names or [f"field {i + 1}" for i in range(len(stats))]
    out = []
    empty = [n for n, s in zip(names, stats) if s["objects"] == 0]
    if empty:
        out.append(f"no nucleus found on {len(empty)} of {len(stats)} field(s) (e.g. {empty[0]}): "
                   "is the nuclear channel right?")
    dense = [(n, s) for n, s in zip(names, stats) if s["objects_per_mpx"] > MAX_OBJECTS_PER_MPX]
    if dense:
        n, s = dense[0]
        out.append(f"{s['objects']:,} objects on {n} ({s['objects_per_mpx']:,.0f} per million pixels): far more "
                   "than nuclei usually are; the detector is probably splitting noise or texture. Check the "
                   "nuclear channel and the outlines below before importing.")
    small = [(n, s) for n, s in zip(names, stats) if s["objects"] and s["diameter_median"] < MIN_MEDIAN_DIAMETER]
    if small:
        n, s = small[0]
        out.append(f"the objects on {n} are tiny (median diameter {s['diameter_median']:.1f} px): "
                   "not nuclei at this magnification, or the wrong channel.")
    spread = [(n, s) for n, s in zip(names, stats) if s["objects"] >= 10 and s["area_p95"] > MAX_SIZE_SPREAD * s["area_p5"]]
    if spread:
        n, s = spread[0]
        out.append(f"object sizes on {n} vary a lot (5th-95th percentile area {s['area_p5']:.0f}-{s['area_p95']:.0f} "
                   "px): clumps may be merged or debris counted.")
    counts = np.array([s["objects"] for s in stats], float)
    if len(counts) >= 3 and counts.mean() > 0 and counts.std() / counts.mean() > 1.0:
        out.append(f"objects per field vary from {int(counts.min())} to {int(counts.max())}: look at the outlines "
                   "of the extreme fields.")
    return out


def overlay(image2d: np.ndarray, labels: np.ndarray, side: int = 256) -> np.ndarray:
    """An RGB uint8 view of a field (own 0.5-99.8 percentile range) with object outlines in yellow,
    shrunk to at most `side` px (outlines are drawn before shrinking, so they stay visible)."""
    from skimage.segmentation import find_boundaries

    x = np.asarray(image2d, np.float32)
    lo, hi = np.percentile(x, [0.5, 99.8])
    g = (np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)
    rgb = np.repeat(g[..., None], 3, axis=2)
    edge = find_boundaries(labels, mode="outer")
    rgb[edge] = (255, 220, 0)
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / side)))
    if step > 1:  # keep edge pixels when shrinking: the maximum over each block
        h, w = (rgb.shape[0] // step) * step, (rgb.shape[1] // step) * step
        rgb = rgb[:h, :w].reshape(h // step, step, w // step, step, 3).max(axis=(1, 3))
    return rgb


def segmentation_report(fields: Iterable[tuple[str, Callable[[], np.ndarray]]], overlays: int = 3,
                        **detect_kw: object) -> dict:
    """Detect nuclei on a few fields and summarise: `fields` (one row each: name, objects, sizes),
    `areas` (every object's area, for a histogram), `overlays` [(name, RGB)], `warnings`."""
    from ssrl_core.data.fields import detect_nuclei

    rows, areas, views, failed = [], [], [], []
    for name, read in fields:
        try:
            img = read()
        except ValueError as exc:
            failed.append(f"{name}: {exc}")
            continue
        cents, labels = detect_nuclei(img, **detect_kw)  # type: ignore[arg-type]
        s = field_stats(labels)
        rows.append({"field": name, **s})
        areas.extend(np.bincount(labels.ravel())[1:][np.bincount(labels.ravel())[1:] > 0].tolist())
        if len(views) < overlays:
            views.append((name, overlay(img, labels)))
    return {"fields": rows, "areas": areas, "overlays": views, "failed": failed,
            "warnings": warnings_for(rows, [r["field"] for r in rows]),
            "objects_per_field": float(np.mean([r["objects"] for r in rows])) if rows else 0.0}


def match_centres(ours: np.ndarray, reference: np.ndarray, radius: float = 5.0) -> dict:
    """One-to-one pairing of two sets of centres `(N, 2)` (same axis order) within `radius` px.

    Returns `{ours, reference, matched, matched_fraction (of the reference), precision (of ours),
    median_distance}`: CellProfiler (or a mask) is the reference."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    a, b = np.asarray(ours, float).reshape(-1, 2), np.asarray(reference, float).reshape(-1, 2)
    out = {"ours": len(a), "reference": len(b), "radius": radius}
    if not len(a) or not len(b):
        return {**out, "matched": 0, "matched_fraction": 0.0, "precision": 0.0, "median_distance": float("nan")}
    d = cdist(a, b)
    cost = np.where(d <= radius, d, 1e6)
    r, c = linear_sum_assignment(cost)
    ok = cost[r, c] <= radius
    m = int(ok.sum())
    return {**out, "matched": m, "matched_fraction": m / len(b), "precision": m / len(a),
            "median_distance": float(np.median(d[r[ok], c[ok]])) if m else float("nan")}


_DNA_NAMES = ("dna", "dapi", "hoechst", "nuclei", "nucleus", "h2b")


def compare_with_cellprofiler(source: object, objects: object = None, image_root: object = None,
                              channel: str | None = None, compartment: str = "Nuclei", radius: float = 5.0,
                              max_images: int = 20, **detect_kw: object) -> dict:
    """Run the detector on the images of a CellProfiler output and pair its nuclei with CellProfiler's.

    `source`/`objects` are read by `ssrl_core.data.cp_tables.read_cp_tables`; `channel` is the DNA
    image's `FileName_<channel>` (default: the first whose name says DNA, DAPI, Hoechst...).
    Returns `{channel, compartment, images: [per image: match_centres + image], ours, reference,
    matched, matched_fraction, precision, missing}`; images whose file is not found are listed."""
    from pathlib import Path

    from ssrl_core.data.cellprofiler import _image_path
    from ssrl_core.data.fields import detect_nuclei

    tables = read_cp_tables(source, objects)  # type: ignore[arg-type]
    comp = choose_compartment(tables, compartment)
    chans, _ = default_channels(tables.images)
    chan = channel or next((c for c in chans if any(k in c.lower() for k in _DNA_NAMES)), chans[0])
    root = Path(str(image_root)).expanduser() if image_root else (
        Path(str(source)).parent if isinstance(source, (str, Path)) else None)
    rows, missing = [], []
    objs = tables.objects[comp]
    for _, img_row in tables.images.head(max_images).iterrows():
        number = img_row["ImageNumber"]
        ref = objs[objs["ImageNumber"] == number][["Location_Center_Y", "Location_Center_X"]].to_numpy(float)
        try:
            field = read_field(_image_path(img_row, tables.images, chan, root)).image[..., 0]
        except (FileNotFoundError, ValueError) as exc:
            missing.append(f"ImageNumber {number}: {exc}")
            continue
        cents, _ = detect_nuclei(field, **detect_kw)  # type: ignore[arg-type]
        rows.append({"image": str(img_row.get(f"FileName_{chan}", number)),
                     **match_centres(cents, ref[np.isfinite(ref).all(axis=1)], radius)})
    ours, ref_n, matched = (sum(r[k] for r in rows) for k in ("ours", "reference", "matched"))
    return {"channel": chan, "compartment": comp, "radius": radius, "images": rows, "missing": missing,
            "ours": ours, "reference": ref_n, "matched": matched,
            "matched_fraction": matched / ref_n if ref_n else float("nan"),
            "precision": matched / ours if ours else float("nan")}


def plate_qc(scan: object, nuclear_channel: int | str = 0, names: list[str] | None = None, sites: int = 4,
             overlays: int = 3, **detect_kw: object) -> dict:
    """`segmentation_report` on `sites` sites spread over a scanned plate (`ssrl_core.data.plate`),
    run before the import so a wrong channel or an implausible count is seen first."""

    all_sites = list(getattr(scan, "sites"))
    if not all_sites or sites <= 0:
        return {"fields": [], "areas": [], "overlays": [], "failed": [], "warnings": [], "objects_per_field": 0.0}
    pick = [all_sites[int(i)] for i in np.unique(np.linspace(0, len(all_sites) - 1, min(sites, len(all_sites))).round())]
    chan = channel_names(scan, names)  # type: ignore[arg-type]

    def reader(site: dict) -> Callable[[], np.ndarray]:
        def read() -> np.ndarray:
            image, ome_names, _ = read_site(site, scan.channels)  # type: ignore[attr-defined]
            site_names = ome_names if (ome_names and names is None) else chan
            return image[..., _channel_index(nuclear_channel, site_names)]
        return read

    one_plate = len({s["plate"] for s in all_sites}) == 1
    report = segmentation_report(((("" if one_plate else f"{s['plate']} ") + f"{s['well']} site {s['site']}", reader(s))
                                  for s in pick),
                                 overlays=overlays, **detect_kw)
    report["sites_checked"] = len(pick)
    report["sites_total"] = len(all_sites)
    report["expected_cells"] = int(round(report["objects_per_field"] * len(all_sites)))
    return report


def qc_lines(report: dict) -> list[str]:
    """The report in a few plain lines (CLI and logs)."""
    if not report.get("fields"):
        return []
    lines = [f"nucleus check on {len(report['fields'])} site(s): "
             + ", ".join(f"{r['field']}: {r['objects']} objects" for r in report["fields"])]
    areas = np.asarray(report["areas"], float)
    if len(areas):
        lines.append(f"object area: median {np.median(areas):.0f} px (5th-95th percentile "
                     f"{np.percentile(areas, 5):.0f}-{np.percentile(areas, 95):.0f} px)")
    if "expected_cells" in report:
        lines.append(f"about {report['expected_cells']:,} nuclei expected over {report['sites_total']} sites")
    return lines + [f"WARNING: {w}" for w in report["warnings"]] + [f"not read: {f}" for f in report["failed"]]
