"""Per-compound check (Bendidi et al. 2024, tables 3 and 4): treated cells against controls.

Take the cells treated with one compound (optionally one dose) and the control cells (DMSO) and
score them under the one evaluation protocol (`protocol.evaluate_cells`): features normalised per
plate to that plate's controls, K-Means with k = 2 (10 runs, median AMI and its range), the
plate's share in the clusters, and a linear probe / k-NN trained on other plates or wells.

With `with_map=True` the result also holds the field's current standard next to the paper's
k=2 AMI: the mean average precision of the treated profiles against the controls (copairs'
phenotypic activity) with wells as replicates, plus the exploratory cell level, and the plates and
wells involved (`ssrl_core.evaluate.map_copairs`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.evaluate.cluster import silhouette
from ssrl_core.evaluate.map_copairs import compound_map
from ssrl_core.evaluate.protocol import evaluate_cells


def _pick(meta: pd.DataFrame, column: str, value: str) -> np.ndarray:
    values = meta[column].astype(str)
    mask = np.array(values.str.lower() == str(value).lower(), dtype=bool)
    if not mask.any():
        known = ", ".join(sorted(map(str, values.dropna().unique()))[:20]) or "none (the column is empty)"
        raise ValueError(f"no cell has {column} = {value!r}; known values: {known}")
    return mask


def treated_and_controls(meta: pd.DataFrame, compound: str, control: str = "DMSO", dose: float | None = None,
                         compound_column: str = "compound",
                         dose_column: str = "concentration") -> tuple[np.ndarray, np.ndarray]:
    """Masks of the treated cells (one compound, optionally one dose) and of the control cells."""
    if compound_column not in meta.columns:
        raise ValueError(f"the cells have no {compound_column!r} column; columns are {list(meta.columns)}")
    if str(compound).lower() == str(control).lower():
        raise ValueError(f"the compound and the control are both {compound!r}; pick a treatment to compare")
    treated = _pick(meta, compound_column, compound)
    if dose is not None:
        if dose_column not in meta.columns:
            raise ValueError(f"a dose was given but the cells have no {dose_column!r} column")
        d = pd.to_numeric(meta[dose_column], errors="coerce").to_numpy(float)
        treated &= np.isclose(d, float(dose), rtol=1e-3, atol=1e-9)
        if not treated.any():
            doses = sorted(set(d[_pick(meta, compound_column, compound)].tolist()))
            raise ValueError(f"no {compound} cells at dose {dose}; doses present: {doses}")
    return treated, _pick(meta, compound_column, control)


def check_compound(features: np.ndarray, meta: pd.DataFrame, compound: str, control: str = "DMSO",
                   dose: float | None = None, compound_column: str = "compound",
                   dose_column: str = "concentration", plate_column: str = "plate",
                   k: int = 2, seed: int = 0, with_map: bool = False,
                   map_levels: tuple[str, ...] = ("well", "cell"), null_size: int = 10000) -> dict:
    """Treated vs control separation under the protocol, next to the plate, on the same cells.

    Returns a dict with: n_treated, n_control, k, compound_ami (median over the K-Means runs),
    compound_ami_spread, compound_ami_raw (without per-plate normalisation, when it applies),
    chance95, compound_silhouette (of the treated/control grouping), cluster_silhouette, plate_ami
    (K-Means with one cluster per plate on the controls, against the plate; NaN with one plate),
    plates, probe (held-out probe: balanced_accuracy, knn, held_out_by, chance95), normalisation,
    composition (treated/control cells per cluster), `protocol` (the full `evaluate_cells` result)
    and a plain-words `verdict`; with `with_map`, `map` (see `map_copairs.compound_map`).
    """
    x = np.asarray(features, dtype=np.float32)
    if len(x) != len(meta):
        raise ValueError(f"{len(x)} embeddings but {len(meta)} metadata rows")
    meta = meta.reset_index(drop=True)
    treated, control_mask = treated_and_controls(meta, compound, control, dose, compound_column, dose_column)
    keep = treated | control_mask
    sub = meta.loc[keep].reset_index(drop=True)
    sub["treatment"] = np.where(treated[keep], str(compound), str(control))
    if plate_column != "plate" and plate_column in sub.columns:
        sub["plate"] = sub[plate_column]
    res = evaluate_cells(x[keep], sub, "treatment", k=k, control=control, control_column=compound_column, seed=seed)
    cm, z = res["cluster"], res["normalised"]
    group = np.where(treated[keep], "treated", "control")
    out = {"compound": compound, "dose": dose, "control": control, "n_treated": int(treated.sum()),
           "n_control": int(control_mask.sum()), "k": cm["k"], "compound_ami": cm["ami"],
           "compound_ami_spread": cm["ami_spread"], "chance95": cm["chance95"],
           "compound_ami_raw": (res["raw"] or {}).get("ami", float("nan")),
           "compound_silhouette": silhouette(z, group, seed), "cluster_silhouette": cm["silhouette"],
           "normalisation": res["normalisation"], "probe": _probe_summary(res["probe"]), "protocol": res}
    plate = res["plate"]
    plates = sub["plate"].astype(str) if "plate" in sub.columns else None
    out["plate_ami"] = float(plate["plate_ami"]) if plate else float("nan")
    out["plate_silhouette"] = (silhouette(z[control_mask[keep]], plates[control_mask[keep]].to_numpy(), seed)
                               if plate else float("nan"))
    out["plates"] = {} if plates is None else {str(p): int(n) for p, n in plates.value_counts().sort_index().items()}
    comp = pd.crosstab(pd.Series(cm["clusters"], name="cluster"), pd.Series(group, name="group"))
    out["composition"] = {int(c): {str(g): int(v) for g, v in row.items()} for c, row in comp.iterrows()}
    out["verdict"] = res["words"]
    if with_map:
        out["map"] = compound_map(z, sub, treated[keep], control_mask[keep], levels=map_levels, null_size=null_size,
                                  seed=seed)
        out["verdict"] += " " + map_words(out["map"])
    return out


def _probe_summary(pr: dict | None) -> dict | None:
    if not pr:
        return None
    return {k: pr[k] for k in ("balanced_accuracy", "top1", "knn", "chance", "chance95", "knn_chance95",
                               "held_out_by", "folds", "held_out", "n")}


def map_words(m: dict) -> str:
    """One sentence on a `compound_map` result: tested levels with p-values, the cell level as exploratory."""
    parts = []
    for level, e in m["levels"].items():
        if not e or e["mean_average_precision"] is None:
            continue
        if level == "cell":
            parts.append(f"cell mAP {e['mean_average_precision']:.2f} (exploratory, not a test)")
        elif e["p_value"] is None:
            parts.append(f"{level} mAP: no test ({e['note']})")
        else:
            word = "significant" if e["significant"] else "not significant"
            parts.append(f"{level} mAP {e['mean_average_precision']:.2f} (p {e['p_value']:.2g}, {word})")
    notes = [f"{lv}: {n}" for lv, n in (m.get("notes") or {}).items() if not (m["levels"].get(lv) or {}).get("note")]
    text = ("Phenotypic activity: " + "; ".join(parts) + ".") if parts else "mAP could not be computed."
    if notes:
        text += " " + "; ".join(notes) + "."
    return text + (f" {m['plate_flag']}" if m.get("plate_flag") else "")
