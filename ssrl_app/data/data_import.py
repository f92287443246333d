"""The Data page's import panel: a folder on this computer, uploaded files, or a download.

Uploaded TIFF/PNG files and their CSV are stored under
`ssrl_core.paths.uploads_dir()/<session id>/<batch>/` with sanitised names, then read by
`ssrl_core.data.registry.load_dataset(folder)`. An imported set joins the sidebar's list for this
session (`state.EXTRA_DATASETS`). The import message names what was skipped (files, CSV rows
that match no image, links not followed). Multi-page TIFFs that do not say where their channels
are can be read with a choice ("Channels in multi-page TIFFs"); the folder is then imported once
into the data folder as an npz, read with that choice.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from ssrl_app.shell import state
from ssrl_app.shell.errors import message
from ssrl_app.shell.uploads import save_uploads
from ssrl_core.data.names import IMAGE_SUFFIXES
from ssrl_app.shell import loaders
from ssrl_core.data.folder import import_uploads
from ssrl_core import paths
from ssrl_core.data.sources import download, downloadable
from ssrl_core.data.bbbc021 import known_plates


def use_dataset(path: str | Path) -> None:
    """Load `path` to check it, add it to this session's list and make it the current dataset."""
    cells = loaders.cells(str(path))
    extra = list(state.get(state.EXTRA_DATASETS, []))
    if str(path) not in extra:
        extra.append(str(path))
    state.put(state.EXTRA_DATASETS, extra)
    state.put(state.PENDING_DATASET, str(path))  # the sidebar applies it on the next run
    state.put(state.IMPORT_MSG, f"Imported {len(cells)} cells from {Path(path).name}." + skipped_note(cells.skipped))


def skipped_note(skipped: list) -> str:
    """' 3 inputs were skipped: a.tif: why; ... (all of them are listed on this page).' or ''."""
    if not skipped:
        return ""
    shown = "; ".join(f"{f}: {r}" for f, r in skipped[:3])
    more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return f" {len(skipped)} input(s) were skipped or not matched: {shown}{more} (all are listed below the cell counts)."


AXIS_CHOICES = {"auto": "as the file says (ask when it does not)", "first": "each page is a channel",
                "last": "the last axis holds the channels"}


def _axis_choice() -> str:
    """The Data page's choice of where multi-page TIFFs keep their channels ("auto", "first", "last")."""
    return st.selectbox("Channels in multi-page TIFFs", list(AXIS_CHOICES), key="w.data.channel_axis",
                        format_func=AXIS_CHOICES.get,
                        help="OME-TIFF and ImageJ files say which axis holds the channels; a plain stack of "
                             "pages does not. Choose here when the import says it cannot tell.")


def import_path(folder: Path, channel_axis: str) -> Path:
    """The folder itself (read as the file says), or, with a channel-axis choice, an npz in the data
    folder made from it with that choice (so every page reads the cells the same way)."""
    if channel_axis == "auto":
        return folder

    return import_uploads(folder, name=folder.name, channel_axis=channel_axis)[0]


LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")
UPLOAD_TYPES = [s.lstrip(".") for s in IMAGE_SUFFIXES] + ["csv"]  # what the uploader offers: every image the core reads


def open_to_network() -> bool:
    """True when the server listens beyond this computer (`server.address` not a loopback one;
    unset means every interface)."""
    return str(st.get_option("server.address") or "") not in LOCAL_ADDRESSES


def importable_roots() -> list[Path]:
    """Where the folder box may read when the app is open to the network: the data folders and
    the uploads."""

    shared = paths.shared_data_dir()
    roots = [paths.data_dir(), paths.uploads_dir()] + ([shared] if shared else [])
    return [Path(r).resolve() for r in roots]


def check_folder(folder: str) -> Path:
    """The folder typed in the box, resolved; plain errors when it does not exist or, with the app
    open to the network, lies outside `importable_roots()`."""
    path = Path(folder).expanduser().resolve() if folder else None
    if path is None or not path.is_dir():
        raise FileNotFoundError(f"There is no folder at '{folder}'.")
    if open_to_network() and not any(path.is_relative_to(root) for root in importable_roots()):
        raise PermissionError(f"this app is open to the network, so it only imports folders inside the data folder "
                              f"({importable_roots()[0]}) or the uploads; copy the folder there, or upload the files.")
    return path


