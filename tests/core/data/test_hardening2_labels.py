"""Issue 23, item 1: hand labels written by two processes at once are all kept.

Two real Python processes label cells of one dataset at the same moment (as two app sessions
do), each keeping 20 labels one call at a time. The annotations file is read, changed and
rewritten under a file lock (`ssrl_core.io.locked`), so all 40 labels are there afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ssrl_core import paths

WRITER = r"""
import json, sys, time
from pathlib import Path
import numpy as np, pandas as pd
from ssrl_core.data.annotations import label_cells
from ssrl_core.data.cellset import CellSet

who, go, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
cells = CellSet(np.zeros((2 * n, 16, 16, 1), np.uint8), ["grey"], pd.DataFrame({"label": ["x"] * (2 * n)}), name="plate")
while not go.exists():
    time.sleep(0.001)
start = time.monotonic()
for k in range(n):
    label_cells("plate", cells, [2 * k + (who == "B")], "phenotype", f"{who}{k}")
print(json.dumps({"start": start, "end": time.monotonic()}))
"""


def test_two_processes_labelling_at_once_lose_no_label(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = dict(os.environ, SSRL_DATA=str(data), PYTHONPATH=str(paths.PROJECT_ROOT), OMP_NUM_THREADS="1")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, who, str(go), "20"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for who in ("A", "B")]
    import time

    time.sleep(1.5)  # both have imported pandas and wait for the start file
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    spans = [json.loads(o[0]) for o in outs]
    assert spans[0]["start"] < spans[1]["end"] and spans[1]["start"] < spans[0]["end"]  # they did overlap

    table = (data / "annotations" / "plate.csv").read_text(encoding="utf-8").splitlines()
    assert table[0] == "cell,phenotype"
    rows = dict(line.split(",") for line in table[1:])
    assert len(rows) == 40
    assert rows == {**{str(2 * k): f"A{k}" for k in range(20)}, **{str(2 * k + 1): f"B{k}" for k in range(20)}}
    assert not [p.name for p in (data / "annotations").iterdir() if p.name.endswith(".tmp")]  # no half files left
