"""Reproduction of the paper's findings on real data, and the shipped checkpoints.

- `plan`: the shipped checkpoints (`ENTRIES`), their configs and held-out cells.
- `shipping`: `retrain`, `export` (fp16 encoder copies + pretrained/index.json), `verify`.
- `runner`: `Options`, `reproduce(options)` -> metrics per group and encoder.
- `tables`: the metric of each paper table; `report`/`text`: docs/results.md and figures.

`ssrl reproduce` (ssrl_core/cli/reproduce_cmd.py) ties them together.
"""

from ssrl_core.reproduce.plan import ENTRIES, Entry, entries, entry, heldout_cells

__all__ = ["ENTRIES", "Entry", "entries", "entry", "heldout_cells"]
