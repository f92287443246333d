"""The cell selection every page uses: one dataset plus metadata filters, chosen once on Data.

Filters are kept per dataset in `state.FILTERS` as `{column: [values as text]}` (a cell is kept
when, for every column, its value is one of the listed ones). The special key `HELDOUT` names a
shipped checkpoint group (`mitocheck`, `bbbc021`): the cells that group's checkpoints were
scored on (the `heldout_rule` its card carries in `pretrained/index.json`, an
`ssrl_core.data.rules` rule), so the app shows the card's numbers.
Train and the Bias sweep pass the column filters to the run configuration (`data.filter`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ssrl_app.shell import loaders, state
from ssrl_core.data.samples import MITOCHECK_DEMO
from ssrl_core.models.shipped import heldout_mask, shipped_checkpoints

HELDOUT = "held-out cells of"


def value_key(v: Any) -> tuple:
    """Sort values as numbers when they are numbers (1, 2, 10), else as text."""
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


def filters(name: str | None = None) -> dict[str, list[str]]:
    """The filters of dataset `name` (default: the current dataset)."""
    name = name if name is not None else state.get(state.DATASET)
    return dict((state.get(state.FILTERS) or {}).get(str(name), {}))


def set_filters(name: str, rules: dict[str, list]) -> None:
    """Replace the filters of dataset `name` (empty lists are dropped)."""
    all_f = dict(state.get(state.FILTERS) or {})
    all_f[str(name)] = {str(k): [str(v) for v in vals] for k, vals in rules.items() if vals}
    state.put(state.FILTERS, all_f)


def mask_of(cells, rules: dict[str, list[str]]) -> np.ndarray:
    """Cells matching every rule; rules on columns the dataset lacks are ignored."""
    meta = cells.meta.reset_index(drop=True)
    mask = np.ones(len(cells), dtype=bool)
    for col, vals in rules.items():
        if col == HELDOUT:
            try:  # the card's rule, as `ssrl embed --heldout` applies it
                mask &= heldout_mask(meta, str(vals[0]))
            except (KeyError, ValueError):  # the dataset lacks the plate/site columns
                pass
        elif col in meta.columns:
            mask &= matches(meta[col], vals)
    return mask


def matches(column: pd.Series, values: list[str]) -> np.ndarray:
    """Rows whose value, as text, is one of `values`: the text of each distinct value is compared,
    not of every row, so a million-cell table filters in milliseconds."""
    wanted = {str(v) for v in values}
    keep = [u for u in pd.unique(column) if str(u) in wanted]
    return column.isin(keep).to_numpy() if keep else np.zeros(len(column), dtype=bool)


@st.cache_data(show_spinner=False, max_entries=32)
def _index(name: str, rules_json: str) -> np.ndarray:
    return np.flatnonzero(mask_of(loaders.cells(name), json.loads(rules_json)))


def index(name: str | None = None) -> np.ndarray:
    """Positions (in the dataset) of the selected cells."""
    name = str(name if name is not None else state.get(state.DATASET))
    return _index(name, json.dumps(filters(name), sort_keys=True))


def describe(rules: dict[str, list[str]], limit: int = 3) -> str:
    """The filters in words: "split: held-out · plate: 3 values"."""
    parts = []
    for col, vals in rules.items():
        if col == HELDOUT:
            parts.append(f"the cells the shipped {vals[0]} checkpoints were scored on")
        elif len(vals) <= limit:
            parts.append(f"{col}: {', '.join(vals)}")
        else:
            parts.append(f"{col}: {len(vals)} values")
    return " · ".join(parts)


def summary(name: str) -> str:
    """"1,001 of 2,400 cells (split: held-out)" or "all 2,400 cells"."""
    n = len(loaders.cells(name))
    rules = filters(name)
    if not rules:
        return f"all {n:,} cells"
    return f"{len(index(name)):,} of {n:,} cells ({describe(rules)})"


def train_filter(name: str) -> dict[str, list[str]]:
    """The column filters as a run configuration's `data.filter`; a held-out choice cannot train."""
    rules = filters(name)
    if HELDOUT in rules:
        raise ValueError("the cells in use are the held-out cells a shipped checkpoint was scored on; "
                         "training on them would spoil that check. Clear this choice on the Data page "
                         "(or in the sidebar) or pick other filters.")
    return rules


def scored_cells(item: dict[str, Any], names: list[str]) -> tuple[str, dict[str, list[str]]] | None:
    """(dataset, filters) of the cells a shipped checkpoint was scored on, or None when unknown
    or when its dataset (or, for MitoCheck, the shipped sample) is not here."""


    card = next((c for c in shipped_checkpoints() if c.get("name") == item.get("name")), item)
    group = card.get("heldout_group")
    if not group or card.get("heldout_rule") is None:
        return None
    dataset = str(item.get("dataset") or "")
    if dataset not in names and group == "mitocheck" and MITOCHECK_DEMO in names:
        dataset = MITOCHECK_DEMO
    if dataset not in names:
        return None
    if group == "mnist":
        return dataset, {}
    if dataset == MITOCHECK_DEMO:
        return dataset, {"split": ["held-out"]}
    return dataset, {HELDOUT: [group]}


def use(dataset: str, rules: dict[str, list[str]], checkpoint: str | None = None) -> None:
    """Make `dataset` with `rules` the selection (and `checkpoint` the one in use) at the next run."""
    set_filters(dataset, rules)
    state.put(state.PENDING_DATASET, dataset)
    if checkpoint:
        state.put(state.CHECKPOINT, checkpoint)
    state.forget(f"w.data.f.{dataset}.")  # the Data page's filter boxes show the new rules
    for key in ("w.explore.cells", "w.bias.cells"):  # every selected cell, as they were scored
        state.forget(key)


def scored_button(item: dict[str, Any], where: Any, key: str) -> None:
    """A button "Use the cells it was scored on" for a shipped checkpoint (absent when unknown)."""
    names = [d["name"] for d in loaders.dataset_list()]
    target = scored_cells(item, names)
    if target is None:
        return
    if where.button("Use the cells it was scored on", key=key,
                    help="Selects its dataset and the held-out cells its card's numbers were measured on, "
                         "and makes it the checkpoint in use."):
        use(target[0], target[1], item.get("path"))
        st.rerun()


def counts_frame(meta: pd.DataFrame, col: str) -> pd.DataFrame:
    """Cells per value of `col`, numbers in numeric order, else the commonest first."""
    raw = meta[col].value_counts()  # counted on the values, then named as text (fast on big tables)
    counts = raw.groupby(raw.index.astype(str)).sum().sort_values(ascending=False, kind="stable")
    values = list(counts.index)
    if all(value_key(v)[0] == 0 for v in values):
        values = sorted(values, key=value_key)
    return pd.DataFrame({col: values, "cells": [int(counts[v]) for v in values]})
