"""The README's blocks written by `ssrl-paper reproduce`: the base encoder's table and the marker-bounded
replacement that puts a block between two README markers (nothing in between is edited by hand)."""

from __future__ import annotations

from pathlib import Path

from ssrl_core.io import atomic_write_text

README_START = "<!-- results: written by `ssrl-paper reproduce` from docs/results_headline.md; do not edit by hand -->"
README_END = "<!-- /results -->"


BASE_START = "<!-- base: written by `ssrl-paper reproduce` from the cells_base card; do not edit by hand -->"
BASE_END = "<!-- /base -->"
BASE_ROWS = (("mitocheck", "MitoCheck, 25 plates never trained on", "probe / k-NN / AMI (k=16)"),
             ("bbbc021", "BBBC021, sites 3-4 of Week4_27801 + DMSO plate Week4_27481 (cycloheximide vs DMSO)",
              "probe / k-NN / AMI (k=2)"),
             ("mnist", "MNIST-5k (not cells)", "probe / k-NN / AMI (k=10)"))


def base_block(index: dict | None) -> str | None:
    """The README's table of the base encoder's card (None when `cells_base` is not scored)."""
    card = next((c for c in (index or {}).get("checkpoints", []) if c.get("name") == "cells_base"), {})
    metrics = card.get("metrics") or {}
    if not any(isinstance(metrics.get(g), dict) and "probe" in metrics[g].get("encoder", {}) for g, _, _ in BASE_ROWS):
        return None  # not scored under the protocol yet
    lines = ["Probes are trained on other plates (BBBC021: other wells) and scored as balanced accuracy, under "
             "the evaluation protocol of [docs/results.md](docs/results.md); bold = better than both baselines "
             "by more than 0.01.", "",
             "| held-out cells | measure | cells_base | random init | hand features |", "|---|---|---|---|---|"]
    for group, where, measure in BASE_ROWS:
        rows = metrics.get(group)
        if not isinstance(rows, dict) or "probe" not in rows.get("encoder", {}):
            continue
        enc, cells = rows["encoder"], []
        for who in ("encoder", "random", "hand"):
            s = rows.get(who)
            if not s:
                cells.append("-")
                continue
            vals = []
            for m in ("probe", "knn", "ami"):
                best = who == "encoder" and all(enc[m] > rows[b][m] + 0.01 for b in ("random", "hand") if rows.get(b))
                vals.append(f"**{s[m]:.3f}**" if best else f"{s[m]:.3f}")
            cells.append(" / ".join(vals))
        lines.append(f"| {where} | {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_readme(readme: Path, block: str, start: str = README_START, end: str = README_END) -> bool:
    """Replace the text between two README markers; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    atomic_write_text(readme, head + start + "\n" + block.rstrip() + "\n" + end + tail)
    return True
