"""Item 3 of "The GPU path": between two log steps the training loop never waits for the device.

On the CPU nothing waits, so the host reads are counted instead: every `Tensor.item()`,
`bool(t)`, `float(t)`, `int(t)` (they all reach `aten::_local_scalar_dense`, seen by a
`TorchDispatchMode`), `.tolist()`, `.numpy()` and `.cpu()` made by the loop, the methods or the
models. Two kinds of reads are not counted, because their tensors are CPU tensors on every device
so reading them never waits for a GPU: the optimisers' `.item()` on their step counters
(`capturable=False`) and the sampler's permutation of the cells (`EpochSampler`, made with a CPU
generator once per epoch, in the loader). Steps are
told apart with the optimiser step hook; a read is charged to the step whose optimiser step last
ran. Every step that is not a log step must have zero reads.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from torch.utils._python_dispatch import TorchDispatchMode

from ssrl_core.train import load_config, train

from tiny_runs import tiny_npz

READS = ("_local_scalar_dense", "nonzero", "masked_select", "_unique2", "equal")


def _cpu_only() -> bool:
    """The read comes from an optimiser's step counter or the sampler (see the module docstring)."""
    f = sys._getframe(2)
    while f is not None:
        if "/torch/optim/" in f.f_code.co_filename.replace("\\", "/") or f.f_code.co_qualname.startswith("EpochSampler."):
            return True
        f = f.f_back
    return False


class HostReads(TorchDispatchMode):
    """Counts host reads of tensor values per optimiser step (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.reads: Counter[int] = Counter()
        self._hook = None
        self._saved: dict[str, object] = {}

    def _note(self) -> None:
        if not _cpu_only():
            self.reads[self.step] += 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.__name__.split(".")[0] in READS:
            self._note()
        return func(*args, **(kwargs or {}))

    def __enter__(self):
        self._hook = register_optimizer_step_post_hook(lambda *a: setattr(self, "step", self.step + 1))
        for name in ("tolist", "numpy", "cpu"):
            orig = getattr(torch.Tensor, name)
            self._saved[name] = orig

            def wrapped(t, *a, _orig=orig, _name=name, **kw):
                if _name != "cpu" or t.device.type != "cpu":  # .cpu() of a CPU tensor reads nothing
                    self._note()
                return _orig(t, *a, **kw)
            setattr(torch.Tensor, name, wrapped)
        return super().__enter__()

    def __exit__(self, *exc):
        for name, orig in self._saved.items():
            setattr(torch.Tensor, name, orig)
        self._hook.remove()
        return super().__exit__(*exc)


@pytest.mark.parametrize("method", ["vicreg", "moco_v2"])
def test_no_host_read_between_log_steps(tmp_path: Path, method: str) -> None:
    npz = tiny_npz(tmp_path / "cells.npz", n=48)
    cfg = load_config(None, [f"data.name={npz}", "recipes=[microscopy-set-b]", f"method.name={method}",
                             "method.params.hidden_dim=32", "method.params.out_dim=16", "backbone=tiny_cnn",
                             "crop_size=24", "batch_size=8", "epochs=3", "max_steps=12", "log_every=4",
                             "cpu_threads=1", "num_workers=0", "max_minutes=30"])
    with HostReads() as counter:
        out = train(cfg, tmp_path / "run")
    assert out["state"] == "finished" and counter.step == 12
    log_steps = {0, 4, 8, 12}  # 0: set-up before the first step; 12: the end
    between = {s: n for s, n in counter.reads.items() if s not in log_steps}
    assert between == {}, f"host reads between log steps (step: count): {between}"
    assert all(counter.reads[s] >= 1 for s in (4, 8))  # the counter does see the agreement reads


def test_the_counter_sees_each_kind_of_read() -> None:
    """The counter is not blind: each read the loop used to make is counted once."""
    t = torch.tensor([1.0, 2.0])
    with HostReads() as counter:
        bool(t[0] > 0), float(t[0]), t.sum().item(), t.tolist(), int(t[1]), t.numpy()
    assert counter.reads[0] == 6
