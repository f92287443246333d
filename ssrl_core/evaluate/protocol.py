"""The one evaluation protocol: how every page, command and document scores a representation.

Same cells, same number, everywhere. Given embeddings, their metadata and the column to compare
with (phenotype, compound, ...), `evaluate_cells`:
1. normalises the features per plate to the plate's controls (pycytominer), clips outliers at
   5 SD (`normalise.py`), and keeps the raw view (one reference for all plates) beside it;
2. clusters with K-Means, k = the number of groups in the column unless given, 10 runs of 3
   starts, and reports the median AMI, the range over the runs and a permutation chance level
   (`cluster.py`);
3. measures how much the clusters follow the plate, and warns in words when the plate explains
   them as much as the column does;
4. scores a linear probe and a k-NN trained on some plates (or wells) and tested on others, as
   balanced accuracy with a permutation chance level (`heldout_probe.py`);
5. says what it found in plain words, with its margins (`verdicts.py`).

Settings are fixed here (`PROTOCOL`), so a number read in the README, the app or the command
line is the same number for the same cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssrl_core.evaluate.cluster import RUNS, agreement, cluster_metrics
from ssrl_core.evaluate.heldout_probe import heldout_probe
from ssrl_core.evaluate.normalise import CLIP, find_controls, normalise
from ssrl_core.evaluate.verdicts import cluster_words, plate_warning, probe_words


@dataclass(frozen=True)
class Protocol:
    """The protocol's fixed settings (printed in docs/results.md)."""

    normalise: str = "per plate to the plate's controls (pycytominer standardize), else to all cells"
    clip: float = CLIP
    kmeans_runs: int = RUNS
    k: str = "the number of groups in the compared column"
    probe: str = "logistic regression and cosine 20-NN, trained on other plates (else wells, else cells)"
    score: str = "median AMI over the runs; balanced accuracy for probes"

    def lines(self) -> list[str]:
        """The protocol in five plain lines."""
        return [
            f"1. Features are standardised {self.normalise}, then clipped at ±{self.clip:g} SD.",
            f"2. K-Means with k = {self.k}; {self.kmeans_runs} runs of 3 starts; the median AMI is reported "
            "with the range over the runs.",
            "3. Chance: the 95th percentile of the score with the labels shuffled (permutations).",
            f"4. Probes: {self.probe}; out-of-fold balanced accuracy.",
            "5. A difference counts only when it exceeds the spread over clustering runs and training seeds "
            "and the chance level; otherwise it is called a tie.",
        ]


PROTOCOL = Protocol()


def _values(meta: pd.DataFrame, column: str) -> pd.Series:
    if column not in meta.columns:
        raise ValueError(f"the cells have no {column!r} column; columns are {list(meta.columns)}")
    return meta[column]


def plate_effect(features: np.ndarray, meta: pd.DataFrame, clusters: np.ndarray, control_mask: np.ndarray | None,
                 seed: int = 0) -> dict | None:
    """How much the plate shows (None with one plate): `clusters_vs_plate`, the AMI of the main
    clusters with the plate, and `plate_ami`, the AMI of a K-Means with one cluster per plate on the
    control cells against the plate (NaN without controls on two plates: other cells differ between
    plates by their biology as well)."""
    if "plate" not in meta.columns or meta["plate"].astype(str).nunique() < 2:
        return None
    plates = meta["plate"].astype(str).to_numpy()
    out = {"clusters_vs_plate": agreement(clusters, plates)["ami"], "plate_ami": float("nan")}
    if control_mask is not None and len(np.unique(plates[control_mask])) > 1:
        out["plate_ami"] = cluster_metrics(features[control_mask], plates[control_mask], seed=seed, runs=3)["ami"]
    return out


