"""The batched forward pass of crops through an encoder, fed so that a GPU does not wait.

`run_module(module, images, lo, hi, crop_size, device)` -> `(N, D)` float32 features. Used by
`ssrl_core.evaluate.embedding` (and so by every evaluation). The GPU path (issue "The GPU path",
item 5; measured on the CPU at 3,100-5,100 crops/s when scaled with numpy on one thread, copied
from pageable memory, NCHW, batch 256, a sync each batch) is described in `run_module`.

On a CPU the batch is sized by `cpu_batch_size`: the most crops whose largest layer output stays
under `CPU_BATCH_BYTES`. glibc's allocator keeps blocks of that size in its heap and reuses them;
larger ones are mapped fresh from the kernel for every batch and every page of them faulted in
again (`benchmarks/cpu_embed_batch.md`: at batch 256 a third of the embedding time was kernel time).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

Progress = Callable[[float], None]


def _raw_batches(images, batch_size: int, pin: bool):
    """(start, raw batch tensor) in order: the crops as stored (integers stay integers, 2-4x fewer
    bytes to copy than floats), the next batch read (and pinned, for an asynchronous copy to the
    GPU) on a helper thread while the current one is embedded."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    n = len(images)
    starts = list(range(0, n, batch_size))

    def load(start: int):
        t = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
        return t.pin_memory() if pin else t

    if len(starts) <= 1:
        for start in starts:
            yield start, load(start)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-read") as pool:
        nxt = pool.submit(load, starts[0])
        for i, start in enumerate(starts):
            x = nxt.result()
            if i + 1 < len(starts):
                nxt = pool.submit(load, starts[i + 1])
            yield start, x


GPU_BATCH = 1024  # crops per forward pass on a GPU when the caller leaves batch_size unset
CPU_BATCH_BYTES = 16 * 2**20  # a CPU batch's largest layer output (glibc maps blocks over 32 MB anew)
CPU_BATCH_RANGE = (4, 256)


def cpu_batch_size(module, channels: int, crop_size: int, bf16: bool = False) -> int:
    """Crops per forward pass on a CPU: the largest power of two (4..256) whose biggest layer output
    stays under `CPU_BATCH_BYTES`, measured by passing one blank crop through `module` (as the
    batches will run: same size, same precision). A size that does not depend on the numbers:
    every crop's features are the same at any batch size (tests/core/evaluate/test_embed_forward.py)."""
    import torch

    biggest = 1

    def note(_mod, _inp, out) -> None:
        nonlocal biggest
        if torch.is_tensor(out):
            biggest = max(biggest, out.numel() * out.element_size())

    hooks = [m.register_forward_hook(note) for m in module.modules() if next(m.children(), None) is None]
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            module(torch.zeros(1, channels, crop_size, crop_size).contiguous(memory_format=torch.channels_last))
    finally:
        for h in hooks:
            h.remove()
    fits = max(1, CPU_BATCH_BYTES // biggest)
    low, high = CPU_BATCH_RANGE
    return int(min(high, max(low, 2 ** (fits.bit_length() - 1))))


def scale_on_device(raw, lo, hi):
    """`to_unit_float` on a tensor: the same float32 operations in the same order, so the numbers
    are those of the numpy path, computed where the batch already is (the GPU)."""
    import torch

    out = (raw.float() - lo) / (hi - lo)
    return torch.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0).clamp_(0.0, 1.0)


def run_module(module, images, lo, hi, crop_size: int, device: str, batch_size: int | None = None,
               progress: Progress | None = None, bf16: bool = False) -> np.ndarray:
    """Batched, gradient-free forward pass of `(N, H, W, C)` images through `module`
    (bf16 autocast when `bf16`; the features come back as float32).

    The GPU path (issue "The GPU path", item 5): the raw crops are read and pinned on a helper
    thread, copied asynchronously on a side stream (the copy of batch i+1 overlaps the forward
    pass of batch i), scaled to [0, 1] on the device (`scale_on_device`), kept channels-last
    (NHWC bytes, as stored; the module converted to channels_last), in batches of `GPU_BATCH`
    when `batch_size` is None (`cpu_batch_size` on a CPU), and the features of batch i are read
    back only after batch i+1 has been queued (a lagged read, not a pipeline drain per batch). On
    the CPU the same code runs without pinning or streams. `images` may be an array or a lazy
    store view."""
    import torch
    import torch.nn.functional as F

    dev = torch.device(device)
    cuda = dev.type == "cuda"
    n = len(images)
    out: np.ndarray | None = None
    lo_t = torch.as_tensor(np.asarray(lo, dtype=np.float32), device=dev)
    hi_t = torch.as_tensor(np.asarray(hi, dtype=np.float32), device=dev)
    module.to(memory_format=torch.channels_last)
    if not batch_size:
        batch_size = GPU_BATCH if cuda else cpu_batch_size(module, lo_t.numel(), crop_size, bf16)
    copy_stream = torch.cuda.Stream(dev) if cuda else None
    pending: tuple[int, Any, Any] | None = None  # (start, features on their way to the host, event)

    def collect(item) -> None:
        nonlocal out
        start, y, event = item
        if event is not None:
            event.synchronize()
        y = y.numpy()
        if out is None:
            out = np.empty((n, y.shape[1]), dtype=np.float32)
        out[start:start + len(y)] = y
        if progress is not None:
            progress(min(1.0, (start + len(y)) / n))

    with torch.inference_mode():
        batches = _raw_batches(images, batch_size, pin=cuda)
        nxt = next(batches, None)
        staged = _stage(nxt, dev, copy_stream)
        while nxt is not None:
            start, x = nxt[0], staged
            nxt = next(batches, None)
            if cuda:
                torch.cuda.current_stream(dev).wait_stream(copy_stream)
                x.record_stream(torch.cuda.current_stream(dev))
            staged = _stage(nxt, dev, copy_stream)  # the next copy overlaps this forward pass
            t = scale_on_device(x, lo_t, hi_t).permute(0, 3, 1, 2)  # NCHW view of NHWC bytes
            if t.shape[-2:] != (crop_size, crop_size):
                t = F.interpolate(t, size=(crop_size, crop_size), mode="bilinear", align_corners=False,
                                  antialias=t.shape[-1] > crop_size)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                y = module(t.contiguous(memory_format=torch.channels_last))
            y = y.reshape(len(y), -1).float().to("cpu", non_blocking=cuda)
            event = torch.cuda.Event() if cuda else None
            if event is not None:
                event.record(torch.cuda.current_stream(dev))
            if pending is not None:
                collect(pending)  # batch i-1's features: ready while batch i runs
            pending = (start, y, event)
        if pending is not None:
            collect(pending)
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def _stage(item, dev, copy_stream):
    """Start copying a raw batch to the device (on the side stream on CUDA); None at the end."""
    if item is None:
        return None
    if copy_stream is None:
        return item[1].to(dev)
    import torch

    with torch.cuda.stream(copy_stream):
        return item[1].to(dev, non_blocking=True)
