"""Item 5 of "The GPU path": embedding copies raw crops and scales them on the device.

What the CPU can prove: the batches are the stored integers (not floats scaled on the host), the
scaling on the device gives exactly the numbers of `to_unit_float`, and the whole forward pass
(channels-last, lagged read of the features) gives the features of the former host-scaled NCHW
path. Pinning and the side-stream copy need a GPU: benchmarks/gpu_check.sh runs them there.
On a CPU the batch is sized from the encoder's largest layer output, and the features do not
depend on the batch size.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ssrl_core.data.cellset import to_unit_float
from ssrl_core.evaluate.forward import CPU_BATCH_BYTES, _raw_batches, cpu_batch_size, run_module, scale_on_device
from ssrl_core.models import build_backbone


def _crops(n: int = 37, size: int = 20, c: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 4096, (n, size, size, c)).astype(np.uint16)


def test_device_scaling_is_to_unit_float_exactly() -> None:
    images = _crops()
    lo = np.array([100.0, 50.5, 7.0], np.float32)
    hi = np.array([3000.0, 50.5, 3900.25], np.float32)  # one channel with hi == lo
    want = to_unit_float(images, lo, hi)
    got = scale_on_device(torch.from_numpy(images), torch.from_numpy(lo), torch.from_numpy(hi)).numpy()
    assert np.array_equal(got, want)


def test_raw_batches_are_the_stored_integers_in_order() -> None:
    images = _crops()
    got = list(_raw_batches(images, 16, pin=False))
    assert [s for s, _ in got] == [0, 16, 32]
    assert all(t.dtype == torch.uint16 for _, t in got)
    assert np.array_equal(np.concatenate([t.numpy() for _, t in got]), images)


def test_forward_pass_matches_the_host_scaled_nchw_path(one_torch_thread) -> None:
    images = _crops(size=24)
    lo, hi = np.full(3, 50.0, np.float32), np.full(3, 3500.0, np.float32)
    torch.manual_seed(0)
    module, _ = build_backbone("tiny_cnn", 3, 16)
    module.eval()
    feats = run_module(module, images, lo, hi, 16, "cpu", batch_size=10)
    with torch.inference_mode():
        x = torch.from_numpy(to_unit_float(images, lo, hi)).permute(0, 3, 1, 2).contiguous()
        x = F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False, antialias=True)
        want = module(x).numpy()
    assert feats.shape == want.shape == (37, want.shape[1])
    np.testing.assert_allclose(feats, want, rtol=1e-4, atol=1e-5)


def test_cpu_batch_keeps_the_largest_layer_output_under_the_budget() -> None:
    wide = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
    per_crop = 64 * 64 * 64 * 4  # the convolution's float32 output for one 64 px crop: 1 MiB
    assert cpu_batch_size(wide, 3, 64) == CPU_BATCH_BYTES // per_crop == 16
    assert cpu_batch_size(wide, 3, 64, bf16=True) == 32  # bf16 outputs take half the bytes
    assert cpu_batch_size(wide, 3, 48) == 16  # 28 crops fit: the power of two below
    assert cpu_batch_size(wide, 3, 8) == 256  # at most 256
    assert cpu_batch_size(wide, 3, 256) == 4  # at least 4, even when one crop is over the budget
    assert not any(m._forward_hooks for m in wide.modules())  # the measuring hooks are gone


def test_features_do_not_depend_on_the_batch_size(one_torch_thread) -> None:
    images = _crops(n=300, size=16)
    lo, hi = np.full(3, 50.0, np.float32), np.full(3, 3500.0, np.float32)
    torch.manual_seed(0)
    module, _ = build_backbone("tiny_cnn", 3, 16)
    module.eval()
    seen: list[float] = []
    auto = run_module(module, images, lo, hi, 16, "cpu", batch_size=None, progress=seen.append)
    assert len(seen) == -(-len(images) // cpu_batch_size(module, 3, 16)) >= 2  # one progress call a batch
    for batch in (1, 7, 300):
        np.testing.assert_allclose(run_module(module, images, lo, hi, 16, "cpu", batch_size=batch), auto,
                                   rtol=1e-5, atol=1e-6)