def evaluate_cells(features: np.ndarray, meta: pd.DataFrame, column: str, k: int | None = None,
                   control: str | None = "auto", control_column: str | None = None, seed: int = 0,
                   probe: bool = True, raw: bool = True) -> dict:
    """Score `features` against `meta[column]` under the protocol (see the module docstring).

    Returns a dict: column, n, k, normalisation (scope, reference, control, plates, note),
    cluster (the `cluster_metrics` dict on normalised features: ami, ami_spread, ami_runs,
    chance95, ari, nmi, silhouette, clusters, ...), raw (ami, ami_spread, chance95 of the same
    clustering without per-plate normalisation; only when it differs), plate (see
    `plate_effect`, or None), probe (see `heldout_probe`, or None), warnings, words and normalised
    (the normalised features of the scored cells).
    """
    x = np.asarray(features, dtype=np.float32)
    meta = meta.reset_index(drop=True)
    if len(x) != len(meta):
        raise ValueError(f"{len(x)} embeddings but {len(meta)} metadata rows")
    values = _values(meta, column)
    keep = values.notna().to_numpy()
    if keep.sum() < 2:
        raise ValueError(f"fewer than two cells have a value in {column!r}")
    labels = values[keep].astype(str).to_numpy()
    norm = normalise(x, meta, control, control_column)
    z, kept_meta = norm.features[keep], meta[keep].reset_index(drop=True)
    cm = cluster_metrics(z, labels, k=k, seed=seed)
    out: dict = {"column": column, "n": int(keep.sum()), "k": cm["k"], "normalisation": norm.summary(),
                 "cluster": cm, "raw": None, "plate": None, "probe": None, "warnings": [], "normalised": z}
    ctrl = find_controls(kept_meta, control, control_column)[0]
    out["plate"] = plate_effect(z, kept_meta, cm["clusters"], ctrl, seed)
    if raw and norm.per_plate:
        rz = normalise(x, meta, control, control_column, per_plate=False).features[keep]
        rc = cluster_metrics(rz, labels, k=k, seed=seed)
        out["raw"] = {"ami": rc["ami"], "ami_spread": rc["ami_spread"], "chance95": rc["chance95"]}
        raw_plate = plate_effect(rz, kept_meta, rc["clusters"], ctrl, seed)
        if out["plate"] is not None and raw_plate is not None:
            out["plate"].update(plate_ami_raw=raw_plate["plate_ami"], clusters_vs_plate_raw=raw_plate["clusters_vs_plate"])
    warn = plate_warning(out["plate"], cm, column)
    if warn:
        out["warnings"].append(warn)
    if probe:
        try:
            out["probe"] = heldout_probe(z, labels, kept_meta, seed=seed)
        except ValueError as exc:
            out["warnings"].append(f"No probe: {exc}.")
    out["words"] = " ".join([cluster_words(cm, column)] + ([probe_words(out["probe"], column)] if out["probe"] else [])
                            + out["warnings"])
    return out


def summary(result: dict) -> dict:
    """The numbers of an `evaluate_cells` result as a flat, JSON-ready dict (no per-cell arrays)."""
    cm, pr = result["cluster"], result["probe"] or {}
    out = {"column": result["column"], "n": result["n"], "k": result["k"],
           "normalisation": result["normalisation"]["scope"] + " to " + result["normalisation"]["reference"],
           "ami": cm["ami"], "ami_spread": cm["ami_spread"], "ami_chance95": cm["chance95"], "ari": cm["ari"],
           "nmi": cm["nmi"], "silhouette": cm["silhouette"]}
    if result.get("raw"):
        out["ami_raw"] = result["raw"]["ami"]
    for key, name in (("plate_ami", "plate_ami"), ("plate_ami_raw", "plate_ami_raw"),
                      ("clusters_vs_plate", "clusters_vs_plate_ami")):
        if result.get("plate") and key in result["plate"]:
            out[name] = result["plate"][key]
    if pr:
        out.update({"probe_balanced_accuracy": pr["balanced_accuracy"], "probe_chance95": pr["chance95"],
                    "knn_balanced_accuracy": pr["knn"], "knn_chance95": pr["knn_chance95"],
                    "probe_held_out_by": pr["held_out_by"], "probe_folds": pr["folds"]})
    out["warnings"] = list(result["warnings"])
    out["words"] = result["words"]
    return out

