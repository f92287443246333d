"""Phenotypic activity: mean average precision of treated profiles against controls (copairs).

The image-based profiling field's current standard (Kalinin et al., "A versatile information
retrieval framework for evaluating profile strength and similarity", Nature Communications
2025; the `copairs` package). For each treated profile, rank every other replicate of the same
treatment (positives) and every control (negatives) by cosine similarity; its average precision
(AP) says how well its replicates are retrieved before the controls. The mAP of a treatment is
the mean AP over its profiles; its p-value comes from a null of random rankings with the same
numbers of positives and negatives, and q-values are the Benjamini-Hochberg correction over the
treatments tested together.

Done the field's way:
- **Replicates are wells** (median profile per plate and well, `pycytominer.aggregate`): the
  cells of one well share its plate, position and handling, so they are not independent
  replicates. A treatment with fewer than two wells gets no p-value, and its row says why.
- **Cell level is exploratory**: it is computed (it shows whether single cells separate), but it
  is never called significant (its p-value treats the cells of one well as replicates).
- **Ties are broken at random** (seeded): copairs sorts equal similarities with the positives
  first, which gives identical or all-zero embeddings an mAP of 1. Profiles that repeat another
  one exactly get a small seeded jitter (1e-3 of the profiles' typical length), so their ties are
  ordered at random and score at chance; other profiles are left exactly as they are. When every
  profile is identical the p-value is 1 and the row says why.
- **Profile tables** (pycytominer's, e.g. normalised and feature-selected well profiles) are
  scored as they are: each row is one replicate (`level="profile"`).

Set-up (copairs' "phenotypic activity" recipe): controls get a unique reference index so that
they are never positives of one another; `pos_sameby = [treatment, reference index]`,
`neg_diffby = [treatment, reference index]`. With `same_plate=True` negatives are only the
controls of the same plate (`neg_sameby = [plate]`), which removes a separation that merely
follows the plate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVELS = ("cell", "site", "well", "profile")
EXPLORATORY = "exploratory: the cells of one well are not independent replicates, so this p-value is not a test"
TIE_JITTER = 1e-3  # of the profiles' typical length: resolved by float32 similarities


def _aggregate(x: np.ndarray, meta: pd.DataFrame, level: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Median profile per site or well and treatment (pycytominer.aggregate); cells and profiles as they are."""
    if level in ("cell", "profile"):
        return x, meta.reset_index(drop=True)
    from pycytominer import aggregate

    keys = [k for k in ("plate", "well") + (("site",) if level == "site" else ()) if k in meta.columns]
    if "well" not in keys:
        raise ValueError(f"{level}-level mAP needs a well column; the cells have {list(meta.columns)}")
    strata = [f"Metadata_{k}" for k in keys + ["treatment"]]
    cols = [f"f{i}" for i in range(x.shape[1])]
    frame = pd.concat([meta[keys + ["treatment"]].astype(str).reset_index(drop=True).set_axis(strata, axis=1),
                       pd.DataFrame(x, columns=cols)], axis=1)
    agg = aggregate(frame, strata=strata, features=cols, operation="median").sort_values(strata)
    rows = agg[strata].set_axis(keys + ["treatment"], axis=1).reset_index(drop=True)
    rows["cells"] = frame.groupby(strata, sort=True).size().to_numpy()
    return agg[cols].to_numpy(dtype=np.float32), rows


def _unit_rows(x: np.ndarray, seed: int) -> np.ndarray:
    """Rows scaled to unit length (cosine). Rows that repeat another row exactly (identical or all-zero
    embeddings) get a seeded jitter first, so their ties are ranked at random; other rows are untouched."""
    x = np.asarray(x, dtype=np.float32)
    _, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    tied = counts[inverse.ravel()] > 1
    if tied.any():
        scale = float(np.median(np.linalg.norm(x, axis=1))) or 1.0
        x = x.copy()
        x[tied] += np.random.default_rng(seed).normal(size=(int(tied.sum()), x.shape[1])).astype(np.float32) \
            * (TIE_JITTER * scale)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _empty_row(treatment: str, profiles: int, controls: int, level: str, note: str) -> dict:
    return {"treatment": treatment, "mean_average_precision": float("nan"), "p_value": float("nan"),
            "q_value": float("nan"), "significant": False, "profiles": profiles, "controls": controls,
            "level": level, "note": note}


