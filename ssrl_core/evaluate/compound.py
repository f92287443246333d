"""Per-compound check (Bendidi et al. 2024, tables 3 and 4): treated cells against controls.

Take the cells treated with one compound (optionally one dose) and the control cells (DMSO), run
K-Means with k = 2 on their embeddings, and measure how well the two clusters follow the
treatment (AMI) and how separated the treated and control groups are (silhouette). The same
numbers for the plate tell whether the clusters follow the plate instead: a batch effect.

With `with_map=True` the result also holds the field's current standard next to the paper's
k=2 AMI: the mean average precision of the treated profiles against the controls (copairs'
phenotypic activity, with p- and q-values) at cell and well level, and the plates and wells
involved (`ssrl_core.evaluate.map_copairs`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.evaluate.cluster import agreement, kmeans, silhouette


def _pick(meta: pd.DataFrame, column: str, value: str) -> np.ndarray:
    values = meta[column].astype(str)
    mask = np.array(values.str.lower() == str(value).lower(), dtype=bool)
    if not mask.any():
        known = ", ".join(sorted(map(str, values.dropna().unique()))[:20]) or "none (the column is empty)"
        raise ValueError(f"no cell has {column} = {value!r}; known values: {known}")
    return mask


def check_compound(features: np.ndarray, meta: pd.DataFrame, compound: str, control: str = "DMSO",
                   dose: float | None = None, compound_column: str = "compound",
                   dose_column: str = "concentration", plate_column: str = "plate",
                   k: int = 2, seed: int = 0, with_map: bool = False,
                   map_levels: tuple[str, ...] = ("cell", "well"), null_size: int = 10000) -> dict:
    """Treated vs control separation, next to the plate separation, on the same cells.

    Returns a dict with: n_treated, n_control, k, compound_ami, compound_silhouette (of the
    treated/control grouping), cluster_silhouette (of the K-Means clusters), plate_ami and
    plate_silhouette (NaN when all cells share one plate), plates, cluster composition
    (treated/control cells per cluster) and a plain-words `verdict`; with `with_map`, `map`
    (see `map_copairs.compound_map`).
    """
    x = np.asarray(features, dtype=np.float32)
    if len(x) != len(meta):
        raise ValueError(f"{len(x)} embeddings but {len(meta)} metadata rows")
    for col in (compound_column,):
        if col not in meta.columns:
            raise ValueError(f"the cells have no {col!r} column; columns are {list(meta.columns)}")
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
    control_mask = _pick(meta, compound_column, control)
    keep = treated | control_mask
    xs, group = x[keep], np.where(treated[keep], "treated", "control")
    clusters = kmeans(xs, k, seed)
    out = {"compound": compound, "dose": dose, "control": control,
           "n_treated": int(treated.sum()), "n_control": int(control_mask.sum()), "k": k,
           "compound_ami": agreement(clusters, group)["ami"],
           "compound_silhouette": silhouette(xs, group, seed),
           "cluster_silhouette": silhouette(xs, clusters, seed)}
    plates = meta.loc[keep, plate_column].astype(str).to_numpy() if plate_column in meta.columns else None
    if plates is not None and len(np.unique(plates)) > 1:
        out["plate_ami"] = agreement(clusters, plates)["ami"]
        out["plate_silhouette"] = silhouette(xs, plates, seed)
        out["plates"] = {str(p): int(n) for p, n in zip(*np.unique(plates, return_counts=True))}
    else:
        out["plate_ami"], out["plate_silhouette"] = float("nan"), float("nan")
        out["plates"] = {} if plates is None else {str(plates[0]): int(len(plates))}
    comp = pd.crosstab(pd.Series(clusters, name="cluster"), pd.Series(group, name="group"))
    out["composition"] = {int(c): {str(g): int(v) for g, v in row.items()} for c, row in comp.iterrows()}
    out["verdict"] = _verdict(out)
    if with_map:
        from ssrl_core.evaluate.map_copairs import compound_map

        out["map"] = compound_map(x, meta, treated, control_mask, levels=map_levels, null_size=null_size, seed=seed)
        out["verdict"] += " " + _map_verdict(out["map"])
    return out


def _map_verdict(m: dict) -> str:
    parts = [f"{level} mAP {e['mean_average_precision']:.2f} (p {e['p_value']:.2g})"
             for level, e in m["levels"].items() if e]
    text = ("Phenotypic activity: " + ", ".join(parts) + ".") if parts else "mAP could not be computed."
    return text + (f" {m['plate_flag']}" if m.get("plate_flag") else "")


def _verdict(r: dict) -> str:
    cami, pami = r["compound_ami"], r["plate_ami"]
    if np.isfinite(pami) and pami >= cami and pami > 0.05:
        return (f"The two clusters follow the plate (AMI {pami:.2f}) at least as much as the treatment "
                f"(AMI {cami:.2f}): suspect a batch effect.")
    if cami > 0.3:
        return f"The treatment is well separated from the controls (AMI {cami:.2f})."
    if cami > 0.05:
        return f"The treatment is partly separated from the controls (AMI {cami:.2f})."
    return f"The clusters do not follow the treatment (AMI {cami:.2f}): the cells look alike to this representation."
