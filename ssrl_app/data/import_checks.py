"""After an import: keep the set in the data folder, and turn full fields into single-cell crops.

A folder of full microscope fields (images far larger than a cell) is not a set of cells: the
Data page says so and offers nucleus detection and cropping right there
(`ssrl_core.data.fields.nucleus_crops`, as `ssrl data nuclei` does). Label masks (`*_labels*`,
`*_mask*`, Cellpose's `*_cp_masks`) are not taken for fields: a mask named after a field
(`img1_labels.tif` beside `img1.tif`) is the user's own segmentation of it, and its objects are
cropped instead of the detector's. Each field is scaled by its own intensity range (0.5-99.8th
percentile) before cutting, so 8- and 16-bit fields mix without one kind turning black.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.data import qc_view
from ssrl_app.shell import loaders, state
from ssrl_app.shell.errors import message
from ssrl_core import paths
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.fields import nucleus_crops
from ssrl_core.data.imagefile import read_image
from ssrl_core.data.names import IMAGE_SUFFIXES, safe_filename
from ssrl_core.data.npz import save_npz
from ssrl_core.data.seg_qc import segmentation_report
from ssrl_core.data.seg_qc import warnings_for

FIELD_SIDE = 300  # crops are 28-196 px; an image at least this large is taken for a full field
MASK = re.compile(r"(label|mask|_seg)", re.IGNORECASE)  # img_labels.tif, mask2d.tif, x_seg.png, x_cp_masks.png


def is_imported(name: str) -> bool:
    """Whether `name` is a folder imported in this session (not a dataset of the data folder)."""
    return str(name) in (state.get(state.EXTRA_DATASETS) or [])


def looks_like_fields(cells) -> bool:
    """Images far larger than a cell."""
    h, w, _ = cells.shape
    return min(h, w) >= FIELD_SIDE


def field_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(image files, label masks skipped) of an imported folder."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    masks = [p for p in files if MASK.search(p.stem)]
    return [p for p in files if p not in masks], masks


def own_range(image: np.ndarray) -> np.ndarray:
    """`image` (H, W, C) scaled per channel by its own 0.5-99.8th percentiles into uint16."""
    x = image.astype(np.float32)
    lo = np.percentile(x, 0.5, axis=(0, 1), keepdims=True)
    hi = np.percentile(x, 99.8, axis=(0, 1), keepdims=True)
    return (np.clip((x - lo) / np.maximum(hi - lo, 1e-6), 0, 1) * 65535).astype(np.uint16)


MASK_SUFFIX = re.compile(r"[_-]?(cp_masks?|labels?|masks?|seg)$", re.IGNORECASE)


def mask_for(files: list[Path], masks: list[Path]) -> dict[Path, Path]:
    """The user's mask of each field, where one is named after it (`img1_labels.tif` for `img1.tif`)."""
    by_stem = {(p.parent, p.stem): p for p in files}
    out = {}
    for m in masks:
        field = by_stem.get((m.parent, MASK_SUFFIX.sub("", m.stem)))
        if field is not None:
            out[field] = m
    return out


def crop_fields(folder: Path, size: int, nuclear_channel: int = 0):
    """One CellSet of nucleus-centred crops from every field of `folder`: at the objects of the
    field's own mask where there is one, else at the nuclei found."""
    files, masks = field_files(folder)
    own = mask_for(files, masks)
    parts, skipped = [], [(p.name, "a label mask, not an image") for p in masks if p not in own.values()]
    for path in files:
        try:
            field = own_range(read_image(path, what="a field"))
            labels = read_image(own[path], what="a field")[..., 0] if path in own else None
            parts.append(nucleus_crops(field, size=size, nuclear_channel=nuclear_channel, labels=labels,
                                       meta={"field": path.name, "objects": "your mask" if path in own else "found"},
                                       name=path.stem))
        except Exception as exc:  # an unreadable file or no nucleus: listed, the others go on
            skipped.append((path.name, message(exc)))
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError("no nucleus was found on these images")
    channels = parts[0].channels
    parts = [p for p in parts if p.channels == channels]
    return CellSet(np.concatenate([p.images for p in parts]), list(channels),
                   pd.concat([p.meta for p in parts], ignore_index=True), name=Path(folder).name, skipped=skipped)


