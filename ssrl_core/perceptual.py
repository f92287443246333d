"""LPIPS perceptual distance with real ImageNet weights, for images with any channel count.

LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric",
CVPR 2018) compares unit-normalised ImageNet conv features of two images, weighted per channel
by linear layers fitted to human judgements (v0.1 weights, shipped in the `lpips` wheel). Bendidi
et al. (Biological Imaging 2024) use it to measure how far an augmentation recipe moves a view
from its source image: a larger LPIPS means a stronger recipe.

Channel adapter (`rgb_groups` / `to_rgb`), one rule for every channel count:
- 3 channels are read as an RGB image (as LPIPS was trained);
- any other count (1, 2, 4, 5, ...): each channel is shown to the network as its own grey image
  (repeated to R=G=B) and the distances of the channels are averaged. No colour is invented and
  every channel weighs the same; for 1 channel this is simply the grey image.
Small images: AlexNet needs about 64 px, so images whose smaller side is under `MIN_SIZE` (64)
are upsampled bilinearly, keeping the aspect ratio, until it is 64 (e.g. MNIST 28 -> 64).
"""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssrl_core.weights import imagenet_state_dict, lpips_linear_path

MIN_SIZE = 64
NETS = {"alex": "alexnet", "vgg": "vgg16"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def rgb_groups(x: torch.Tensor) -> torch.Tensor:
    """Channel adapter on tensors: `(B, C, H, W)` -> `(K, B, 3, H, W)`.

    K = 1 for C = 3 (the image as RGB); otherwise K = C, channel k repeated to grey RGB.
    Whoever uses the groups averages its result over K.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch (B, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] == 3:
        return x.unsqueeze(0)
    return x.transpose(0, 1).unsqueeze(2).expand(-1, -1, 3, -1, -1)


def to_rgb(images: np.ndarray) -> np.ndarray:
    """Channel adapter on arrays: `(N, H, W, C)` or `(H, W, C)` -> `(K, N, H, W, 3)` / `(K, H, W, 3)`.

    See the module docstring: 3 channels stay RGB (K = 1); otherwise each channel becomes its own
    grey RGB image (K = C) and results are averaged over K.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"expected an image (H, W, C) or images (N, H, W, C), got shape {images.shape}")
    if images.shape[-1] == 3:
        return images[None]
    moved = np.moveaxis(images, -1, 0)[..., None]
    return np.repeat(moved, 3, axis=-1)


