"""The Data page's plate import: a folder of field images + a plate map -> nucleus crops.

Two steps, as `ssrl data import-plate --preview` then without it: first the files are matched
against the chosen file-name pattern and the page shows how the first names were read, the sites
found, the files that match nothing, the sites missing a channel, the wells without a plate-map
row (nothing is dropped silently) and a nucleus check on a few sites (objects per site, sizes,
outlines, warnings: `ssrl_core.data.seg_qc`); then the long part (reading every site, nucleus
detection, crops) runs with a progress bar and the crops are saved under the "Save as" name shown
next to the Import button (read when it is clicked) as `<data dir>/<name>.npz`, or for more than
96 sites as a resumable on-disk cell store `<data dir>/<name>.cells` (`ssrl_core.data.plate`,
`data.store`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from ssrl_app.data import qc_view
from ssrl_app.shell import state
from ssrl_app.shell.errors import message
from ssrl_core.data.patterns import BUILTIN
from ssrl_core.data.store import SUFFIX as STORE_SUFFIX
from ssrl_core.data.names import safe_filename
from ssrl_core.data.plate import map_rows, read_plate_map, scan_plate
from ssrl_core.data.seg_qc import plate_qc
from ssrl_app.data.data_import import check_folder
from ssrl_core.data.patterns import DESCRIPTIONS
from ssrl_app.data import data_import
from ssrl_core import paths
from ssrl_core.data.npz import save_npz
from ssrl_core.data.plate import import_plate

PATTERNS = ["auto", *BUILTIN, "my own pattern"]


def _scan() -> None:
    """Form callback: match the files and read the plate map; keep the result for the preview."""


    choice = state.get("w.plate.pattern", "auto")
    pattern = state.get("w.plate.custom", "").strip() if choice == "my own pattern" else choice
    try:
        # the same folder policy as the crop-folder box (data folder and uploads when open to a network)
        folder = check_folder(state.get("w.plate.folder", "").strip())
        scan = scan_plate(folder, pattern or "auto", plate=state.get("w.plate.plate", "").strip() or None)
        upload = state.get("w.plate.map_upload")
        typed = state.get("w.plate.map_path", "").strip()
        if typed and upload is None:
            typed = str(check_folder(str(Path(typed).expanduser().parent)) / Path(typed).name)
        how = {"treatment": state.get("w.plate.treatment", "").strip() or None,
               "controls": state.get("w.plate.controls", "").strip() or None}
        plate_map = read_plate_map(upload, **how) if upload is not None else (read_plate_map(typed, **how) if typed else None)
        _, unmapped = map_rows(scan, plate_map)
        nuclear = state.get("w.plate.nuclear", "0").strip() or "0"
        names = [s.strip() for s in state.get("w.plate.names", "").split(",") if s.strip()] or None
        qc = plate_qc(scan, int(nuclear) if nuclear.isdigit() else nuclear, names, sites=QC_SITES)
        name = safe_filename(scan.folder.name, "plate").removesuffix(".npz")
        if not state.get("w.plate.name"):  # the Save-as box beside the Import button starts with the folder name
            state.put("w.plate.name", name)
        state.put(state.PLATE_SCAN, {"scan": scan, "map": plate_map, "unmapped": unmapped, "qc": qc})
    except Exception as exc:  # a bad folder, pattern or plate map: plain words
        state.pop(state.PLATE_SCAN)
        state.put(state.PLATE_ERROR, f"Could not read this plate: {message(exc)}")


def _listing(title: str, items: list[str]) -> None:
    if items:
        with st.expander(f"{title} ({len(items)})"):
            st.code("\n".join(items[:500]) + (f"\n... and {len(items) - 500} more" if len(items) > 500 else ""),
                    language=None)


def render() -> None:
    """Draw the plate-import panel."""

    st.subheader("Import a plate (whole fields)")
    st.caption("One image per channel per site, named by the microscope; the nuclei are found on each "
               "field and cut out, and the plate map (one row per well: well, compound, concentration, ...) "
               "gives every cell its metadata.")
    err = state.pop(state.PLATE_ERROR)
    if err:
        st.error(err)
    with st.form("plate_form"):
        st.text_input("Plate folder", key="w.plate.folder", placeholder="/path/to/plate")
        c = st.columns([2, 3])
        c[0].selectbox("File names", PATTERNS, key="w.plate.pattern",
                       help="\n\n".join(f"**{k}**: {v}" for k, v in DESCRIPTIONS.items()))
        c[1].text_input("My own pattern", key="w.plate.custom", placeholder="{plate}_{well}_s{site}_w{channel}.tif")
        c = st.columns(2)
        c[0].text_input("Plate map CSV (path)", key="w.plate.map_path", placeholder="/path/to/platemap.csv")
        c[1].file_uploader("or upload it", type=["csv", "tsv", "txt"], key="w.plate.map_upload")
        c = st.columns(2)
        c[0].text_input("Treatment column", key="w.plate.treatment", placeholder="automatic (compound, pert_iname …)",
                        help="The plate-map column that names each well's treatment. Every column of the map is "
                             "kept under its own name.")
        c[1].text_input("Control wells", key="w.plate.controls", placeholder="control_type == negcon",
                        help="How control wells are marked: a rule like control_type == negcon (the JUMP way) "
                             "or a treatment name like DMSO. Control wells are called DMSO.")
        c = st.columns(4)
        c[0].number_input("Crop size (px)", 16, 512, 196, key="w.plate.crop")
        c[1].text_input("Nuclear channel", "0", key="w.plate.nuclear", help="index (0 = first) or name")
        c[2].text_input("Channel names", key="w.plate.names", placeholder="DAPI, Tubulin, Actin")
        c[3].text_input("Plate name", key="w.plate.plate", placeholder="from the file names")
        st.form_submit_button("Preview the matched files", on_click=_scan)
    found = state.get(state.PLATE_SCAN)
    if not found:
        return
    scan = found["scan"]
    m = st.columns(4)
    m[0].metric("Sites", len(scan.sites))
    m[1].metric("Wells", len(scan.wells()))
    m[2].metric("Channels", len(scan.channels), help=", ".join(scan.channels))
    m[3].metric("Unmatched files", len(scan.unmatched))
    st.caption(f"Pattern: **{scan.pattern}**" + ("" if found["map"] is not None else " · no plate map: "
                                                 "cells get plate, well and site only"))
    if scan.matches:
        with st.expander("How the file names were read", expanded=scan.pattern not in ("bbbc",)):
            st.dataframe(pd.DataFrame(scan.matches), hide_index=True)
    st.dataframe(scan.table().head(200), hide_index=True, height=220)
    _listing("Files that match no pattern", scan.unmatched)
    _listing("Links and special files not followed (never read)", scan.not_read)
    _listing("Sites missing a channel (left out)",
             [f"{s['plate']}/{s['well']} site {s['site']}: no {', '.join(s['missing'])}" for s in scan.incomplete])
    _listing("Wells without a plate-map row (imported without metadata)", found["unmapped"])
    for note in ([] if found["map"] is None else found["map"].attrs.get("notes", [])):
        st.warning(f"Plate map: {note}")
    qc_view.render(found.get("qc") or {})
    if not scan.sites:
        return
    c = st.columns([3, 2], vertical_alignment="bottom")
    c[0].text_input("Save as", key="w.plate.name", placeholder="my_plate",
                    help="The name of the imported cells in the data folder")

    name = safe_filename(state.get("w.plate.name", "") or scan.folder.name, "plate").removesuffix(".npz")
    if c[1].button(f"Import {len(scan.sites)} sites as {name}", type="primary"):
        _run(found, name)


# Above this many sites the crops go to an on-disk cell store (`ssrl_core.data.store`), one site in
# memory at a time and resumable when the import is interrupted; below, one npz file.
STORE_ABOVE_SITES = 96
QC_SITES = 4  # sites the nucleus check looks at before the import


def _run(found: dict, name: str) -> None:
    """Read every site, detect nuclei, crop, save, and make the result the current dataset."""

    bar = st.progress(0.0, text="Reading the first site…")
    names = [s.strip() for s in state.get("w.plate.names", "").split(",") if s.strip()] or None
    nuclear = state.get("w.plate.nuclear", "0").strip() or "0"
    try:
        to_store = len(found["scan"].sites) > STORE_ABOVE_SITES  # a plate: written site by site, resumable
        store = Path(paths.data_dir()) / f"{name}{STORE_SUFFIX}" if to_store else None
        cells, report = import_plate(
            found["scan"], found["map"], crop=int(state.get("w.plate.crop", 196)),
            nuclear_channel=int(nuclear) if nuclear.isdigit() else nuclear, names=names, name=name,
            progress=lambda done, total, label: bar.progress(done / max(total, 1), text=f"{done}/{total}: {label}"),
            out=store)
        path = store if store is not None else save_npz(cells, Path(paths.data_dir()) / f"{name}.npz")
    except Exception as exc:  # unreadable sites, no nuclei, bad channel: plain words
        bar.empty()
        st.error(f"The plate import did not work: {message(exc)}")
        return
    bar.progress(1.0, text=f"{report['cells']} cells from {report['sites']} sites")
    if report["failed"]:
        st.warning(f"{len(report['failed'])} site(s) could not be read: " +
                   "; ".join(f"{f['site']}: {f['reason']}" for f in report["failed"][:5]))
    state.pop(state.PLATE_SCAN)
    data_import.use_dataset(path)
    st.rerun()