QC_FIELDS = 3  # fields the "check first" button looks at


def fields_qc(files: list[Path], nuclear_channel: int = 0, n: int = QC_FIELDS) -> dict:
    """The nucleus check (`ssrl_core.data.seg_qc`) on `n` fields spread over the folder."""

    pick = [files[int(i)] for i in np.unique(np.linspace(0, len(files) - 1, min(n, len(files))).round())]
    report = segmentation_report([(p.name, lambda p=p: own_range(read_image(p, what="a field"))[..., nuclear_channel])
                                  for p in pick])
    report.update(sites_total=len(files), expected_cells=int(round(report["objects_per_field"] * len(files))))
    return report


def crop_warnings(crops, field_shape: tuple[int, int]) -> list[str]:
    """The nucleus check's warnings for the objects found on each field of a finished crop."""

    stats, names = [], []
    for name, rows in crops.meta.groupby("field", sort=False):
        areas = rows["area"].to_numpy(float) if "area" in rows.columns else np.array([])
        n = len(rows)
        stats.append({"objects": n, "objects_per_mpx": n / (field_shape[0] * field_shape[1]) * 1e6,
                      "diameter_median": float(np.sqrt(4 * np.median(areas) / np.pi)) if len(areas) else 0.0,
                      "area_p5": float(np.percentile(areas, 5)) if len(areas) else 0.0,
                      "area_p95": float(np.percentile(areas, 95)) if len(areas) else 0.0})
        names.append(str(name))
    return warnings_for(stats, names)


def keep(cells, name: str) -> str:
    """Save `cells` as `<data folder>/<name>.npz`; returns the dataset name."""

    stem = Path(safe_filename(name or "my_cells")).stem or "my_cells"
    save_npz(cells, paths.data_dir() / f"{stem}.npz")
    loaders.dataset_list.clear()
    state.put(state.PENDING_DATASET, stem)
    return stem


def render(name: str, cells) -> None:
    """The boxes the Data page shows for an imported set: fields to crop, and keep it."""
    if not is_imported(name):
        return
    folder = Path(name)
    if looks_like_fields(cells):
        files, masks = field_files(folder)
        st.warning(f"These {len(files)} images are {cells.shape[0]}×{cells.shape[1]} px: full fields, not single "
                   "cells" + (f" ({len(masks)} label masks among them: a mask named after its field, like "
                              "img1_labels.tif for img1.tif, is used as that field's nuclei)" if masks else "") +
                   ". Find the nuclei and cut one crop per cell:")
        with st.form("fields_form"):
            c = st.columns(3)
            size = c[0].number_input("Crop size (px)", 16, 512, 64, step=8)
            nuc = c[1].selectbox("Nuclear channel", list(range(cells.shape[2])),
                                 format_func=lambda i: cells.channels[i])
            out = c[2].text_input("Save as", value=f"{folder.name}_nuclei")
            b = st.columns(2)
            check = b[0].form_submit_button(f"Check the nuclei on {min(QC_FIELDS, len(files))} fields first")
            if b[1].form_submit_button("Find nuclei and crop", type="primary"):
                try:
                    with st.spinner("Finding nuclei on every field…"):
                        crops = crop_fields(folder, int(size), int(nuc))
                    stem = keep(crops, out)
                    warn = crop_warnings(crops, cells.shape[:2])
                    state.put(state.IMPORT_MSG, f"Cut {len(crops)} single-cell crops from {len(files)} fields "
                                                f"into {stem}." + (" Check: " + " ".join(warn) if warn else ""))
                    st.rerun()
                except ValueError as exc:
                    st.error(f"The nuclei could not be cut: {message(exc)}")
        if check:
            with st.spinner("Finding nuclei on a few fields…"):
                qc_view.render(fields_qc(files, int(nuc)))
        return
    with st.form("keep_form"):
        c = st.columns([3, 1], vertical_alignment="bottom")
        out = c[0].text_input("Keep this imported set in the data folder as", value=folder.name,
                              help="Saved as an .npz in the data folder: listed after a refresh or a restart")
        if c[1].form_submit_button("Keep it"):
            state.put(state.IMPORT_MSG, f"Kept as {keep(cells, out)} in the data folder.")
            st.rerun()
