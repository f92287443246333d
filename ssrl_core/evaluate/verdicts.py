"""Plain-words verdicts with their margins, shared by the app, the command line and the docs.

A biologist acts on the sentence, so a sentence may only claim what the numbers carry: a score
counts as "above chance" only above the permutation chance level, and two scores differ only
when the gap exceeds the spread over K-Means runs and training seeds (and `MIN_GAP`); otherwise
the words say "no clear difference".
"""

from __future__ import annotations

import math

MIN_GAP = 0.01  # smaller gaps are never called a difference


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(float(v))


def cluster_words(cm: dict, column: str) -> str:
    """One sentence on a `cluster_metrics` result: how closely the clusters follow `column`."""
    ami, chance, spread = float(cm["ami"]), float(cm.get("chance95", 0.0)), float(cm.get("ami_spread", 0.0))
    runs = cm.get("ami_runs") or [ami]
    if ami <= chance:
        return (f"The clusters do not follow {column} (AMI {ami:.2f}, no more than chance: shuffled labels "
                f"reach {chance:.2f}).")
    how = "follow it closely" if ami >= 0.6 else "partly follow it" if ami >= 0.3 else "follow it only weakly"
    seed_note = (f"; single K-Means runs gave {min(runs):.2f} to {max(runs):.2f}" if spread >= 0.005 else "")
    return f"The clusters {how} ({column}: AMI {ami:.2f}{seed_note}; chance level {chance:.2f})."


def probe_words(pr: dict, column: str) -> str:
    """One sentence on a `heldout_probe` result."""
    unit = {"plate": "plates", "well": "wells", "cell": "cells"}[pr["held_out_by"]]
    ba, c95 = float(pr["balanced_accuracy"]), float(pr["chance95"])
    if ba <= c95:
        return (f"A linear probe trained on other {unit} cannot tell the {column} groups apart "
                f"(balanced accuracy {ba:.2f}, chance up to {c95:.2f}).")
    text = (f"A linear probe trained on other {unit} tells the {column} groups apart at {ba:.2f} balanced "
            f"accuracy (chance {pr['chance']:.2f}, shuffled labels up to {c95:.2f}); k-NN {pr['knn']:.2f}.")
    if pr["held_out_by"] == "cell":
        text += " No plate or well could be held out, so this is optimistic."
    return text


def plate_warning(plate: dict | None, cm: dict, column: str) -> str | None:
    """A warning when the plate explains the clusters at least as much as `column`, else None."""
    if not plate:
        return None
    vs = float(plate["clusters_vs_plate"])
    if vs >= float(cm["ami"]) and vs > 0.05 and column != "plate":
        return (f"Warning: the clusters follow the plate (AMI {vs:.2f}) at least as much as {column} "
                f"(AMI {cm['ami']:.2f}): the plate, not the biology, explains them.")
    return None


def margin(*spreads: float | None) -> float:
    """The gap two scores must exceed: the largest spread given, at least `MIN_GAP`."""
    return max([MIN_GAP] + [float(s) for s in spreads if _finite(s)])


def differs(a: float, b: float, spread_a: float | None = 0.0, spread_b: float | None = 0.0,
            chance: float | None = None) -> bool:
    """True when `a` and `b` differ beyond their spreads and the better one is above `chance`."""
    if not (_finite(a) and _finite(b)):
        return False
    if _finite(chance) and max(a, b) <= float(chance):
        return False
    return abs(float(a) - float(b)) > margin(spread_a, spread_b)


def compare_words(name_a: str, a: float, name_b: str, b: float, measure: str, spread_a: float | None = 0.0,
                  spread_b: float | None = 0.0, chance: float | None = None) -> str:
    """"A is higher than B (...)" or "no clear difference between A and B (...)"."""
    gap = abs(float(a) - float(b))
    m = margin(spread_a, spread_b)
    if not differs(a, b, spread_a, spread_b, chance):
        why = (f"both at or below chance ({float(chance):.2f})" if _finite(chance) and max(a, b) <= float(chance)
               else f"the gap, {gap:.2f}, is within the spread ({m:.2f})")
        return f"No clear difference in {measure} between {name_a} ({a:.2f}) and {name_b} ({b:.2f}): {why}."
    hi, lo = ((name_a, a), (name_b, b)) if a > b else ((name_b, b), (name_a, a))
    return (f"{hi[0]} scores higher on {measure} than {lo[0]} ({hi[1]:.2f} against {lo[1]:.2f}; the gap, "
            f"{gap:.2f}, exceeds the spread, {m:.2f}).")


def factor_level(score: float, chance: float, chance95: float | None, metric: str) -> str:
    """How well a factor is encoded, calibrated against chance (for accuracy, the share of the way
    from chance to 1; for R^2, the value itself)."""
    if not _finite(score):
        return "not measured"
    if _finite(chance95) and score <= float(chance95):
        return "not at all (chance level)"
    gain = score if metric == "r2" else (score - chance) / max(1e-9, 1.0 - chance)
    if gain >= 0.9:
        return "almost perfectly"
    if gain >= 0.6:
        return "well"
    if gain >= 0.3:
        return "partly"
    if gain > 0.05:
        return "weakly"
    return "not at all (chance level)"


def against_random(score: float, random_score: float | None, spread: float | None = None) -> str:
    """", more than random weights of the same network (0.61)" or ", no more than random weights (...)"."""
    if not (_finite(score) and _finite(random_score)):
        return ""
    if differs(score, random_score, spread):
        word = "more" if score > random_score else "less"
        return f", {word} than random weights of the same network ({float(random_score):.2f})"
    return f", no more than random weights of the same network ({float(random_score):.2f})"
