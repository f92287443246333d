"""Verdicts of a per-class bias summary (`class_bias`), computed from its numbers (Bendidi et al.
2024, section 3.1): does the training beat its baseline, which classes move a lot, is the ratio of
classes with an opposite partner substantial and above chance, does it depend on the parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SUBSTANTIAL = 0.3
MOVES_FACTOR = 2.0  # a class "moves a lot" when its fitted change is at least this times the overall one
MIN_MOVE = 0.01  # ... and at least 1 accuracy point
DIFFERS = 0.2  # ratios differ by parameter when they span at least 2 classes in 10


def training_check(sweeps: list[dict[str, Any]], baseline: dict[str, Any],
                   start: dict[str, Any] | None = None) -> dict[str, Any]:
    """Did the SSL runs learn anything beyond a random encoder? Mean top-1 of every run of every
    sweep against the random-init probe (same backbone, same probe), and against the encoder they
    were fine-tuned from when there is one."""
    tops = [o["mean"] for s in sweeps for o in s["overall"]]
    mean = float(np.mean(tops)) if tops else float("nan")
    gain = mean - float(baseline["top1"])
    out = {"ssl_top1": mean, "random_top1": float(baseline["top1"]), "gain": gain, "learned": bool(gain > 0.01),
           "encoder": baseline.get("encoder")}
    if start:
        out.update(start_encoder=start.get("encoder"), start_top1=float(start["top1"]),
                   start_gain=mean - float(start["top1"]))
    return out


def movers(s: dict[str, Any]) -> list[dict[str, Any]]:
    """Classes of one sweep whose fitted change is significant (not flat) and at least
    MOVES_FACTOR times the overall change (and at least MIN_MOVE)."""
    floor = max(MOVES_FACTOR * abs(s["overall_change"]), MIN_MOVE) if np.isfinite(s["overall_change"]) else MIN_MOVE
    return [r for r in s["slopes"] if r["trend"] != "flat" and abs(r["change"]) >= floor]


def verdicts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The four claims of section 3.1, each with `holds` (True / False / None = cannot tell) and
    the numbers behind it."""
    sw = summary.get("sweeps") or []
    if not sw:
        return [{"claim": "section 3.1", "holds": None, "evidence": "no finished sweep"}]
    out = []
    lines, ok = [], []
    for s in sw:
        m = movers(s)
        ok.append(bool(m))
        top = max(s["slopes"], key=lambda r: abs(r["change"]) if np.isfinite(r["change"]) else -1)
        lines.append(f"{s['method']} / {s['parameter']}: overall change {s['overall_change']:+.3f} "
                     f"(range {s['overall_range']:.3f}); largest class change {top['class']} {top['change']:+.3f}; "
                     f"{len(m)} class(es) move at least {MOVES_FACTOR:g}x the overall change with p < 0.05")
    out.append({"claim": "Overall accuracy moves little while some classes move a lot",
                "holds": sum(ok) > len(ok) / 2, "detail": f"{sum(ok)} of {len(ok)} sweeps", "evidence": lines})
    lines, ok = [], []
    for s in sw:
        t = s["trends"]
        both = t["ascending"] > 0 and t["descending"] > 0
        ok.append(both)
        lines.append(f"{s['method']} / {s['parameter']}: {t['ascending']} ascending, {t['descending']} descending, "
                     f"{t['flat']} flat; {len(s['opposite_pairs'])} opposite pair(s) of {s['n_pairs']}")
    out.append({"claim": "... and in opposite directions (ascending and descending classes in the same sweep)",
                "holds": sum(ok) > len(ok) / 2, "detail": f"{sum(ok)} of {len(ok)} sweeps", "evidence": lines})
    lines, ok = [], []
    for s in sw:
        sub = s["ratio"] >= SUBSTANTIAL and (not np.isfinite(s["null_q95"]) or s["ratio"] > s["null_q95"])
        ok.append(sub)
        lines.append(f"{s['method']} / {s['parameter']}: ratio {s['ratio']:.2f}; chance level {s['null_mean']:.2f} "
                     f"(95th percentile {s['null_q95']:.2f}, share of shuffles at or above {s['null_p']:.2f})")
    out.append({"claim": f"The ratio of classes with an opposite partner is substantial (>= {SUBSTANTIAL:g} and above chance)",
                "holds": sum(ok) > len(ok) / 2, "detail": f"{sum(ok)} of {len(ok)} sweeps", "evidence": lines})
    by_method: dict[str, list[dict]] = {}
    for s in sw:
        by_method.setdefault(s["method"], []).append(s)
    lines, verdict = [], None
    for method, group in by_method.items():
        if len(group) < 2:
            continue
        r = [g["ratio"] for g in group]
        spread = max(r) - min(r)
        # a spread between ratios that shuffled curves reach as often is no difference: at least one
        # parameter's ratio must stand above its chance level (95th percentile of the shuffles)
        real = [g for g in group if not np.isfinite(g["null_q95"]) or g["ratio"] > g["null_q95"]]
        verdict = (verdict or False) or (spread >= DIFFERS and bool(real))
        lines.append(f"{method}: ratios " + ", ".join(f"{g['parameter']} {g['ratio']:.2f}" for g in group)
                     + f"; spread {spread:.2f} (differs when >= {DIFFERS:g} and one ratio is above chance); "
                     + (f"above chance: {', '.join(g['parameter'] for g in real)}" if real
                        else "every ratio is within chance"))
    out.append({"claim": "The ratio differs by parameter", "holds": verdict,
                "detail": "needs two parameters with one method" if verdict is None else "", "evidence": lines})
    return out


def _steps(s: dict[str, Any]) -> str:
    """Training steps of one run of a sweep, from its epochs, images and batch (or max_steps)."""
    try:
        per_epoch = int(s["ssl_images"]) // int(s["batch_size"])
        steps = per_epoch * int(s["epochs"])
        return str(min(steps, int(s["max_steps"])) if s.get("max_steps") else steps)
    except (TypeError, ValueError, KeyError, ZeroDivisionError):
        return "?"


def _word(holds: bool | None) -> str:
    return "n/a" if holds is None else ("held" if holds else "**not held**")
