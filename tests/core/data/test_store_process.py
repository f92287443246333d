"""Cell stores under real processes: an import killed by a signal resumes to the same store, and a
process whose address space is capped below the size of the crops still embeds them all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from app_support import ROOT

from ssrl_core.data.cellset import CellSet
from ssrl_core.data.store import open_store, read_manifest, save_store

CROP = 32


def _env(tmp_path: Path, **extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2", SSRL_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _plate(shared_data: Path, folder: Path) -> Path:
    """24 sites (the 12 real BBBC007 DNA fields, each in two wells) with a second derived channel."""
    fields = sorted(p for p in (shared_data / "fields" / "bbbc007").glob("*.tif") if "_labels" not in p.name)
    assert len(fields) >= 12
    folder.mkdir()
    for i, f in enumerate(fields[:12] * 2):
        dna = tifffile.imread(f)
        well = f"{'BCDEFG'[i // 4]}{i % 4 + 2:02d}"
        tifffile.imwrite(folder / f"{well}_s1_w1.tif", dna)
        tifffile.imwrite(folder / f"{well}_s1_w2.tif", (255 - dna).astype(np.uint8))
    return folder


def test_import_killed_midway_resumes_to_the_same_store(shared_data, tmp_path, monkeypatch):
    from ssrl_core.cli import main

    folder = _plate(shared_data, tmp_path / "plate")
    chunk = str(100 * CROP * CROP * 2)  # 100 crops a chunk: sites are cut by chunk ends
    monkeypatch.setenv("SSRL_STORE_CHUNK_BYTES", chunk)
    assert main(["data", "import-plate", str(folder), "--crop", str(CROP), "--out", str(tmp_path / "ref.cells"),
                 "--json"]) == 0
    out = tmp_path / "cut.cells"
    cmd = [sys.executable, "-m", "ssrl_core", "data", "import-plate", str(folder), "--crop", str(CROP),
           "--out", str(out), "--json"]
    proc = subprocess.Popen(cmd, env=_env(tmp_path, SSRL_STORE_CHUNK_BYTES=chunk), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if (out / "store.json").is_file() and len(read_manifest(out)["chunks"]) >= 3:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the import finished before it could be interrupted: " + \
            proc.stderr.read().decode()[-500:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    cut = read_manifest(out)
    assert not cut["complete"] and 300 <= cut["cells"]
    assert main(["data", "import-plate", str(folder), "--crop", str(CROP), "--out", str(out), "--json"]) == 0
    ref, got = open_store(tmp_path / "ref.cells", lazy=True), open_store(out, lazy=True)
    assert len(got) == len(ref) > cut["cells"]
    np.testing.assert_array_equal(got.images[:], ref.images[:])
    pd.testing.assert_frame_equal(got.meta, ref.meta)
    assert read_manifest(out)["complete"]
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from ssrl_core.data.store import open_store
    from ssrl_core.evaluate.embedding import embed_with_info

    def vm_size():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    cells = open_store(sys.argv[1], lazy=True)
    warm = cells.subset(np.arange(32))  # torch, the model and its kernels loaded before the cap
    embed_with_info(warm, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=16, use_cache=False)
    cap = vm_size() + int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        np.asarray(cells.images)
        whole = "read"
    except MemoryError:
        whole = "refused"
    feats, info = embed_with_info(cells, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=16)
    np.save(sys.argv[3], feats)
    print(json.dumps({"whole": whole, "shape": list(feats.shape), "finite": bool(np.isfinite(feats).all())}))
""")


def test_embedding_streams_under_a_memory_cap_below_the_crops(tmp_path, one_torch_thread):
    from ssrl_core.evaluate.embedding import embed_with_info

    rng = np.random.default_rng(0)
    n = 2000
    cells = CellSet(rng.integers(0, 4096, (n, 96, 96, 2), dtype=np.uint16), ["DNA", "Actin"],
                    pd.DataFrame({"i": np.arange(n)}), name="capped")
    path = save_store(cells, tmp_path / "capped.cells")
    budget = cells.images.nbytes // 2  # 37 MB above the warmed-up process: half of the uint16 crops
    script = tmp_path / "embed_capped.py"
    script.write_text(MEMORY_SCRIPT)
    res = subprocess.run([sys.executable, str(script), str(path), str(budget), str(tmp_path / "feats.npy")],
                         env=_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["whole"] == "refused"  # the cap is real: the crops alone do not fit under it
    assert got["shape"] == [n, 64] and got["finite"]
    ref = embed_with_info(cells, "random-tiny_cnn", device="cpu", precision="fp32", batch_size=16,
                          use_cache=False)[0]  # the in-memory path, in this process without a cap
    np.testing.assert_array_equal(np.load(tmp_path / "feats.npy"), ref)
