"""`ssrl lpips IMAGE_A IMAGE_B`: the LPIPS perceptual distance between two image files.

LPIPS: Zhang et al., CVPR 2018 (see `ssrl_core.perceptual`). Images may be PNG/JPEG or TIFF
(read by `ssrl_core.data.imagefile`), with any channel count and bit depth. 8-bit images are scaled by
255 (as the reference LPIPS code does); other depths are scaled per channel between the 0.5th and
99.5th percentiles computed over both images together, so both share one intensity scale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ssrl_core.cli._common import emit


def read_image(path: str | Path) -> np.ndarray:
    """An image file as `(H, W, C)` in its own dtype (`ssrl_core.data.imagefile.read_image`)."""
    from ssrl_core.data.imagefile import BadImage
    from ssrl_core.data.imagefile import read_image as _read

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        return _read(path)
    except BadImage as exc:
        raise ValueError(f"{path.name}: {exc}") from exc


def to_pair_unit(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float32 [0, 1]: /255 for 8-bit, shared per-channel percentiles otherwise."""
    if a.dtype == np.uint8 and b.dtype == np.uint8:
        return a.astype(np.float32) / 255.0, b.astype(np.float32) / 255.0
    if a.dtype == bool:
        a = a.astype(np.float32)
    if b.dtype == bool:
        b = b.astype(np.float32)
    from ssrl_core.data.cellset import channel_ranges, to_unit_float

    both = np.stack([a, b]).astype(np.float32)
    lo, hi = channel_ranges(both)
    unit = to_unit_float(both, lo, hi)
    return unit[0], unit[1]


def lpips_files(path_a: str | Path, path_b: str | Path, net: str = "alex", device: str = "cpu") -> dict:
    """LPIPS between two image files; returns a small report dict."""
    from ssrl_core.perceptual import LPIPS

    a, b = read_image(path_a), read_image(path_b)
    if {a.shape[2], b.shape[2]} == {1, 3}:  # a grey picture next to a colour one: grey as RGB
        a, b = (np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x for x in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"the two images differ in size or channels ({a.shape[0]}x{a.shape[1]}x{a.shape[2]} vs "
                         f"{b.shape[0]}x{b.shape[1]}x{b.shape[2]}); LPIPS compares images of the same size")
    ua, ub = to_pair_unit(a, b)
    distance = LPIPS(net=net, device=device).distance(ua, ub)
    channels = a.shape[2]
    return {"image_a": str(path_a), "image_b": str(path_b), "net": net, "lpips": distance,
            "height": a.shape[0], "width": a.shape[1], "channels": channels, "dtype": str(a.dtype),
            "adapter": "rgb" if channels == 3 else f"mean over {channels} grey channel(s)"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lpips", help="LPIPS perceptual distance between two images",
                       description="LPIPS perceptual distance (Zhang et al. 2018) between two images "
                                   "(png/jpg/tif, any channel count, 8 or 16 bit). 0 = identical.")
    p.add_argument("image_a", metavar="IMAGE_A")
    p.add_argument("image_b", metavar="IMAGE_B")
    p.add_argument("--net", choices=("alex", "vgg"), default="alex", help="backbone (default: alex)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    report = lpips_files(args.image_a, args.image_b, net=args.net, device=args.device)
    emit(report, args.json, text=f"{report['lpips']:.4f}")
    return 0
