"""Phenotypic activity: mean average precision of treated profiles against controls (copairs).

The image-based profiling field's current standard (Kalinin et al., "A versatile information
retrieval framework for evaluating profile strength and similarity", Nature Communications
2025; the `copairs` package). For each treated profile (a cell, a site or a well), rank every
other treated replicate (positives) and every control (negatives) by cosine similarity; its
average precision (AP) says how well its replicates are retrieved before the controls. The mAP
of a treatment is the mean AP over its profiles; its p-value comes from a null of random
rankings with the same numbers of positives and negatives, and q-values are the
Benjamini-Hochberg correction over the treatments tested together.

Set-up (copairs' "phenotypic activity" recipe): controls get a unique reference index so that
they are never positives of one another; `pos_sameby = [treatment, reference index]`,
`neg_diffby = [treatment, reference index]`. With `same_plate=True` negatives are only the
controls of the same plate (`neg_sameby = [plate]`), which removes a separation that merely
follows the plate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVELS = ("cell", "site", "well")


def _aggregate(x: np.ndarray, meta: pd.DataFrame, level: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Median profile per site or well (`plate`, `well`[, `site`], treatment), as pycytominer does."""
    if level == "cell":
        return x, meta.reset_index(drop=True)
    keys = [k for k in ("plate", "well") + (("site",) if level == "site" else ()) if k in meta.columns]
    if "well" not in keys:
        raise ValueError(f"{level}-level mAP needs a well column; the cells have {list(meta.columns)}")
    df = meta[keys + ["treatment"]].astype(str).reset_index(drop=True)
    groups = df.groupby(keys + ["treatment"], sort=True).indices
    feats = np.stack([np.median(x[idx], axis=0) for idx in groups.values()])
    rows = pd.DataFrame(list(groups.keys()), columns=keys + ["treatment"])
    rows["cells"] = [len(idx) for idx in groups.values()]
    return feats, rows


