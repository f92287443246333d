"""A second executor for recipes: views made in batches with torch, on the GPU (or any device).

One recipe, two executors (issue "The GPU path", item 2). `ViewMaker` (albumentations, one image
at a time on a CPU core) is the reference; `BatchViews(recipe, out_size)(x, generator)` makes one
view of every image of a batch `(B, C, H, W)` float [0, 1] where the batch already is, each image
with its own random parameters drawn from a torch generator, following the albumentations form of
each step (`ssrl_core.augment.catalog`): the same parameter distributions (angles, scales, crop
boxes, factors, sigmas, noise strengths), with bilinear resampling by `grid_sample` instead of
OpenCV's `warpAffine`/`resize`. The steps agree with albumentations in distribution, not pixel
for pixel (a different random generator): tests/test_augment_batched.py holds each step's
statistics to its albumentations form. A step that cannot run here (`hue_saturation`: RGB only;
`pad`/`resize` applied with a probability below 1, which would give images of several sizes)
makes `unsupported(recipe)` non-empty, and such a recipe runs on the CPU path (`ViewPairs`).

`BatchTwoViews` makes the two views of a pair; steps with `draw: pair` draw once per pair (both
views use the same draw), as in `TwoViews`.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .recipe import Recipe, Step

Op = Callable[[torch.Tensor, dict, torch.Generator], torch.Tensor]
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}
_GRID_MODES = {"constant": "zeros", "reflect": "reflection", "edge": "border"}


def _u(g: torch.Generator, n: int, lo: float, hi: float, dev: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g, device=dev)


def _warp(x: torch.Tensor, m: torch.Tensor, border: str = "constant", out_hw: tuple[int, int] | None = None):
    """Resample `x` with per-image 2x3 matrices `m` mapping output pixel (x, y) -> input pixel."""
    b, _, h, w = x.shape
    oh, ow = out_hw or (h, w)
    dev, dt = x.device, x.dtype
    # normalised (align_corners=False) <-> pixel: p = ((n + 1) * size - 1) / 2
    to_px = torch.tensor([[ow / 2, 0, (ow - 1) / 2], [0, oh / 2, (oh - 1) / 2], [0, 0, 1]], device=dev, dtype=dt)
    to_norm = torch.tensor([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]], device=dev, dtype=dt)
    full = torch.cat([m.to(dt), torch.tensor([0, 0, 1], device=dev, dtype=dt).expand(b, 1, 3)], dim=1)
    theta = (to_norm @ full @ to_px)[:, :2]
    grid = F.affine_grid(theta, [b, x.shape[1], oh, ow], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=_GRID_MODES[border], align_corners=False)


def _about_centre(a: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """2x3 matrices applying 2x2 `a` (output -> input) about the image centre."""
    c = torch.tensor([(w - 1) / 2, (h - 1) / 2], device=a.device, dtype=a.dtype)
    shift = c - (a @ c)
    return torch.cat([a, shift[..., None]], dim=-1)


def _rotate(x, q, g):
    b, _, h, w = x.shape
    t = torch.deg2rad(_u(g, b, -q["degrees"], q["degrees"], x.device))
    cos, sin = torch.cos(t), torch.sin(t)
    a = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    return _warp(x, _about_centre(a, h, w), q["border"])


def _affine(x, q, g):
    b, _, h, w = x.shape
    dev = x.device
    sx, sy = (_u(g, b, *q["scale"], dev) for _ in range(2))
    tx, ty = _u(g, b, -q["translate"], q["translate"], dev) * w, _u(g, b, -q["translate"], q["translate"], dev) * h
    hx, hy = (torch.tan(torch.deg2rad(_u(g, b, -q["shear"], q["shear"], dev))) for _ in range(2))
    one = torch.ones_like(sx)
    shear = torch.stack([torch.stack([one, hx], -1), torch.stack([hy, one], -1)], -2)
    fwd = shear @ torch.diag_embed(torch.stack([sx, sy], -1))  # input -> output, about the centre
    m = _about_centre(torch.linalg.inv(fwd), h, w)
    m[:, 0, 2] -= (m[:, :, :2] @ torch.stack([tx, ty], -1)[..., None])[:, 0, 0]
    m[:, 1, 2] -= (m[:, :, :2] @ torch.stack([tx, ty], -1)[..., None])[:, 1, 0]
    return _warp(x, m, q["border"])


def _crop_boxes(x, x0, y0, cw, ch):
    """Boxes (x0, y0, width, height in pixels) of every image resized back to its full size:
    bilinear, half-pixel centres, clamped inside the box (as cropping then `cv2.resize`)."""
    b, _, h, w = x.shape

    def axis(start, length, n_out, n_in):
        j = torch.arange(n_out, device=x.device, dtype=x.dtype)
        src = start[:, None] + (j[None] + 0.5) * (length[:, None] / n_out) - 0.5
        src = torch.minimum(torch.maximum(src, start[:, None]), (start + length - 1)[:, None])
        return (2 * src + 1) / n_in - 1

    gx, gy = axis(x0, cw, w, w), axis(y0, ch, h, h)
    grid = torch.stack([gx[:, None, :].expand(b, h, w), gy[:, :, None].expand(b, h, w)], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _rrc(x, q, g):
    """torchvision's / albumentations' RandomResizedCrop box: 10 tries, else the centre crop."""
    b, _, h, w = x.shape
    dev, tries = x.device, 10
    area = h * w * _u(g, b * tries, *q["scale"], dev).view(b, tries)
    lr = _u(g, b * tries, math.log(q["ratio"][0]), math.log(q["ratio"][1]), dev).view(b, tries)
    ratio = torch.exp(lr)
    cw, ch = torch.round(torch.sqrt(area * ratio)), torch.round(torch.sqrt(area / ratio))
    ok = (cw > 0) & (ch > 0) & (cw <= w) & (ch <= h)
    first = ok.float().argmax(1)[:, None]
    any_ok = ok.any(1)  # else the whole image (torchvision's fallback for square images and these ratios)
    cw = torch.where(any_ok, cw.gather(1, first)[:, 0], torch.full((b,), float(w), device=dev))
    ch = torch.where(any_ok, ch.gather(1, first)[:, 0], torch.full((b,), float(h), device=dev))
    x0 = torch.floor(torch.rand(b, generator=g, device=dev) * (w - cw + 1))
    y0 = torch.floor(torch.rand(b, generator=g, device=dev) * (h - ch + 1))
    return _crop_boxes(x, x0, y0, cw, ch)


def _side(n: int, f: float) -> int:
    return max(1, min(n, int(round(n * f))))


def _random_crop(x, q, g):
    b, _, h, w = x.shape
    ch, cw = _side(h, q["fraction"]), _side(w, q["fraction"])
    x0 = torch.floor(torch.rand(b, generator=g, device=x.device) * (w - cw + 1))
    y0 = torch.floor(torch.rand(b, generator=g, device=x.device) * (h - ch + 1))
    full = torch.full((b,), 1.0, device=x.device)
    return _crop_boxes(x, x0, y0, full * cw, full * ch)


def _center_crop(x, q, g):
    b, _, h, w = x.shape
    ch, cw = _side(h, q["fraction"]), _side(w, q["fraction"])
    full = torch.full((b,), 1.0, device=x.device)
    return _crop_boxes(x, full * ((w - cw) // 2), full * ((h - ch) // 2), full * cw, full * ch)


def _brightness_contrast(x, q, g):
    b, c = x.shape[:2]
    n = c if q["per_channel"] else 1
    bf = _u(g, b * n, 1 - q["brightness"], 1 + q["brightness"], x.device).view(b, n, 1, 1)
    cf = _u(g, b * n, 1 - q["contrast"], 1 + q["contrast"], x.device).view(b, n, 1, 1)
    out = x * bf
    mean = out.mean(dim=(2, 3), keepdim=True)
    return (mean + cf * (out - mean)).clamp(0.0, 1.0)


def _blur(x, q, g):
    """Gaussian blur with a per-image sigma; kernel size int(sigma * 3.5) * 2 + 1 (albumentations),
    reflect-101 borders (OpenCV's default)."""
    b, c, h, w = x.shape
    sigma = _u(g, b, *q["sigma"], x.device)
    radius = min(int(q["sigma"][1] * 3.5), min(h, w) - 1)
    r = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (r[None] / sigma[:, None]) ** 2)
    k = torch.where(r[None].abs() <= (sigma[:, None] * 3.5).floor(), k, torch.zeros_like(k))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (b * c, 2r + 1)
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)
    return y.view(b, c, h, w)


