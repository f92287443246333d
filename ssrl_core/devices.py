"""One place that decides where and at which precision tensors are computed.

`resolve_device(device, precision)` -> `(torch.device, use_bf16)`:
- `device`: `auto` (CUDA when present, else the CPU), `cuda` (refused when absent) or `cpu`;
- `precision`: `auto` uses bf16 autocast on CUDA, and on a CPU only where bf16 is native
  (AVX-512 BF16 or AMX: measured 2.07x for ResNet18 and 2.29x for VGG13 at 64 px on this
  project's CPU, with no loss of quality in `benchmarks/train_quality.md`); elsewhere fp32, since
  emulated bf16 is slower than fp32. `bf16` forces autocast, `fp32` turns it off.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 natively (Linux: the `avx512_bf16` / `amx_bf16` flags)."""
    if platform.system() != "Linux" or not torch.backends.mkldnn.is_available():
        return False
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def resolve_device(device: str = "auto", precision: str = "auto") -> tuple[torch.device, bool]:
    """(device, use_bf16) for a requested device and precision (see the module docstring)."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device is 'cuda' but no CUDA GPU is available here; use device: auto or cpu")
    kind = "cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu"
    if precision == "auto":
        bf16 = kind == "cuda" or cpu_has_native_bf16()
    else:
        bf16 = precision == "bf16"
    return torch.device(kind), bf16


def describe(device: torch.device, bf16: bool) -> str:
    """Plain words for the app, e.g. 'CPU, bf16 (native)'."""
    where = "GPU (CUDA)" if device.type == "cuda" else "CPU"
    return f"{where}, {'bf16 mixed precision' if bf16 else 'fp32'}"
