"""Embedding in parts across processes (`ssrl embed --procs N`, torchrun): the table equals the
one-process table value by value, a killed rank's shard is redone on rerun and finished parts are
kept, and two torchrun launches meeting at a localhost rendezvous (as two machines would) give the
same table. Real processes (gloo on the CPU), a small store of 300 cells."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssrl_core import paths
from ssrl_core.cli import main
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.store import open_store, save_store
from ssrl_core.evaluate.embed_procs import Ranks, embed_rank, merge_parts, parts_dir, shard_size, shards, signature
from ssrl_core.evaluate.export import read_table

N, BATCH, SHARD = 300, 32, 64  # 5 parts of 64 cells (the last 44): 3 for rank 0, 2 for rank 1
ENC = ["--encoder", "random-tiny_cnn", "--batch-size", str(BATCH), "--device", "cpu", "--no-cache"]


@pytest.fixture(scope="module")
def screen(tmp_path_factory) -> tuple[Path, Path]:
    """A 300-cell store (plates, wells, compounds) and its table embedded by one process."""
    base = tmp_path_factory.mktemp("procs")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 4096, (N, 16, 16, 2), dtype=np.uint16)
    meta = pd.DataFrame({"plate": rng.choice(["P1", "P2"], N), "well": rng.choice(["A01", "A02", "B03"], N),
                         "compound": rng.choice(["DMSO", "taxol"], N), "dose": rng.choice([0.0, 1.5], N)})
    store = save_store(CellSet(images, ["DNA", "Actin"], meta, name="screen"), base / "screen.cells", chunk_cells=70)
    one = base / "one.parquet"
    assert main(["embed", *ENC, "--data", str(store), "--out", str(one)]) == 0
    return store, one


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return dict(env, OMP_NUM_THREADS="1", PYTHONPATH=str(paths.PROJECT_ROOT))


@pytest.mark.slow
def test_two_processes_write_the_one_process_table_and_redo_only_a_killed_ranks_parts(screen, tmp_path,
                                                                                      capfd) -> None:
    store, one = screen
    out = tmp_path / "two.parquet"
    cells = open_store(store)
    size = shard_size(BATCH, SHARD)
    # a 2-process run whose rank 1 was killed: rank 0's three parts are on disk, rank 1's are not
    first = embed_rank(cells, "random-tiny_cnn", out, Ranks(0, 2), device="cpu", batch_size=BATCH,
                       shard_cells=SHARD, use_cache=False)
    assert first["computed"] == 3 and first["shards"] == 3
    (parts_dir(out) / ".part_000000000064_000000000128.npy.x.tmp").write_bytes(b"cut short")
    with pytest.raises(RuntimeError, match="2 of 5 parts are missing"):
        merge_parts(cells, out, first["signature"], size)
    capfd.readouterr()
    code = subprocess.run([sys.executable, "-m", "ssrl_core", "embed", *ENC, "--data", str(store), "--out", str(out),
                           "--procs", "2", "--shard-cells", str(SHARD), "--json"], env=_env(), capture_output=True,
                          text=True, timeout=240, cwd=paths.PROJECT_ROOT)
    assert code.returncode == 0, code.stderr[-3000:]
    report = json.loads(code.stdout.strip().splitlines()[-1])
    assert report["processes"] == 2 and report["parts_kept"] == 3 and report["parts_computed"] == 0  # rank 0's
    assert not parts_dir(out).exists()  # merged, then the parts are removed
    a, b = read_table(one), read_table(out)
    pd.testing.assert_frame_equal(a, b)  # same rows, order, columns, types and values, bit for bit
    assert len(b) == N and b["emb_0"].std() > 0


def test_a_part_made_for_other_settings_is_redone_and_one_process_resumes(screen, tmp_path) -> None:
    store, one = screen
    cells = open_store(store)
    out = tmp_path / "p1.parquet"
    size = shard_size(BATCH, SHARD)
    sig = signature(cells, "random-tiny_cnn", "cpu", "auto", BATCH, size)
    stale = parts_dir(out)
    stale.mkdir()
    a, b = shards(N, size)[1]
    np.save(stale / f"part_{a:012d}_{b:012d}.npy", np.zeros((b - a, 64), np.float32))
    (stale / f"part_{a:012d}_{b:012d}.json").write_text(json.dumps({"signature": "other", "sha256": "x"}))
    report = embed_rank(cells, "random-tiny_cnn", out, Ranks(), device="cpu", batch_size=BATCH, shard_cells=SHARD,
                        use_cache=False)
    assert report["signature"] == sig and report["computed"] == 5 and report["kept"] == 0
    assert main(["embed", *ENC, "--data", str(store), "--out", str(out), "--procs", "1",
                 "--shard-cells", str(SHARD)]) == 0  # every part kept, then merged
    pd.testing.assert_frame_equal(read_table(one), read_table(out))
    assert main(["embed", *ENC, "--data", str(store), "--out", str(out), "--procs", "0"]) == 2  # plain refusal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_torchrun_launches_meet_at_a_localhost_rendezvous(screen, tmp_path) -> None:
    """What two machines run (`--nnodes=2`, a c10d rendezvous), here as two launches on one."""
    store, one = screen
    out = tmp_path / "nodes.parquet"
    port = _free_port()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
           "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=issue27",
           "-m", "ssrl_core", "embed", *ENC, "--data", str(store), "--out", str(out), "--shard-cells", str(SHARD)]
    launches = [subprocess.Popen(cmd, env=_env(), cwd=paths.PROJECT_ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=240) for p in launches]
    assert all(p.returncode == 0 for p in launches), [r[1][-2000:] for r in results]
    assert sum("wrote 300 embeddings" in r[0] for r in results) == 1  # rank 0 alone writes and reports
    pd.testing.assert_frame_equal(read_table(one), read_table(out))
