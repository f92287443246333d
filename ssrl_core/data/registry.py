"""Finding datasets by name: the data directory, the shared development data, and built-ins.

Names are npz file stems (and cell-store folders `<name>.cells`, `ssrl_core.data.store`) in `paths.data_dir()`, the package's samples (`ssrl_core/data/samples`,
kind `sample`: `mitocheck_demo`) and `paths.shared_data_dir()` (searched recursively), plus `cifar10` (`ssrl_core.data.cifar10`), `mnist-5k` (always) and `demo_nuclei` (built by `ssrl setup`). Listing reads
only npz headers, so it stays quick however large the files are. Loaded sets are cached (a few,
keyed by path, size and modification time); treat a returned CellSet's arrays as read-only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ssrl_core import paths
from ssrl_core.data import cifar10
from ssrl_core.data.annotations import with_annotations
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.mnist import NAME as MNIST_NAME
from ssrl_core.data.mnist import load_mnist5k, mnist_info
from ssrl_core.data.npz import load_npz, npz_header
from ssrl_core.data.store import MANIFEST, SUFFIX, is_store, open_store, store_header

_CACHE: "OrderedDict[tuple, CellSet]" = OrderedDict()
_CACHE_SIZE = 4
_HEADERS: dict[tuple, dict] = {}
_LOCK = threading.Lock()  # Streamlit serves sessions from several threads


def _key(path: Path) -> tuple:
    st = (path / MANIFEST).stat() if is_store(path) else path.stat()  # a store changes with its manifest
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _roots() -> list[tuple[Path, str]]:
    from ssrl_core.data.samples import samples_dir

    roots = [(paths.data_dir(), "npz"), (samples_dir(), "sample")]  # samples ship inside the package
    shared = paths.shared_data_dir()
    if shared is not None:
        roots.append((shared, "shared"))
    return roots


def _npz_files() -> list[tuple[Path, str]]:
    found = []
    for root, kind in _roots():
        if root.is_dir():
            found += [(p, kind) for p in sorted(root.rglob("*.npz")) if not p.name.startswith(".")]
            found += [(p, kind) for p in sorted(root.rglob("*" + SUFFIX)) if not p.name.startswith(".") and is_store(p)]
    return found


def dataset_info(path: str | Path, kind: str = "npz") -> dict:
    """Listing facts for one npz: name, path, kind, cells, height, width, channels, channel_names, dtype."""
    path = Path(path)
    k = _key(path)
    if k not in _HEADERS:
        _HEADERS[k] = store_header(path) if is_store(path) else npz_header(path)
    if path.stem == "demo_nuclei":
        kind = "demo"
    return {"name": path.stem, "path": str(path), "kind": kind, **_HEADERS[k]}


def list_datasets(include_broken: bool = False) -> list[dict]:
    """Every dataset found (first of a name wins: data dir, then shared data), MNIST-5k last.

    Unreadable npz files are left out, or listed with an `error` when `include_broken`.
    """
    out: list[dict] = []
    seen: set[str] = set()
    for path, kind in _npz_files():
        if path.stem in seen:
            continue
        try:
            if cifar10.is_cifar_file(path):  # listed once, as `cifar10` (RGB channel names)
                if cifar10.NAME in seen or path != cifar10.find_npz():
                    continue
                info, path = cifar10.cifar10_info(path), Path(cifar10.NAME)
            else:
                info = dataset_info(path, kind)
        except (ValueError, OSError, EOFError) as exc:
            if include_broken:
                out.append({"name": path.stem, "path": str(path), "kind": kind, "error": str(exc)})
            continue
        seen.add(path.stem)
        out.append(info)
    if MNIST_NAME not in seen:
        out.append(mnist_info())
    return out


def resolve(name_or_path: str | Path) -> Path | str:
    """The npz/folder path of a dataset name or path, or "mnist-5k"; plain errors otherwise."""
    text = str(name_or_path)
    if text == MNIST_NAME:
        return MNIST_NAME
    p = Path(text).expanduser()
    if p.exists():
        return p
    if text == cifar10.NAME and cifar10.find_npz() is not None:
        return cifar10.find_npz()  # type: ignore[return-value]
    for path, _ in _npz_files():
        if path.stem == text or path.name == text:
            return path
    if text in ("demo_nuclei", "demo_nuclei.npz"):
        raise FileNotFoundError("the demo set demo_nuclei is not built yet: run `ssrl setup` first")
    names = sorted({p.stem for p, _ in _npz_files()} | {MNIST_NAME})
    problem = paths.data_dir_problem()
    raise FileNotFoundError(f"no dataset named {text!r}; available: {', '.join(names)}"
                            + (f". Note: {problem}" if problem else ""))


def load_dataset(name_or_path: str | Path, channel_axis: str = "auto") -> CellSet:
    """Load a dataset by name (see `list_datasets`), npz path or image-folder path (cached),
    with the cells' hand-made label columns (`data/annotations.py`) in its metadata.
    `channel_axis` settles multi-page TIFFs of a folder that do not say where their channels are."""
    return with_annotations(name_or_path, _load(name_or_path, channel_axis))


def _load(name_or_path: str | Path, channel_axis: str = "auto") -> CellSet:
    target = resolve(name_or_path)
    if target == MNIST_NAME:
        key: tuple = (MNIST_NAME,)
    else:
        assert isinstance(target, Path)
        key = _key(target) if target.is_file() or is_store(target) else (str(target.resolve()), "folder")
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    if target == MNIST_NAME:
        cells = load_mnist5k()
    elif is_store(target):  # a cell store: metadata read, pixels read lazily when large
        cells = open_store(target)
    elif target.is_dir():  # type: ignore[union-attr]
        from ssrl_core.data.folder import load_folder

        cells = load_folder(target, channel_axis=channel_axis)
        return cells  # folders can change at any time: never cached
    elif str(target).lower().endswith(".npz"):
        cells = cifar10.load_cifar10(target) if cifar10.is_cifar_file(target) else load_npz(target)
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