def activity_map(features: np.ndarray, meta: pd.DataFrame, treatment: pd.Series | np.ndarray,
                 control: str = "DMSO", level: str = "cell", same_plate: bool = False,
                 null_size: int = 10000, threshold: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """mAP, p-value and q-value of every treatment (a label per row; `control` marks controls).

    Returns one row per treatment: `treatment`, `mean_average_precision`, `p_value`,
    `q_value`, `significant` (q < threshold), `profiles`, `controls`.
    """
    from copairs import map as cmap
    from copairs.matching import UnpairedException, assign_reference_index

    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    x = np.asarray(features, dtype=np.float32)
    m = meta.reset_index(drop=True).copy()
    m["treatment"] = np.asarray(treatment, dtype=object).astype(str)
    x, m = _aggregate(x, m, level)
    is_ctrl = m["treatment"].str.lower() == str(control).lower()
    counts = m.loc[~is_ctrl, "treatment"].value_counts()
    if is_ctrl.sum() < 1 or counts.empty:
        raise ValueError(f"mAP needs {control} profiles and treated profiles at the {level} level")
    if counts.max() < 2:
        raise ValueError(f"mAP needs at least 2 treated {level}s of one treatment (replicates); "
                         f"here each treatment has {counts.max()}" + ("; try --level cell or site" if level == "well" else ""))
    m["Metadata_treatment"] = m["treatment"]
    m["Metadata_Plate"] = m["plate"].astype(str) if "plate" in m.columns else "plate"
    m = assign_reference_index(m, list(m.index[is_ctrl]), reference_col="Metadata_Reference_Index")
    key = ["Metadata_treatment", "Metadata_Reference_Index"]
    feats = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # cosine on unit vectors
    try:
        ap = cmap.average_precision(m, feats, pos_sameby=key, pos_diffby=[],
                                    neg_sameby=["Metadata_Plate"] if same_plate else [], neg_diffby=key,
                                    progress_bar=False)
    except UnpairedException as exc:  # e.g. no control on the treated profiles' plate
        raise ValueError(f"mAP cannot pair these profiles{' within plates' if same_plate else ''}: {exc}") from exc
    ap = ap[ap["Metadata_treatment"].str.lower() != str(control).lower()]
    res = cmap.mean_average_precision(ap, ["Metadata_treatment"], null_size=null_size, threshold=threshold,
                                      seed=seed, progress_bar=False)
    out = pd.DataFrame({"treatment": res["Metadata_treatment"].astype(str),
                        "mean_average_precision": res["mean_average_precision"].astype(float),
                        "p_value": res["p_value"].astype(float), "q_value": res["corrected_p_value"].astype(float)})
    out["significant"] = out["q_value"] < threshold
    out["profiles"] = out["treatment"].map(counts).astype(int)
    out["controls"] = int(is_ctrl.sum())
    out["level"] = level
    return out.sort_values("mean_average_precision", ascending=False).reset_index(drop=True)


def _involved(meta: pd.DataFrame, mask: np.ndarray) -> dict:
    part = meta.loc[mask]
    out = {}
    if "plate" in part.columns:
        out["plates"] = {str(k): int(v) for k, v in part["plate"].astype(str).value_counts().sort_index().items()}
    if "well" in part.columns:
        wells = part["well"].astype(str)
        if "plate" in part.columns:
            wells = part["plate"].astype(str) + "/" + wells
        out["wells"] = {str(k): int(v) for k, v in wells.value_counts().sort_index().items()}
    return out


def compound_map(features: np.ndarray, meta: pd.DataFrame, treated: np.ndarray, control_mask: np.ndarray,
                 levels: tuple[str, ...] = ("cell", "well"), null_size: int = 10000, seed: int = 0) -> dict:
    """mAP of one treatment against its controls at each level, plus the plates and wells involved.

    A level that cannot be scored (fewer than two treated wells, say) gets `None` and a `note`.
    When the controls span several plates the same-plate mAP is added; a separation that
    holds only against the other plates' controls is flagged (`plate_flag`).
    """
    keep = treated | control_mask
    label = np.where(treated[keep], "treated", "control")
    x, m = np.asarray(features)[keep], meta.loc[keep].reset_index(drop=True)
    out: dict = {"treated": _involved(meta, treated), "control": _involved(meta, control_mask), "levels": {}}
    multi_plate = "plate" in m.columns and m["plate"].astype(str).nunique() > 1
    for level in levels:
        try:
            row = activity_map(x, m, label, control="control", level=level, null_size=null_size, seed=seed).iloc[0]
            entry = {k: (float(row[k]) if k != "profiles" else int(row[k]))
                     for k in ("mean_average_precision", "p_value", "q_value", "profiles")}
            entry["controls"] = int(row["controls"])
            if multi_plate:
                try:
                    same = activity_map(x, m, label, control="control", level=level, same_plate=True,
                                        null_size=null_size, seed=seed).iloc[0]
                    entry["same_plate_map"] = float(same["mean_average_precision"])
                    entry["same_plate_p_value"] = float(same["p_value"])
                except ValueError:  # no control shares a plate with the treated profiles
                    entry["same_plate_map"] = entry["same_plate_p_value"] = None
            out["levels"][level] = entry
        except ValueError as exc:
            out["levels"][level] = None
            out.setdefault("notes", {})[level] = str(exc)
    out["plate_flag"] = _plate_flag(out)
    return out


def _plate_flag(r: dict) -> str | None:
    treated, control = set(r["treated"].get("plates", {})), set(r["control"].get("plates", {}))
    for level, e in r["levels"].items():
        same_p = (e or {}).get("same_plate_p_value")
        if e and same_p is not None and e["p_value"] < 0.05 and same_p >= 0.05:
            return (f"At the {level} level the treatment separates from the controls of other plates but not from "
                    f"those of its own plate ({', '.join(sorted(treated))}): the separation follows the plate.")
    if treated and control and not treated & control:
        return "The treated and control profiles come from different plates: treatment and plate cannot be told apart."
    return None
