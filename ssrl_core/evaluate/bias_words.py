"""What a representation encodes most, in one or two sentences (the factor probe's verdict).

`evaluate.factor_table` scores how well each factor of variation (labels, batches such as the
plate, and factors measured on the image: brightness per channel, nucleus size and position,
number of nuclei) is predicted from an embedding, each with its own chance level and words
(`verdicts.factor_level`). `bias_verdict` turns that table into the sentence the Bias page shows
and `ssrl factors` prints: the factor encoded most (against random weights of the same network
when their table is given), the labels' if another factor leads, a warning when a batch is still
predicted after per-plate normalisation (Bendidi et al. 2024: batch effects bias what an encoder
learns), and the augmentation that would make the representation ignore a nuisance it sees better
than the labels (`remedy`).
"""

from __future__ import annotations

import pandas as pd

from ssrl_core.evaluate.verdicts import against_random

BATCH_GAIN = 0.3  # a batch predicted at least this far above chance is worth a warning
NUISANCE_GAIN = 0.5  # an image factor predicted this well, and better than the labels, gets a remedy


def factor_name(name: str) -> str:
    """`total_intensity_DAPI` -> "brightness of DAPI", `n_nuclei` -> "number of nuclei in the crop"."""
    s = str(name)
    if s.startswith("total_intensity_"):
        return f"brightness of {s[len('total_intensity_'):]}"
    return {"n_nuclei": "number of nuclei in the crop", "nucleus_area": "nucleus size",
            "nucleus_offset": "nucleus distance from the centre", "label": "label (class)"}.get(s, s)


def gain(row) -> float:
    """How far above chance a factor's probe score is, in 0..1 (R^2 as it is)."""
    score, chance = float(row["probe_score"]), float(row.get("chance", 0.0) or 0.0)
    if str(row["probe_metric"]) == "r2":
        return score
    return (score - chance) / max(1e-9, 1.0 - chance)


def remedy(factor: str) -> str:
    """The augmentation that varies a measured factor (so the representation learns to ignore it)."""
    f = str(factor)
    if f.startswith("total_intensity_"):
        return "brightness/contrast jitter"
    return {"nucleus_area": "zoom: random resized crop or affine scaling",
            "nucleus_offset": "shifts: random crops or affine translation",
            "n_nuclei": "a centre crop around one nucleus"}.get(f, "a step that varies it")


def bias_verdict(factors: pd.DataFrame | None, random: pd.DataFrame | None = None) -> str:
    """One or two sentences: what the representation encodes most (in words calibrated against
    chance, and against random weights of the same network when `random` is its factor table),
    and a warning for batches. "" for an empty table."""
    if factors is None or factors.empty:
        return ""
    ref = ({str(r["factor"]): float(r["probe_score"]) for _, r in random.iterrows()}
           if random is not None and not random.empty else {})
    rows = sorted(((gain(r), str(r.get("words", "")), str(r["factor"]), str(r["kind"]), float(r["probe_score"]))
                   for _, r in factors.iterrows() if pd.notna(r["probe_score"])), reverse=True)
    if not rows:
        return ""

    def said(row) -> str:
        return f"{factor_name(row[2])} is encoded {row[1]}{against_random(row[4], ref.get(row[2]))}"

    top = rows[0]
    text = said(top)
    text = text[:1].upper() + text[1:]
    labels = [r for r in rows if r[3] == "label"]
    if labels and labels[0] is not top:
        text += f"; the {said(labels[0])}"
    text += "."
    batches = [r for r in rows if r[3] == "batch" and r[0] >= BATCH_GAIN and not r[1].startswith("not at all")]
    if batches:
        b = batches[0]
        text += (f" The {factor_name(b[2])} is still predicted {b[1]} after per-plate normalisation: check for "
                 f"{b[2]} effects before comparing compounds or classes.")
    nuis = [r for r in rows if r[3] == "nuisance" and r[0] >= NUISANCE_GAIN]
    if nuis and labels and nuis[0][0] > labels[0][0]:
        text += (f" It sees {factor_name(nuis[0][2])} better than the labels: an augmentation that changes it "
                 f"({remedy(nuis[0][2])}) would make it ignore that.")
    return text
