"""Cell selections as plain data: which rows of a metadata table a rule keeps.

A rule is a list of clauses; a cell is kept when it matches ANY clause, and it matches a clause
when, for EVERY column the clause names, its value is one of the listed values. `[{}]` keeps every
cell, `[]` none. Values compare as text, numbers by value (`3`, `"3"` and `3.0` are the same
site). Rules are JSON/YAML-ready, so a shipped checkpoint's held-out cells travel with it in
`pretrained/index.json` (`heldout_rule`) and the app, the CLI and the reproduction read one rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Rule = list[dict[str, list[Any]]]


def _canonical(values: pd.Series | list) -> np.ndarray:
    """Values as comparable text: integral numbers without a decimal part, others as they print."""
    s = pd.Series(values, dtype=object)
    num = pd.to_numeric(s, errors="coerce")
    text = s.astype(str)
    whole = num.notna() & (num == num.round())
    text[whole] = num[whole].astype("int64").astype(str)
    return text.to_numpy()


def columns_of(rule: Rule) -> list[str]:
    """Every column a rule reads, in first-seen order."""
    return list(dict.fromkeys(col for clause in rule for col in clause))


def rule_mask(meta: pd.DataFrame, rule: Rule) -> np.ndarray:
    """Boolean mask of the rows of `meta` the rule keeps; a ValueError names missing columns."""
    meta = meta.reset_index(drop=True)
    missing = [c for c in columns_of(rule) if c not in meta.columns]
    if missing:
        raise ValueError(f"this selection is chosen by {', '.join(columns_of(rule))}; these cells lack {missing}")
    keep = np.zeros(len(meta), dtype=bool)
    for clause in rule:
        hit = np.ones(len(meta), dtype=bool)
        for col, values in clause.items():
            hit &= np.isin(_canonical(meta[col]), _canonical(list(values)))
        keep |= hit
    return keep