def activity_map(features: np.ndarray, meta: pd.DataFrame, treatment: pd.Series | np.ndarray,
                 control: str = "DMSO", level: str = "well", same_plate: bool = False,
                 null_size: int = 10000, threshold: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """mAP, p-value and q-value of every treatment (a label per row; `control` marks controls).

    Returns one row per treatment: `treatment`, `mean_average_precision`, `p_value`, `q_value`,
    `significant` (q < threshold; never at the cell level), `profiles`, `controls`, `level` and
    `note` (why a row has no p-value, or that it is exploratory).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    x = np.asarray(features, dtype=np.float32)
    m = meta.reset_index(drop=True).copy()
    m["treatment"] = np.asarray(treatment, dtype=object).astype(str)
    x, m = _aggregate(x, m, level)
    is_ctrl = (m["treatment"].str.lower() == str(control).lower()).to_numpy()
    counts = m.loc[~is_ctrl, "treatment"].value_counts()
    if is_ctrl.sum() < 1 or counts.empty:
        raise ValueError(f"mAP needs {control} profiles and treated profiles at the {level} level")
    unit = {"well": "wells", "site": "sites", "cell": "cells", "profile": "profiles"}[level]
    lonely = [t for t, n in counts.items() if n < 2]
    rows = [_empty_row(t, 1, int(is_ctrl.sum()), level, f"1 {unit[:-1]} only: a p-value needs 2 or more replicate "
                       f"{unit}" + ("; try --level cell (exploratory)" if level == "well" else "")) for t in lonely]
    scored = ~m["treatment"].isin(lonely).to_numpy()
    if (scored & ~is_ctrl).any():
        sub, xs = m[scored].reset_index(drop=True), x[scored]
        sub_ctrl = is_ctrl[scored]
        constant = np.ptp(xs, axis=0).max(initial=0.0) == 0.0  # every profile identical: ranks are pure chance
        res = _copairs(xs, sub, sub_ctrl, control, same_plate, null_size, threshold, seed)
        rows += [{"treatment": str(r["Metadata_treatment"]),
                  "mean_average_precision": float(r["mean_average_precision"]),
                  "p_value": 1.0 if constant else float(r["p_value"]),
                  "q_value": 1.0 if constant else float(r["corrected_p_value"]),
                  "significant": not constant and bool(r["corrected_p_value"] < threshold),
                  "profiles": int(counts[r["Metadata_treatment"]]), "controls": int(sub_ctrl.sum()), "level": level,
                  "note": "every profile is identical: the ranking is chance, so no test" if constant else ""}
                 for _, r in res.iterrows()]
    out = pd.DataFrame(rows, columns=["treatment", "mean_average_precision", "p_value", "q_value", "significant",
                                      "profiles", "controls", "level", "note"])
    if level == "cell":
        out["significant"] = False
        out["note"] = out["note"].where(out["note"].astype(bool), EXPLORATORY)
    return out.sort_values("mean_average_precision", ascending=False, na_position="last").reset_index(drop=True)


def _copairs(x: np.ndarray, m: pd.DataFrame, is_ctrl: np.ndarray, control: str, same_plate: bool, null_size: int,
             threshold: float, seed: int) -> pd.DataFrame:
    """copairs' phenotypic-activity mAP table (one row per treatment) of profiles `x`."""
    from copairs import map as cmap
    from copairs.matching import UnpairedException, assign_reference_index

    m = m.copy()
    m["Metadata_treatment"] = m["treatment"]
    m["Metadata_Plate"] = m["plate"].astype(str) if "plate" in m.columns else "plate"
    m = assign_reference_index(m, list(m.index[is_ctrl]), reference_col="Metadata_Reference_Index")
    key = ["Metadata_treatment", "Metadata_Reference_Index"]
    try:
        ap = cmap.average_precision(m, _unit_rows(x, seed), pos_sameby=key, pos_diffby=[],
                                    neg_sameby=["Metadata_Plate"] if same_plate else [], neg_diffby=key,
                                    progress_bar=False)
    except UnpairedException as exc:  # e.g. no control on the treated profiles' plate
        raise ValueError(f"mAP cannot pair these profiles{' within plates' if same_plate else ''}: {exc}") from exc
    ap = ap[ap["Metadata_treatment"].str.lower() != str(control).lower()]
    return cmap.mean_average_precision(ap, ["Metadata_treatment"], null_size=null_size, threshold=threshold,
                                       seed=seed, progress_bar=False)


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
                 levels: tuple[str, ...] = ("well", "cell"), null_size: int = 10000, seed: int = 0) -> dict:
    """mAP of one treatment against its controls at each level, plus the plates and wells involved.

    A level that cannot be tested (fewer than two treated wells, say) keeps its mAP (when there is
    one) with `p_value` None and a `note`. When the controls span several plates the same-plate
    mAP is added; a separation that holds only against the other plates' controls is flagged
    (`plate_flag`).
    """
    keep = treated | control_mask
    label = np.where(treated[keep], "treated", "control")
    x, m = np.asarray(features)[keep], meta.loc[keep].reset_index(drop=True)
    out: dict = {"treated": _involved(meta, treated), "control": _involved(meta, control_mask), "levels": {}}
    multi_plate = "plate" in m.columns and m["plate"].astype(str).nunique() > 1
    for level in levels:
        try:
            row = activity_map(x, m, label, control="control", level=level, null_size=null_size, seed=seed).iloc[0]
        except ValueError as exc:
            out["levels"][level] = None
            out.setdefault("notes", {})[level] = str(exc)
            continue
        entry = {k: _num(row[k]) for k in ("mean_average_precision", "p_value", "q_value")}
        entry.update(profiles=int(row["profiles"]), controls=int(row["controls"]), significant=bool(row["significant"]),
                     note=str(row["note"]))
        if row["note"] and level != "cell":
            out.setdefault("notes", {})[level] = str(row["note"])
        if multi_plate and entry["p_value"] is not None:
            try:
                same = activity_map(x, m, label, control="control", level=level, same_plate=True,
                                    null_size=null_size, seed=seed).iloc[0]
                entry["same_plate_map"], entry["same_plate_p_value"] = _num(same["mean_average_precision"]), _num(same["p_value"])
            except ValueError:  # no control shares a plate with the treated profiles
                entry["same_plate_map"] = entry["same_plate_p_value"] = None
        out["levels"][level] = entry
    out["plate_flag"] = _plate_flag(out)
    return out


def _num(v) -> float | None:
    return None if v is None or not np.isfinite(float(v)) else float(v)


def _plate_flag(r: dict) -> str | None:
    treated, control = set(r["treated"].get("plates", {})), set(r["control"].get("plates", {}))
    for level, e in r["levels"].items():
        same_p = (e or {}).get("same_plate_p_value")
        if e and level != "cell" and same_p is not None and e["p_value"] is not None and e["p_value"] < 0.05 \
                and same_p >= 0.05:
            return (f"At the {level} level the treatment separates from the controls of other plates but not from "
                    f"those of its own plate ({', '.join(sorted(treated))}): the separation follows the plate.")
    if treated and control and not treated & control:
        return "The treated and control profiles come from different plates: treatment and plate cannot be told apart."
    return None
