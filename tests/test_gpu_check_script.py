"""`benchmarks/gpu_check.sh` is only ever run when a GPU is lent: its command line is checked here, on the CPU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import requires_shared

ROOT = Path(__file__).resolve().parent.parent


@requires_shared
def test_gpu_check_dry_run_trains_and_reports_without_recording() -> None:
    env = dict(os.environ, DEVICE="cpu", BATCH="8", OMP_NUM_THREADS="1")
    before = (ROOT / "benchmarks" / "gpu_check.md").exists()
    out = subprocess.run(["bash", "benchmarks/gpu_check.sh", "0.05", "0"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "# GPU check" in out.stdout and "| precision | bf16 |" in out.stdout and "steps/s (batch 8)" in out.stdout
    assert (ROOT / "benchmarks" / "gpu_check.md").exists() == before  # a CPU dry run records no GPU numbers
