"""Training straight from a lazy cell store: the same run as from the same cells in memory,
with DataLoader worker processes reading the store themselves."""

from __future__ import annotations

from pathlib import Path

import torch

from ssrl_core.data.npz import load_npz
from ssrl_core.data.store import save_store
from ssrl_core.models.encoder_file import load_checkpoint
from ssrl_core.train import load_config, train
from ssrl_core.train.data import UnitFloatImages, load_cells

from tiny_runs import TINY_LOOP as TINY
from tiny_runs import tiny_npz


def test_training_from_a_lazy_store_with_workers_equals_in_memory(tmp_path: Path, monkeypatch) -> None:
    npz = tiny_npz(tmp_path / "tiny.npz", n=48)
    store = save_store(load_npz(npz), tmp_path / "tiny.cells", chunk_cells=10)  # 5 chunks
    monkeypatch.setattr("ssrl_core.data.store.IN_MEMORY_BYTES", 0)  # open it lazily, as a big store

    def cfg(name, *extra):
        return load_config(None, [f"data.name={name}", "recipes=[microscopy-set-b]", "method.name=simclr",
                                  *TINY, "max_steps=3", *extra])

    lazy = load_cells(cfg(store).data)
    assert lazy.lazy and len(lazy) == 48
    filtered = load_cells(cfg(store, "data.filter={compound: [taxol, DMSO]}", "data.max_cells=20").data)
    assert filtered.lazy and len(filtered) == 20 and set(filtered.meta["compound"]) <= {"taxol", "DMSO"}
    from ssrl_core.train.data import prepare_images

    assert isinstance(prepare_images(lazy)[0], UnitFloatImages)
    train(cfg(npz, "num_workers=0"), tmp_path / "mem")
    train(cfg(store, "num_workers=2"), tmp_path / "disk")
    a = load_checkpoint(tmp_path / "mem" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "disk" / "checkpoint.pt")
    assert a["channel_ranges"] == b["channel_ranges"] and b["cells"] == 48
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
