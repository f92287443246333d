"""MitoCheck phenotype crops: read the PNG-per-class folders, or download them.

Source: the public repository WayScience/phenotypic_profiling, folder
`6.single_cell_images/mitocheck_single_cell_sample_images/<Phenotype>/<crop>.png` (HeLa H2B-GFP
nuclei, images by Thomas Walter / MitoCheck consortium, CC BY 4.0 - attribute when you publish).
File names encode plate, well (position), frame and nucleus position, e.g.
`PLLT0017_19--ex2005_07_06--...--c5___P00365_01___T00064___X0746___Y0848____img.png`.
The shared development copy is an npz (`mitocheck_phenotype_crops.npz`, see registry).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from ssrl_core.data.cellset import CellSet
from ssrl_core.data.download import Progress, fetch, get_json
from ssrl_core.data.folder import load_folder, safe_filename
from ssrl_core.data.mitocheck_names import add_name_columns
from ssrl_core.data.npz import save_npz

NAME = "mitocheck"
CHANNELS = ["H2B-GFP"]  # HeLa cells expressing histone H2B fused to GFP: the chromatin
GITHUB_API = "https://api.github.com/repos/WayScience/phenotypic_profiling/contents"
FOLDER = "6.single_cell_images/mitocheck_single_cell_sample_images"
SAMPLE_FILE = "mitocheck_sample.npz"  # what download_mitocheck writes into the data folder


def load_mitocheck_dir(folder: str | Path, name: str = NAME) -> CellSet:
    """Load the class-per-folder PNG layout: label = phenotype folder, plus parsed file names."""
    cells = load_folder(folder, name=name, channels=list(CHANNELS))
    add_name_columns(cells.meta, "file")
    cells.meta["source"] = NAME
    return cells


def _walk(api_url: str, folder: str, ref: str | None) -> list[dict]:
    url = f"{api_url.rstrip('/')}/{urllib.parse.quote(folder)}" + (f"?ref={ref}" if ref else "")
    listing = get_json(url)
    if not isinstance(listing, list):
        raise RuntimeError(f"unexpected answer from {url}: expected a folder listing")
    return listing


def download_mitocheck(dest: str | Path, base_url: str = GITHUB_API, folder: str = FOLDER,
                       classes: list[str] | None = None, per_class: int | None = None,
                       ref: str | None = None, progress: Progress | None = None) -> Path:
    """Fetch the phenotype PNG folders (GitHub contents API + raw files) and save an npz.

    Args:
        dest: data directory; PNGs go to `dest/mitocheck_images/<class>/`, the set to
            `dest/mitocheck_sample.npz`.
        base_url: contents API root (a local server in tests).
        classes: phenotype folders to fetch (default all); per_class: at most this many each.

    Returns:
        The npz path. Files already present (same checksum) are not fetched again.
    """
    dest = Path(dest)
    root = dest / "mitocheck_images"
    entries = [e for e in _walk(base_url, folder, ref) if e.get("type") == "dir"]
    if classes:
        wanted = {c.lower() for c in classes}
        unknown = wanted - {e["name"].lower() for e in entries}
        if unknown:
            raise ValueError(f"unknown MitoCheck phenotype(s): {', '.join(sorted(unknown))}; "
                             f"available: {', '.join(sorted(e['name'] for e in entries))}")
        entries = [e for e in entries if e["name"].lower() in wanted]
    for entry in entries:
        files = [f for f in _walk(base_url, f"{folder}/{entry['name']}", ref)
                 if f.get("type") == "file" and str(f.get("name", "")).lower().endswith(".png")]
        for f in sorted(files, key=lambda x: x["name"])[:per_class]:
            target = root / safe_filename(entry["name"]) / safe_filename(f["name"])
            fetch(f["download_url"], target, progress=progress)
    if not entries:
        raise RuntimeError(f"no phenotype folders found at {base_url}/{folder}")
    cells = load_mitocheck_dir(root, name=Path(SAMPLE_FILE).stem)
    return save_npz(cells, dest / SAMPLE_FILE)
