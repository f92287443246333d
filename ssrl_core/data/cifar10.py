"""CIFAR-10 (Krizhevsky 2009): the data of Bendidi et al. 2024, section 3.1 (per-class bias of one
augmentation parameter).

Two files, both listed under the one name `cifar10` by the source table
(`ssrl_core.data.sources`; RGB, channels r, g, b; metadata columns `label` (class name),
`split` (train | test) and `name`):

1. The real release, for users with a network: `download_cifar10(dest)` fetches it with
   torchvision's `CIFAR10(download=True)` (md5-checked archive), then parses the python-pickle
   batch folder `cifar-10-batches-py` with a restricted unpickler (numpy arrays and plain
   containers only) and writes `<data dir>/cifar10.npz` (60,000 images).
2. The development subset in `../shared/data/cifar10/cifar10_subset.npz` (2,000 training images
   per class and the whole test split, from JPEG copies), found where the registry finds the
   other shared sets, never copied into the project. It stores no channel names: the table
   supplies r, g, b.

The data folder's `cifar10.npz` wins over the shared subset when both exist.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core import paths
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.npz import save_npz

NAME = "cifar10"
CHANNELS = ["r", "g", "b"]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
COLUMNS = ["label", "split", "name"]


class _NumpyOnly(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; refuses every other global (no code runs)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle hook
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the CIFAR-10 batch refers to {module}.{name}, which is refused")


def _load_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            obj = _NumpyOnly(io.BytesIO(fh.read()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"{path.name} is not a readable CIFAR-10 batch ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path.name} is not a CIFAR-10 batch (it holds a {type(obj).__name__})")
    return {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def read_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One python-pickle batch: images `(N, 32, 32, 3)` uint8, labels `(N,)` int, file names.

    The release stores each image as 3,072 bytes, the red, green then blue 32x32 planes.
    """
    path = Path(path)
    d = _load_pickle(path)
    if "data" not in d or "labels" not in d:
        raise ValueError(f"{path.name} has no 'data'/'labels' entries (it has {sorted(d)})")
    data = np.asarray(d["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path.name}: 'data' has shape {data.shape}, expected (N, 3072)")
    labels = np.asarray(d["labels"], dtype=np.int64)
    if len(labels) != len(data):
        raise ValueError(f"{path.name}: {len(data)} images but {len(labels)} labels")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in d.get("filenames", [])]
    if len(names) != len(data):
        names = [f"{path.name}_{i:05d}" for i in range(len(data))]
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels, names


def read_batch_folder(folder: str | Path) -> CellSet:
    """The release's `cifar-10-batches-py` folder (or its parent) as a CellSet: training batches
    present (1-5) then the test batch, class names from `batches.meta` (else the standard names)."""
    folder = Path(folder)
    if (folder / BATCH_FOLDER).is_dir():
        folder = folder / BATCH_FOLDER
    present = [b for b in TRAIN_BATCHES + [TEST_BATCH] if (folder / b).is_file()]
    if TEST_BATCH not in present or len(present) < 2:
        raise FileNotFoundError(f"{folder} is not a CIFAR-10 batch folder (it needs {TEST_BATCH} and at least "
                                "one data_batch_N)")
    classes = list(CLASSES)
    if (folder / "batches.meta").is_file():
        names = _load_pickle(folder / "batches.meta").get("label_names")
        if names is not None and len(names) == 10:
            classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    images, labels, splits, files = [], [], [], []
    for b in present:
        x, y, n = read_batch(folder / b)
        if y.size and (y.min() < 0 or y.max() >= len(classes)):
            raise ValueError(f"{b}: labels outside 0..{len(classes) - 1}")
        images.append(x)
        labels += [classes[i] for i in y]
        split = "test" if b == TEST_BATCH else "train"
        splits += [split] * len(y)
        files += [f"{split}/{classes[i]}/{f}" for i, f in zip(y, n)]
    meta = pd.DataFrame({"label": labels, "split": splits, "name": files}, dtype=object)
    return CellSet(np.concatenate(images), list(CHANNELS), meta, name=NAME)


def build_npz(batch_folder: str | Path, dest: str | Path | None = None) -> Path:
    """Parse a batch folder and write it as `dest` (default `<data dir>/cifar10.npz`), atomically,
    with its channel names r, g, b stored in the file."""
    cells = read_batch_folder(batch_folder)
    dest = Path(dest) if dest is not None else paths.data_dir() / f"{NAME}.npz"
    dest.parent.mkdir(parents=True, exist_ok=True)
    return save_npz(cells, dest)


def download_cifar10(dest: str | Path | None = None, root: str | Path | None = None) -> Path:
    """Fetch the real CIFAR-10 with torchvision (needs the internet; the archive is md5-checked by
    torchvision) into `root` (default `<cache>/cifar10`) and write `<data dir>/cifar10.npz`."""
    from torchvision.datasets import CIFAR10

    root = Path(root) if root is not None else paths.cache_dir() / "cifar10"
    root.mkdir(parents=True, exist_ok=True)
    try:
        CIFAR10(str(root), train=True, download=True)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise RuntimeError(f"CIFAR-10 could not be downloaded ({exc}); without a network, put the "
                           f"'{BATCH_FOLDER}' folder in {root} and run this again") from exc
    return build_npz(root / BATCH_FOLDER, dest)
