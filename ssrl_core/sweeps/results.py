"""A sweep folder's tables: results.csv (one row per value, seed and class) and the statistics.

Every CSV here goes through the one CSV writer (`ssrl_core.csvio`) and is read back with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ssrl_core.csvio import read_csv, write_csv
from ssrl_core.evaluate.bias_stats import bias_report
from ssrl_core.io import atomic_write_json

RESULTS = "results.csv"
RESULT_COLUMNS = ["value", "seed", "class", "accuracy", "n_test", "top1", "run"]


def check_sweep_folder(sweep_dir: str | Path) -> None:
    """Refuse, in words, a sweep folder that is an existing file (nothing is written)."""
    p = Path(sweep_dir)
    if p.exists() and not p.is_dir():
        raise ValueError(f"the sweep folder {p} is a file, not a folder: give --out a folder (a new name is "
                         "created), or move the file away")


def read_results(sweep_dir: str | Path) -> pd.DataFrame:
    """The results table so far (empty with the right columns when nothing is done)."""
    p = Path(sweep_dir) / RESULTS
    return read_csv(p, ours=True, sep=",") if p.is_file() else pd.DataFrame(columns=RESULT_COLUMNS)


def append_results(sweep_dir: Path, rows: pd.DataFrame) -> None:
    table = pd.concat([read_results(sweep_dir), rows], ignore_index=True)
    write_csv(table, sweep_dir / RESULTS)


def write_statistics(results: pd.DataFrame, sweep_dir: str | Path) -> dict[str, Any]:
    """Compute the bias statistics of a results table and write them as CSV + summary.json."""
    sweep_dir = Path(sweep_dir)
    report = bias_report(results)
    for name in ("curves", "pairs", "slopes"):
        table = report[name]
        write_csv(table, sweep_dir / f"{name}.csv")
    summary = {"opposite_ratio": report["opposite_ratio"], "opposite_classes": report["opposite_classes"],
               "classes": report["classes"], "trends": report["trends"],
               "top1_by_value": results.groupby("value")["top1"].mean().to_dict() if "top1" in results else {}}
    atomic_write_json(sweep_dir / "summary.json", json.loads(json.dumps(summary, default=str)))
    return report
