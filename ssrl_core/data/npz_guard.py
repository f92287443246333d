"""Checks of an .npz file before any array in it is read: what it is, and what it would cost.

An npz is a zip archive of `.npy` arrays. A few megabytes of zeros can declare gigabytes
(a decompression bomb), so, as the TIFF reader does with an image header
(`imagefile.check_budget`), every member's declared size is read first: the zip header's
uncompressed size and the npy header's shape and type, which must agree. The file is refused,
naming the array, its declared shape and size, when

- an array would take more memory than the budget (`npz_budget`: `SSRL_NPZ_MAX_BYTES`, else
  60 % of the memory available now, at most 16 GiB), or all arrays together would;
- an array larger than 64 MiB expands more than 200 times from its compressed bytes (real
  images compress 2-10 times; deflate's limit is about 1,000);
- an array holds pickled Python objects, or its header says more than its zip entry holds.

A file that is not a zip archive at all is named for what it is (a single `.npy` array, text,
something else) instead of numpy's "contains pickled data".
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

MAX_RATIO = 200
RATIO_FROM = 64 << 20
CAP = 16 << 30


def npz_budget() -> int:
    """Bytes one npz may expand to in memory (see the module docstring)."""
    env = os.environ.get("SSRL_NPZ_MAX_BYTES")
    if env:
        return int(float(env))
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            avail = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        avail = 4 << 30
    return int(min(CAP, 0.6 * avail))


def what_is(path: Path) -> str:
    """What a file that is not a zip archive looks like, in words."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if not head:
        return "an empty file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz archive (save it with numpy.savez(path, images=...))"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "not an .npz archive (not a zip file)"
    first = text.strip().splitlines()[0][:40] if text.strip() else ""
    return f"a text file (it begins {first!r}), not an .npz archive" if text.isprintable() or "\n" in text \
        else "not an .npz archive (not a zip file)"


def _mb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) from the start of one `.npy` member (nothing else read)."""
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=100_000)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=100_000)
        return tuple(int(x) for x in shape), np.dtype(dtype), fh.tell()


def check_npz(path: str | Path, budget: int | None = None) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """`{array name: (shape, dtype)}` of an npz after the checks above; ValueError naming the file."""
    path = Path(path)
    budget = npz_budget() if budget is None else int(budget)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path.name} is {what_is(path)}")
    out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                key = info.filename[:-4]
                try:
                    shape, dtype, head = member_header(zf, info)
                except ValueError as exc:
                    raise ValueError(f"{path.name}: the entry '{info.filename}' is not a numpy array "
                                     f"({str(exc).splitlines()[0][:120]})") from None
                if dtype.hasobject:
                    raise ValueError(f"{path.name}: the array '{key}' holds pickled Python objects, which are refused "
                                     "(loading them could run code); save numbers or text instead")
                nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
                dims = "x".join(map(str, shape)) or "a scalar"
                if nbytes > budget:
                    raise ValueError(f"{path.name}: the array '{key}' ({dims} {dtype}) would take {_mb(nbytes)} in "
                                     f"memory, more than the {_mb(budget)} allowed for one dataset file; it was not "
                                     "read. Keep a set this large on disk as a cell store (NAME.cells), or raise "
                                     "SSRL_NPZ_MAX_BYTES if this machine has the memory")
                if info.file_size < head + nbytes:
                    raise ValueError(f"{path.name} is damaged: the array '{key}' says {dims} {dtype} but its entry "
                                     f"holds only {info.file_size - head:,} of {nbytes:,} bytes")
                if nbytes > RATIO_FROM and nbytes > MAX_RATIO * max(info.compress_size, 1):
                    raise ValueError(f"{path.name}: the array '{key}' ({dims} {dtype}) expands from "
                                     f"{_mb(info.compress_size)} to {_mb(nbytes)}, {nbytes // max(info.compress_size, 1):,} "
                                     "times: a decompression bomb or an all-blank array; it was not read")
                total += nbytes
                if total > budget:
                    raise ValueError(f"{path.name}: its arrays together would take more than the {_mb(budget)} "
                                     "allowed for one dataset file; it was not read (keep a set this large as a "
                                     "cell store, or raise SSRL_NPZ_MAX_BYTES)")
                out[key] = (shape, dtype)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path.name} is not a readable .npz file ({exc})") from exc
    return out
