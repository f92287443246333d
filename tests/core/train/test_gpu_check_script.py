"""`benchmarks/gpu_check.sh` is only ever run when a GPU is lent: its command lines are checked here,
on the CPU (a dry run: both training runs, the report and the embedding pass, nothing recorded)."""

from __future__ import annotations

import os
import subprocess
import sys

from app_support import ROOT
from conftest import requires_shared


@requires_shared
def test_gpu_check_dry_run_trains_and_reports_without_recording() -> None:
    env = dict(os.environ, DEVICE="cpu", BATCH="8", OMP_NUM_THREADS="1", PYTHON=sys.executable, EMBED_CELLS="64",
               BACKBONE="tiny_cnn")
    before = (ROOT / "benchmarks" / "gpu_check.md").read_bytes() if (ROOT / "benchmarks" / "gpu_check.md").exists() \
        else None
    out = subprocess.run(["bash", "benchmarks/gpu_check.sh", "0.02", "0"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "# GPU check" in text and "steps/s (batch 8)" in text and "| loader workers | 0 | 0 |" in text
    assert "GPU idle share" in text and "views on the GPU (augment_on=device)" in text and "crops/s" in text
    now = (ROOT / "benchmarks" / "gpu_check.md").read_bytes() if (ROOT / "benchmarks" / "gpu_check.md").exists() \
        else None
    assert now == before  # a CPU dry run records no GPU numbers


def test_gpu_check_stops_its_sampler_when_training_fails() -> None:
    """A failing training run (batch 1: refused by the config check) ends the script with an error
    and leaves no sampling loop behind (the EXIT trap): nothing of its process group survives (but
    zombies: a container's first process may not reap the killed loop's last `sleep`)."""
    env = dict(os.environ, DEVICE="cpu", BATCH="1", PYTHON=sys.executable)
    proc = subprocess.Popen(["bash", "benchmarks/gpu_check.sh", "0.02", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0 and "batch_size" in err
    ps = subprocess.run(["ps", "-eo", "pid=,pgid=,stat="], capture_output=True, text=True).stdout.split("\n")
    left = [row.split()[0] for row in ps if row.split()[1:2] == [str(proc.pid)] and "Z" not in row.split()[2]]
    if left:  # do not leave them running, whatever the outcome
        subprocess.run(["kill", *left])
    assert left == []