def upsample_small(x: torch.Tensor, min_size: int = MIN_SIZE) -> torch.Tensor:
    """Bilinear upsampling of `(B, C, H, W)` so that min(H, W) >= `min_size` (aspect kept)."""
    h, w = x.shape[-2:]
    if min(h, w) >= min_size:
        return x
    scale = min_size / min(h, w)
    size = (max(min_size, math.ceil(h * scale)), max(min_size, math.ceil(w * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def _as_nchw(a: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a)
    return t.to(device=device, dtype=torch.float32).permute(0, 3, 1, 2)


def build_lpips_module(net: str = "alex") -> nn.Module:
    """An `lpips.LPIPS` module with our ImageNet backbone and the v0.1 linear layers.

    The lpips package would ask torchvision to download the backbone; we build it with a random
    backbone (`pnet_rand=True`, no download) and load every weight ourselves, checking that each
    backbone and linear parameter was replaced (never a silent random backbone).
    """
    import lpips

    if net not in NETS:
        raise ValueError(f"unknown LPIPS network '{net}'; choose one of {sorted(NETS)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(pretrained=False, net=net, version="0.1", pnet_rand=True, verbose=False)
    state = model.state_dict()
    where = {f"features.{name}": f"net.slice{s}.{name}"
             for s in range(1, model.net.N_slices + 1)
             for name, _ in getattr(model.net, f"slice{s}").named_children()}
    replaced = set()
    for key, value in imagenet_state_dict(NETS[net]).items():
        prefix, _, leaf = key.rpartition(".")
        if prefix in where:
            target = f"{where[prefix]}.{leaf}"
            if state[target].shape != value.shape:
                raise RuntimeError(f"ImageNet weight {key} has shape {tuple(value.shape)}, "
                                   f"LPIPS expects {tuple(state[target].shape)}")
            state[target] = value
            replaced.add(target)
    linear = torch.load(lpips_linear_path(net), map_location="cpu", weights_only=True)
    for key, value in linear.items():  # `lin0.*` ... also appear as `lins.0.*` (same tensors)
        for target in (key, "lins." + key[len("lin"):] if key[3:4].isdigit() else key):
            if target in state:
                state[target] = value
                replaced.add(target)
    missing = [k for k in state if (k.startswith("net.") or k.startswith("lin")) and k not in replaced]
    if missing:
        raise RuntimeError(f"LPIPS weights incomplete, these were not loaded: {missing[:5]}")
    model.load_state_dict(state, strict=True)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


class LPIPS:
    """Batched LPIPS on float32 `[0, 1]` images `(N, H, W, C)`, any C (see `rgb_groups`).

    `LPIPS(net="alex" | "vgg", device="cpu")`; `.batch(a, b) -> (N,)`, `.distance(a, b) -> float`.
    The torch module is shared through `get_lpips(net, device)`.
    """

    def __init__(self, net: str = "alex", device: str | torch.device = "cpu", min_size: int = MIN_SIZE):
        self.net = net
        self.device = torch.device(device)
        self.min_size = min_size
        self.module = get_lpips(net, str(self.device))

    def tensor_batch(self, a: torch.Tensor, b: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        """LPIPS of `(N, C, H, W)` tensors in [0, 1] -> `(N,)` (no gradient)."""
        if a.shape != b.shape:
            raise ValueError(f"the two image sets differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
        ga, gb = rgb_groups(a), rgb_groups(b)
        k, n = ga.shape[:2]
        fa, fb = ga.reshape(k * n, *ga.shape[2:]), gb.reshape(k * n, *gb.shape[2:])
        out = []
        with torch.inference_mode():
            for i in range(0, k * n, chunk):
                pa = upsample_small(fa[i:i + chunk], self.min_size) * 2 - 1
                pb = upsample_small(fb[i:i + chunk], self.min_size) * 2 - 1
                out.append(self.module(pa, pb).flatten())
        return torch.cat(out).reshape(k, n).mean(0)

    def batch(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """LPIPS for N pairs: `a`, `b` float32 `(N, H, W, C)` in [0, 1] -> `(N,)` float32."""
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim != 4 or a.shape != b.shape:
            raise ValueError(f"expected two image sets of the same shape (N, H, W, C); got {a.shape} and {b.shape}")
        if a.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ValueError("the images contain NaN or infinite values; LPIPS needs finite values in [0, 1]")
        d = self.tensor_batch(_as_nchw(a, self.device), _as_nchw(b, self.device))
        return d.float().cpu().numpy()

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """LPIPS between two images `(H, W, C)` float32 in [0, 1]."""
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim == 2:
            a, b = a[..., None], b[..., None]
        if a.ndim != 3 or a.shape != b.shape:
            raise ValueError(f"expected two images of the same shape (H, W, C); got {a.shape} and {b.shape}")
        return float(self.batch(a[None], b[None])[0])


_CACHE: dict[tuple[str, str], nn.Module] = {}
_LOCK = threading.Lock()


def get_lpips(net: str = "alex", device: str = "cpu") -> nn.Module:
    """The LPIPS torch module for (net, device), built once per process and shared (do not mutate)."""
    key = (net, str(torch.device(device)))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = build_lpips_module(net).to(key[1])
        return _CACHE[key]


class ImageNetEncoder(nn.Module):
    """Paper's ImageNet baseline: channel adapter -> ImageNet mean/std -> VGG16 features -> GAP.

    Input float32 `(B, C, H, W)` in [0, 1] with `in_channels` channels; output `(B, 512)`, the
    average over the adapter's groups (see `rgb_groups`). Images under `min_size` are upsampled.
    """

    def __init__(self, features: nn.Module, in_channels: int, min_size: int = MIN_SIZE):
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be at least 1, got {in_channels}")
        self.features = features
        self.in_channels = in_channels
        self.min_size = min_size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W) images, got {tuple(x.shape)}")
        groups = rgb_groups(x)
        k, b = groups.shape[:2]
        flat = upsample_small(groups.reshape(k * b, *groups.shape[2:]), self.min_size)
        feats = self.features((flat - self.mean) / self.std)
        return feats.mean(dim=(2, 3)).reshape(k, b, -1).mean(0)


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
    return ImageNetEncoder(imagenet_vgg16_features(), in_channels, min_size=min_size).eval()
