"""`ssrl class-properties`: what sets classes apart.

Bendidi et al. 2024, section 3.1 (transformation choices induce inter-class bias) asks which
class properties go with the classes that one augmentation parameter favours or hurts:
- `ssrl class-properties DATASET --encoder E`: per-class intrinsic dimension, effective rank,
  GLCM texture and high-frequency share of any labelled set; with `--sweep DIR`, the ANOVA of each
  property across that sweep's ascending / descending / flat classes.
The shipped CIFAR-10 sweeps and their report are the paper pipeline's `ssrl-paper class-bias`; CIFAR-10
itself comes with `ssrl data download cifar10` (the data-source table, `ssrl_core.data.sources`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssrl_core.cli._common import emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("class-properties", help="per-class intrinsic dimension, texture, Fourier, effective rank; "
                       "ANOVA against a sweep's trends")
    p.add_argument("dataset", help="dataset name or npz path (see `ssrl data list`)")
    p.add_argument("--encoder", required=True, help="reference encoder: checkpoint, imagenet-vgg16, random-<backbone>, "
                   "hand-features")
    p.add_argument("--column", default="label", help="the class column (default: label)")
    p.add_argument("--per-class", type=int, default=500, help="at most this many cells per class")
    p.add_argument("--where", nargs="*", default=[], metavar="COL=VALUE", help="keep only these rows (e.g. split=train)")
    p.add_argument("--sweep", type=Path, nargs="*", default=[], help="sweep folders: ANOVA against their trends")
    p.add_argument("--out", type=Path, help="write the property table as CSV")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_class_properties)



def run_class_properties(args: argparse.Namespace) -> int:
    from ssrl_core.csvio import read_csv, write_csv
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate.class_properties import measure, property_anova

    cells = load_dataset(args.dataset)
    for rule in args.where:
        col, sep, value = rule.partition("=")
        if not sep:
            raise ValueError(f"--where takes COL=VALUE, not {rule!r}")
        cells = cells.where(**{col: value})
    table = measure(cells, args.encoder, column=args.column, max_per_class=args.per_class)
    if args.out:
        write_csv(table, args.out)
    anovas = {}
    for d in args.sweep:
        slopes = Path(d) / "slopes.csv"
        if not slopes.is_file():
            raise FileNotFoundError(f"{d} has no slopes.csv (is it a finished sweep folder?)")
        anovas[str(d)] = property_anova(table, read_csv(slopes, ours=True, sep=","))
    out = {"properties": table.to_dict(orient="records"),
           "anova": {k: v.to_dict(orient="records") for k, v in anovas.items()}}
    text = table.round(4).to_string(index=False) + "".join(
        f"\n\nANOVA across the trends of {k}:\n" + v.round(4).to_string(index=False) for k, v in anovas.items())
    emit(out, args.json, text)
    return 0