def _noise(x, q, g):
    b, c, h, w = x.shape
    std = _u(g, b, *q["std"], x.device).view(b, 1, 1, 1)
    shape = (b, c, h, w) if q["per_channel"] else (b, 1, h, w)
    return (x + std * torch.randn(shape, generator=g, device=x.device)).clamp(0.0, 1.0)


def _erasing(x, q, g):
    """Random erasing (Zhong et al. 2020) as albumentations: 10 tries for a box of the area and ratio."""
    b, c, h, w = x.shape
    dev, tries = x.device, 10
    area = h * w * _u(g, b * tries, *q["scale"], dev).view(b, tries)
    ratio = torch.exp(_u(g, b * tries, math.log(q["ratio"][0]), math.log(q["ratio"][1]), dev)).view(b, tries)
    eh, ew = torch.round(torch.sqrt(area * ratio)), torch.round(torch.sqrt(area / ratio))
    ok = (eh < h) & (ew < w) & (eh > 0) & (ew > 0)
    first = ok.float().argmax(1)[:, None]
    eh, ew, any_ok = eh.gather(1, first)[:, 0], ew.gather(1, first)[:, 0], ok.any(1)
    y0 = torch.floor(torch.rand(b, generator=g, device=dev) * (h - eh + 1))
    x0 = torch.floor(torch.rand(b, generator=g, device=dev) * (w - ew + 1))
    yy = torch.arange(h, device=dev).view(1, h, 1)
    xx = torch.arange(w, device=dev).view(1, 1, w)
    box = ((yy >= y0.view(b, 1, 1)) & (yy < (y0 + eh).view(b, 1, 1)) & (xx >= x0.view(b, 1, 1))
           & (xx < (x0 + ew).view(b, 1, 1)) & any_ok.view(b, 1, 1))[:, None]
    fill = torch.rand(x.shape, generator=g, device=dev) if q["fill"] == "random" else torch.zeros_like(x)
    return torch.where(box, fill, x)