def _import_folder() -> None:
    folder = state.get("w.data.folder", "").strip()
    try:
        use_dataset(import_path(check_folder(folder), state.get("w.data.channel_axis", "auto")))
    except Exception as exc:  # a bad folder is an expected problem: say it in words
        state.put(state.IMPORT_ERROR, f"Could not import this folder: {message(exc)}")


def render() -> None:
    """Draw the import panel."""
    st.subheader("Import or download cells")
    ok = state.pop(state.IMPORT_MSG)
    err = state.pop(state.IMPORT_ERROR)
    if ok:
        st.success(ok)
    if err:
        st.error(err)
    _axis_choice()
    t1, t2, t3 = st.tabs(["Upload files", "A folder on this computer", "Download public data"])
    with t1:
        st.caption("Single-cell crops as TIFF, PNG or JPEG files (any channel count, 8 or 16 bit), plus an "
                   "optional CSV with one row per file (a `file` column and any metadata: label, "
                   "compound, plate…).")
        files = st.file_uploader("Images and CSV", type=UPLOAD_TYPES,
                                 accept_multiple_files=True, key="w.data.upload")
        if st.button("Import these files", disabled=not files):
            images = [f for f in files if f.name.lower().endswith(IMAGE_SUFFIXES)]
            try:
                if not images:
                    raise ValueError("no TIFF, PNG or JPEG image among the uploaded files.")
                with st.spinner(f"Saving and reading {len(files)} files…"):
                    folder = save_uploads(files, state.session_id(), time.strftime("upload-%Y%m%d-%H%M%S"))
                    use_dataset(import_path(folder, state.get("w.data.channel_axis", "auto")))
                st.rerun()
            except Exception as exc:  # a bad upload: plain sentence, keep the page alive
                st.error(f"Could not import these files: {message(exc)}")
    with t2:
        st.text_input("Folder with TIFF/PNG crops (and a CSV)", key="w.data.folder",
                      placeholder="/path/to/my/crops")
        if open_to_network():
            st.caption(f"The app is open to the network: only folders inside {importable_roots()[0]} are read.")
        st.button("Import this folder", on_click=_import_folder)
    with t3:
        _downloads()


def _downloads() -> None:
    """Downloads of the source table (`ssrl_core.data.sources`) where the network allows (offline:
    a plain message); a source's mirror variable (SSRL_MITOCHECK_URL, ...) points at a mirror or a
    local server in tests."""

    offered = {src.title: src for src in downloadable()}
    src = offered[st.radio("Source", list(offered), horizontal=True, key="w.data.dl_source")]
    options: dict = {}
    if "plates" in src.options:  # a plate-by-plate source: which plates
        known = known_plates()
        if known:
            plates = st.multiselect("Plates (each is about 1 GB of images)", known, max_selections=4,
                                    key="w.data.dl_plates")
        else:
            text = st.text_input("Plate names, comma separated (e.g. Week1_22123)", key="w.data.dl_plates_text")
            plates = [p.strip() for p in text.split(",") if p.strip()]
        options = {"plates": plates, "store": True}  # crops go field by field to a cell store on disk
        st.caption("Nuclei are found on each field and cut out as single-cell crops, saved on disk as they "
                   "are made (a plate never has to fit in memory; an interrupted import continues where it "
                   "stopped when you start it again).")
    st.caption(f"{src.description} Download: {src.download_help}.")
    if st.button("Download", disabled="plates" in options and not options["plates"]):
        bar = st.progress(0.0, text="Starting the download…")

        def progress(done: int, total: int | None, name: str) -> None:
            mb = done / 1e6
            if total:
                bar.progress(min(done / total, 1.0), text=f"{name}: {mb:.1f} of {total / 1e6:.1f} MB")
            else:
                bar.progress(0.0, text=f"{name}: {mb:.1f} MB")

        try:
            path = download(src.name, paths.data_dir(), progress=progress, **options)
            bar.progress(1.0, text="Done")
            use_dataset(path)
            st.rerun()
        except (OSError, ConnectionError, TimeoutError) as exc:
            bar.empty()
            st.error(f"The download did not work. Is this computer offline? ({message(exc)})")
        except Exception as exc:  # NoNetwork and other source problems: a plain message
            bar.empty()
            st.error(f"The download did not work: {message(exc)}")
