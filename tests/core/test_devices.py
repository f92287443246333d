"""One device and precision resolver: bf16 by default only where the CPU computes it natively."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ssrl_core.devices import cpu_has_native_bf16, resolve_device


def _flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    line = next((x for x in text.splitlines() if x.startswith("flags")), "flags:")
    return set(line.split(":", 1)[1].split())


def test_auto_uses_bf16_on_a_cpu_exactly_when_it_has_native_bf16() -> None:
    native = bool(_flags() & {"avx512_bf16", "amx_bf16"})
    assert cpu_has_native_bf16() == native
    if not torch.cuda.is_available():
        assert resolve_device("auto", "auto") == (torch.device("cpu"), native)
    assert resolve_device("cpu", "fp32") == (torch.device("cpu"), False)
    assert resolve_device("cpu", "bf16") == (torch.device("cpu"), True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_asked_without_a_gpu_and_unknown_names_are_plain_errors() -> None:
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        resolve_device("cuda", "auto")
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_device("cpu", "fp16")


def test_training_and_embedding_record_the_precision_they_used(tmp_path: Path) -> None:
    import json

    from ssrl_core.data.cellset import CellSet
    from ssrl_core.evaluate.embedding import embed_with_info
    from ssrl_core.train import load_config, train

    from tiny_runs import tiny_npz

    npz = tiny_npz(tmp_path / "c.npz")
    train(load_config(None, [f"data.name={npz}", "backbone=tiny_cnn", "crop_size=28", "batch_size=8",
                             "max_steps=1", "cpu_threads=1", "recipes=[microscopy-set-b]"]), tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["precision"] == ("bf16" if resolve_device()[1] else "fp32")
    import numpy as np

    cells = CellSet(np.load(npz)["images"], ["a", "b"], name="tiny")
    f32, i32 = embed_with_info(cells, str(tmp_path / "run"), device="cpu", precision="fp32", use_cache=False)
    b16, i16 = embed_with_info(cells, str(tmp_path / "run"), device="cpu", precision="bf16", use_cache=False)
    assert i32["precision"] == "fp32" and i16["precision"] == "bf16" and b16.dtype == np.float32
    assert np.corrcoef(f32.ravel(), b16.ravel())[0, 1] > 0.99  # the same features, at bf16 rounding