def _pad(x, q, g):
    h, w = x.shape[-2:]
    py, px = int(round(h * q["fraction"])), int(round(w * q["fraction"]))
    return F.pad(x, (px, px, py, py), mode=_PAD_MODES[q["border"]])


def _channel_dropout(x, q, g):
    b, c = x.shape[:2]
    hi = max(1, min(q["max_channels"], c - 1))
    k = torch.floor(_u(g, b, 1, hi + 1, x.device)).clamp(max=hi)  # channels to drop, 1..hi
    ranks = torch.rand(b, c, generator=g, device=x.device).argsort(1).argsort(1)
    return torch.where((ranks < k[:, None])[..., None, None], torch.zeros_like(x), x)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Square resize: area-like (antialiased) when shrinking, bilinear otherwise (as the views)."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    small = size * size < x.shape[-2] * x.shape[-1]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=small)


OPS: dict[str, Op] = {
    "rotate": _rotate, "affine": _affine, "random_resized_crop": _rrc, "random_crop": _random_crop,
    "center_crop": _center_crop, "horizontal_flip": lambda x, q, g: x.flip(-1),
    "vertical_flip": lambda x, q, g: x.flip(-2), "brightness_contrast": _brightness_contrast,
    "gaussian_blur": _blur, "gaussian_noise": _noise, "random_erasing": _erasing, "pad": _pad,
    "invert": lambda x, q, g: 1.0 - x, "channel_dropout": _channel_dropout,
    "resize": lambda x, q, g: resize(x, q["size"]),
}
SIZE_CHANGING = ("pad", "resize")


def _active(recipe: Recipe) -> list[Step]:
    return [s for s in recipe.steps if s.enabled and s.p > 0]


def unsupported(recipe: Recipe) -> list[str]:
    """Plain reasons why `recipe` cannot run in batches here (empty: it can)."""
    out = []
    for s in _active(recipe):
        if s.name not in OPS:
            out.append(f"{s.name} has no batched form")
        elif s.name in SIZE_CHANGING and s.p < 1:
            out.append(f"{s.name} with a probability below 1 would give views of several sizes")
    return out


class BatchViews:
    """Callable `(x, generator, pair_generator=None) -> views` for one recipe (see the module doc)."""

    def __init__(self, recipe: Recipe, out_size: int):
        problems = unsupported(recipe)
        if problems:
            raise ValueError("this recipe cannot make views in batches: " + "; ".join(problems))
        self.steps = _active(recipe)
        self.out_size = int(out_size)

    def __call__(self, x: torch.Tensor, g: torch.Generator, pair: torch.Generator | None = None) -> torch.Tensor:
        for s in self.steps:
            gen = pair if s.draw == "pair" and pair is not None else g
            if s.p >= 1:
                x = OPS[s.name](x, s.params, gen)
                continue
            keep = torch.rand(x.shape[0], generator=gen, device=x.device) < s.p
            x = torch.where(keep.view(-1, 1, 1, 1), OPS[s.name](x, s.params, gen), x)
        return resize(x, self.out_size).clamp(0.0, 1.0)


class BatchTwoViews:
    """The two views of every image of a batch; `draw: pair` steps draw once for both views."""

    def __init__(self, recipe: Recipe, out_size: int):
        self.views = BatchViews(recipe, out_size)

    def __call__(self, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        dev = x.device
        g1 = torch.Generator(device=dev).manual_seed(int(seed) * 3 + 1)
        g2 = torch.Generator(device=dev).manual_seed(int(seed) * 3 + 2)
        pair_seed = int(seed) * 3 + 3
        v1 = self.views(x, g1, torch.Generator(device=dev).manual_seed(pair_seed))
        v2 = self.views(x, g2, torch.Generator(device=dev).manual_seed(pair_seed))
        return v1, v2
