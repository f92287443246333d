"""The Data page's CellProfiler import: crops at CellProfiler's own object centres.

Two steps, as `ssrl data import-cellprofiler`: *Read* opens the output (an Image.csv with its
object table, a SQLite database from ExportToDatabase or cytominer-database, a CytoTable parquet
or a folder of tables: `ssrl_core.data.cp_tables`) and shows how it was read, the objects of each
compartment and the channels stacked by default (the original images, `FileName_Orig*`); then
*Import* cuts the crops around the chosen compartment's centres and saves them under the
"Save as" name (an `.npz`, or for more than 96 images a resumable on-disk cell store). *Compare nuclei* runs this tool's nucleus detection on the same
images and says how many of CellProfiler's nuclei it finds (`ssrl_core.data.seg_qc`).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ssrl_app.shell import state
from ssrl_app.shell.errors import message
from ssrl_core import paths

CP_READ, CP_ERROR = state.CP_READ, state.CP_ERROR  # the tables read by "Read"; its last problem


def _paths() -> tuple[str, str | None, str | None]:
    from ssrl_app.data.data_import import check_folder

    def checked(key: str) -> str | None:
        text = state.get(key, "").strip()
        if not text:
            return None
        p = Path(text).expanduser()
        return str(check_folder(str(p if p.is_dir() else p.parent)) / ("" if p.is_dir() else p.name))

    source = checked("w.cp.source")
    if source is None:
        raise ValueError("give the CellProfiler output: Image.csv, a .sqlite / .db file, a .parquet or a folder")
    return source, checked("w.cp.objects"), checked("w.cp.images")


def _read() -> None:
    """Form callback: read the tables and keep them for the preview."""
    from ssrl_core.data.cp_tables import default_channels, read_cp_tables

    try:
        source, objects, images = _paths()
        tables = read_cp_tables(source, objects)
        chans, note = default_channels(tables.images)
        state.put(CP_READ, {"source": source, "objects": objects, "images": images, "tables": tables,
                            "channels": chans, "note": note})
        state.put("w.cp.name", Path(source).stem)
    except Exception as exc:  # a bad path or table: plain words
        state.pop(CP_READ)
        state.put(CP_ERROR, f"Could not read this CellProfiler output: {message(exc)}")


def render() -> None:
    """Draw the CellProfiler-import panel."""
    from ssrl_core.data.cp_tables import all_channels, choose_compartment

    st.subheader("Import a CellProfiler output")
    st.caption("Crops at the centres CellProfiler found (no new detection): Image.csv with Nuclei.csv, a SQLite "
               "database (ExportToDatabase or cytominer-database), a CytoTable .parquet, or a folder of tables.")
    err = state.pop(CP_ERROR)
    if err:
        st.error(err)
    with st.form("cp_form"):
        c = st.columns([3, 2])
        c[0].text_input("CellProfiler output", key="w.cp.source", placeholder="/path/to/Image.csv or plate.sqlite")
        c[1].text_input("Object table (with Image.csv)", key="w.cp.objects", placeholder="/path/to/Nuclei.csv")
        st.text_input("Images folder (when the paths in the table point elsewhere)", key="w.cp.images")
        st.form_submit_button("Read", on_click=_read)
    found = state.get(CP_READ)
    if not found:
        return
    tables = found["tables"]
    st.caption(f"Read as **{tables.layout}**: {len(tables.images)} image(s); objects: "
               + ", ".join(f"{k} {len(v):,}" for k, v in tables.objects.items()))
    c = st.columns([1, 3, 1])
    comps = list(tables.objects)
    c[0].selectbox("Crop around", comps, index=comps.index(choose_compartment(tables)), key="w.cp.compartment")
    c[1].multiselect("Channels", all_channels(tables.images), default=found["channels"], key="w.cp.channels",
                     help="By default " + found["note"])
    c[2].number_input("Crop size (px)", 16, 512, 96, key="w.cp.crop")
    c = st.columns([3, 1, 2], vertical_alignment="bottom")
    c[0].text_input("Save as", key="w.cp.name")
    if c[2].button("Compare nuclei", help="Run this tool's nucleus detection on the same images "
                                                     "and count how many of CellProfiler's nuclei it finds"):
        _compare(found)
    if c[1].button("Import", type="primary"):
        _run(found)


def _compare(found: dict) -> None:
    from ssrl_core.data.seg_qc import compare_with_cellprofiler

    try:
        with st.spinner("Finding nuclei on CellProfiler's images…"):
            r = compare_with_cellprofiler(found["source"], found["objects"], image_root=found["images"], max_images=5)
    except Exception as exc:  # missing images, no DNA channel: plain words
        st.error(f"The comparison did not work: {message(exc)}")
        return
    if not r["images"]:
        st.warning("None of the images was found: " + "; ".join(r["missing"][:3]))
        return
    st.info(f"On {len(r['images'])} image(s) ({r['channel']}): CellProfiler found {r['reference']:,} nuclei, this "
            f"tool {r['ours']:,}; {r['matched']:,} are the same nuclei (centres within {r['radius']:g} px): "
            f"{r['matched_fraction']:.1%} of CellProfiler's are found, {r['precision']:.1%} of this tool's "
            "are CellProfiler's.")


def _run(found: dict) -> None:
    from ssrl_app.data import data_import
    from ssrl_core.data.cellprofiler import import_cellprofiler
    from ssrl_core.data.names import safe_filename
    from ssrl_core.data.npz import save_npz

    name = safe_filename(state.get("w.cp.name", "") or "cellprofiler", "cellprofiler").removesuffix(".npz")
    from ssrl_app.data.plate_import import STORE_ABOVE_SITES
    from ssrl_core.data.store import SUFFIX as STORE_SUFFIX

    bar = st.progress(0.0, text="Reading the first image…")
    big = len(found["tables"].images) > STORE_ABOVE_SITES  # a plate: an on-disk store, image by image
    store = Path(paths.data_dir()) / f"{name}{STORE_SUFFIX}" if big else None
    try:
        cells, report = import_cellprofiler(
            found["source"], found["objects"], image_root=found["images"], size=int(state.get("w.cp.crop", 96)),
            channels=state.get("w.cp.channels") or None, compartment=state.get("w.cp.compartment"), name=name,
            progress=lambda done, total, label: bar.progress(done / max(total, 1), text=f"{done}/{total}: {label}"),
            out=store)
        path = store if store is not None else save_npz(cells, Path(paths.data_dir()) / f"{name}.npz")
    except Exception as exc:  # missing images, no crop fits: plain words
        bar.empty()
        st.error(f"The CellProfiler import did not work: {message(exc)}")
        return
    if report["missing_images"]:
        st.warning(f"{len(report['missing_images'])} image(s) not found: " + "; ".join(report["missing_images"][:3]))
    state.pop(CP_READ)
    data_import.use_dataset(path)
    st.rerun()
