"""Plain sentences of docs/results.md that read the numbers: each trained encoder against the same
backbone at random initialisation, and the factors the paper discusses (plate, intensity) as they
come out on this data."""

from __future__ import annotations

from typing import Any

MAIN_METRIC = {"mnist": ("ami", "digit AMI"), "mitocheck": ("ami", "phenotype AMI"),
               "bbbc021": ("compound_ami", "treated vs DMSO AMI")}


def sanity(result: dict[str, Any]) -> list[str]:
    """Plain sentences comparing the trained encoders with the same backbone at random init."""
    import numpy as np

    out = []
    for group, res in result["groups"].items():
        key, what = MAIN_METRIC[group]
        vals = {r["encoder"]: np.mean(r["values"][key]) for r in res["rows"] if r["values"].get(key)}
        ssl = {r["encoder"]: vals[r["encoder"]] for r in res["rows"] if r["kind"] == "ssl" and r["encoder"] in vals}
        rnd = next((v for k, v in vals.items() if k.startswith("random")), None)
        if not ssl or rnd is None:
            continue
        below = [k for k, v in ssl.items() if v <= rnd]
        if below:
            out.append(f"- {group}: {', '.join(below)} {'is' if len(below) == 1 else 'are'} not above the same "
                       f"backbone at random initialisation on {what} ({rnd:.3f}): the short CPU training has not "
                       "yet beaten random convolutional features here, so only the comparison between sets "
                       "is meaningful for this data set.")
        else:
            out.append(f"- {group}: every trained encoder is above the random-init backbone on {what} "
                       f"({rnd:.3f}), so the SSL training learned something beyond random features.")
    return out + _observations(result)


def _mean_of(res: dict, key: str, kind: str | None = None, prefix: str = "") -> dict[str, float]:
    import numpy as np

    return {r["encoder"]: float(np.mean(r["values"][key])) for r in res["rows"] if r["values"].get(key)
            and (kind is None or r["kind"] == kind) and r["encoder"].startswith(prefix)}


def _observations(result: dict[str, Any]) -> list[str]:
    """Factors the paper discusses (batch, intensity) as they come out on this data."""
    out = []
    g = result["groups"]
    if "bbbc021" in g:
        ssl = _mean_of(g["bbbc021"], "plate_ami_raw", "ssl")
        base = _mean_of(g["bbbc021"], "plate_ami_raw", "baseline")
        if ssl and base and min(ssl.values()) > max(base.values()) + 0.01:
            lo, hi = f"{min(ssl.values()):.2f}", f"{max(ssl.values()):.2f}"
            out.append(f"- bbbc021: on DMSO cells, before per-plate normalisation, every SSL encoder separates the "
                       f"two plates more (plate AMI {lo if lo == hi else lo + '-' + hi}) than any baseline "
                       f"({max(base.values()):.2f} at most), although it was trained on one plate only: the "
                       "learned features pick up a batch (plate) factor, which the protocol's per-plate "
                       "normalisation removes (plate AMI after it in the table).")
    for group in ("bbbc021", "mitocheck"):
        if group not in g:
            continue
        ssl = _mean_of(g[group], "intensity AMI", "ssl")
        rnd = _mean_of(g[group], "intensity AMI", prefix="random")
        if ssl and rnd and max(ssl.values()) < min(rnd.values()) - 0.01:
            out.append(f"- {group}: the trained encoders cluster less by total intensity (AMI "
                       f"{max(ssl.values()):.2f} at most) than the random-init backbone ({min(rnd.values()):.2f}): "
                       "the brightness/contrast jitter of both sets taught them to ignore intensity, as intended.")
    return out
