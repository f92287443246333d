"""Finding datasets by name: the data directory, the shared development data, and built-ins.

Names are npz file stems (and cell-store folders `<name>.cells`, `ssrl_core.data.store`) in
`paths.data_dir()`, the package's samples (kind `sample`) and `paths.shared_data_dir()` (searched
recursively), plus what the source table declares (`ssrl_core.data.sources`: a source's files
listed under its own name, its channel names for files that store none, built-in sets). Listing
reads only npz headers, so it stays quick however large the files are. Loaded sets are cached (a
few, keyed by path, size and modification time); treat a returned CellSet's arrays as read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ssrl_core import paths
from ssrl_core.data import sources
from ssrl_core.data.annotations import with_annotations
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.folder import load_folder
from ssrl_core.data.npz import load_npz, npz_header
from ssrl_core.data.store import MANIFEST, SUFFIX, is_store, open_store, store_header

_CACHE: "OrderedDict[tuple, CellSet]" = OrderedDict()
_CACHE_SIZE = 4
_HEADERS: dict[tuple, dict] = {}
_LOCK = threading.Lock()  # Streamlit serves sessions from several threads
ROOTS = (("data", "npz"), ("samples", "sample"), ("shared", "shared"))  # (root, listing kind), searched in order


def _key(path: Path) -> tuple:
    st = (path / MANIFEST).stat() if is_store(path) else path.stat()  # a store changes with its manifest
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _npz_files() -> list[tuple[Path, str]]:
    found = []
    for root_name, kind in ROOTS:
        root = sources.root_dir(root_name)
        if root is not None and root.is_dir():
            found += [(p, kind) for p in sorted(root.rglob("*.npz")) if not p.name.startswith(".")]
            found += [(p, kind) for p in sorted(root.rglob("*" + SUFFIX)) if not p.name.startswith(".") and is_store(p)]
    return found


def dataset_info(path: str | Path, kind: str = "npz") -> dict:
    """Listing facts for one npz or cell store: name, path, kind, cells, height, width, channels,
    channel_names, dtype (and `note` when the file names no channels)."""
    path = Path(path)
    src = None if is_store(path) else sources.of_file(path)
    k = _key(path)
    if k not in _HEADERS:
        _HEADERS[k] = store_header(path) if is_store(path) else npz_header(path, src.channels if src else None)
    name = src.dataset_name(path) if src else path.stem
    return {"name": name, "path": str(path), "kind": (src.kind if src else None) or kind, **_HEADERS[k]}


def list_datasets(include_broken: bool = False) -> list[dict]:
    """Every dataset found (first of a name wins: data dir, samples, then shared data), the
    built-in sets last. Unreadable npz files are left out, or listed with an `error` when
    `include_broken`."""
    out: list[dict] = []
    seen: set[str] = set()
    for path, kind in _npz_files():
        src = None if is_store(path) else sources.of_file(path)
        name = src.dataset_name(path) if src else path.stem
        if name in seen:
            continue
        try:
            info = dataset_info(path, kind)
        except (ValueError, OSError, EOFError) as exc:
            if include_broken:
                out.append({"name": name, "path": str(path), "kind": kind, "error": str(exc)})
            continue
        seen.add(name)
        out.append(info)
    out += [s.info() for s in sources.SOURCES if s.builtin is not None and s.name not in seen]
    return out


def resolve(name_or_path: str | Path) -> Path | str:
    """The npz/folder path of a dataset name or path, or the name of a built-in set; plain errors
    otherwise (the source table says how to get a declared set that is not here)."""
    text = str(name_or_path)
    src = sources.BY_NAME.get(text)
    if src is not None and src.builtin is not None:
        return text
    p = Path(text).expanduser()
    if p.exists():
        return p
    if src is not None and src.one_name and src.find() is not None:
        return src.find()  # type: ignore[return-value]
    for path, _ in _npz_files():
        if path.stem == text or path.name == text:
            return path
    wanted = sources.BY_NAME.get(text.removesuffix(".npz"))
    if wanted is not None and wanted.one_name and wanted.missing:
        raise FileNotFoundError(wanted.missing)
    names = sorted({p.stem for p, _ in _npz_files()} | {s.name for s in sources.SOURCES if s.builtin is not None})
    problem = paths.data_dir_problem()
    hint = f"; `ssrl data download {wanted.name}` fetches it" if wanted is not None and wanted.download else ""
    raise FileNotFoundError(f"no dataset named {text!r}; available: {', '.join(names)}" + hint
                            + (f". Note: {problem}" if problem else ""))


def load_dataset(name_or_path: str | Path, channel_axis: str = "auto") -> CellSet:
    """Load a dataset by name (see `list_datasets`), npz path or image-folder path (cached),
    with the cells' hand-made label columns (`data/annotations.py`) in its metadata.
    `channel_axis` settles multi-page TIFFs of a folder that do not say where their channels are."""
    return with_annotations(name_or_path, _load(name_or_path, channel_axis))


def _load(name_or_path: str | Path, channel_axis: str = "auto") -> CellSet:
    target = resolve(name_or_path)
    if isinstance(target, str):  # a built-in set (sources.Source.builtin)
        key: tuple = (target,)
    else:
        assert isinstance(target, Path)
        key = _key(target) if target.is_file() or is_store(target) else (str(target.resolve()), "folder")
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    if isinstance(target, str):
        cells = sources.get(target).load()
    elif is_store(target):  # a cell store: metadata read, pixels read lazily when large
        cells = open_store(target)
    elif target.is_dir():  # type: ignore[union-attr]
        cells = load_folder(target, channel_axis=channel_axis)
        return cells  # folders can change at any time: never cached
    elif str(target).lower().endswith(".npz"):
        src = sources.of_file(target)
        cells = src.load(target) if src is not None else load_npz(target)
    else:
        raise ValueError(f"{Path(target).name} is not a dataset: give an .npz file, an image folder or a dataset name")
    with _LOCK:
        _CACHE[key] = cells
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return cells


def clear_cache() -> None:
    """Forget loaded sets and headers (e.g. after files were replaced)."""
    with _LOCK:
        _CACHE.clear()
        _HEADERS.clear()
