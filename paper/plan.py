"""What the reproduction trains and evaluates: the shipped checkpoints and their held-out cells.

Bendidi et al. (Biological Imaging 2024) compare augmentation sets on MNIST (set 1 vs set 2,
Table 2), on BBBC021 cycloheximide vs DMSO crops (set A, set B and the two-loss A+B, Tables 3-4)
and discuss which factors each set makes the representation keep. Each shipped checkpoint here is
one `ssrl train configs/pretrained/<name>.yaml` run; this module names them and says which cells
were kept out of training so that the metrics are measured on cells the encoder never saw:

- MNIST-5k: no held-out part (SSL never sees the digit labels; the paper also evaluates on the
  training digits); the linear probe uses a stratified 70/30 split.
- MitoCheck: 25 whole plates (1,001 cells, about 30% of every phenotype) are excluded from
  training (`MITOCHECK_HELDOUT_PLATES`, chosen by `choose_heldout_plates`).
- BBBC021: held out by SITE (image field). Cycloheximide exists on one plate only (Week4_27801,
  one well per dose), so a held-out plate is impossible for treated cells. Training uses sites
  1-2 of plate Week4_27801; evaluation uses its sites 3-4, plus the DMSO plate Week4_27481
  (never trained on) to show the plate factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ssrl_core.data.cellset import CellSet
from ssrl_core.data.mitocheck_names import MITOCHECK_HELDOUT_PLATES
from ssrl_core.data.rules import rule_mask
from ssrl_core.paths import PROJECT_ROOT

MNIST = "mnist-5k"
MITOCHECK = "mitocheck_phenotype_crops"
BBBC021 = "bbbc021_week4_dmso_cycloheximide"
TREATMENT = "cyclohexamide"  # BBBC021's own spelling
TRAIN_PLATE = "Week4_27801"
OTHER_PLATE = "Week4_27481"
BBBC021_TRAIN_SITES = (1, 2)
BBBC021_HELDOUT_SITES = (3, 4)  # BBBC021 images 4 sites a well


@dataclass(frozen=True)
class Entry:
    """One shipped checkpoint: `configs/pretrained/<name>.yaml` -> `pretrained/<name>.pt`."""

    name: str
    group: str  # "mnist" | "mitocheck" | "bbbc021" | "base" | "cifar10" | "demo"
    dataset: str
    recipes: tuple[str, ...]
    label: str  # short column label: "set 1", "set A", "A+B", ...
    description: str

    @property
    def config(self) -> str:
        return f"configs/pretrained/{self.name}.yaml"

    @property
    def file(self) -> str:
        return f"{self.name}.pt"

    def run_dir(self, seed: int = 0) -> str:
        return f"runs/pretrained/{self.name}" + (f"_seed{seed}" if seed else "")

    def command(self, seed: int = 0) -> str:
        """The exact command that retrains this checkpoint (and the one that ships it)."""
        extra = f" --set seed={seed}" if seed else ""
        return f"ssrl train {self.config} --out {self.run_dir(seed)}{extra}"


ENTRIES: tuple[Entry, ...] = (
    Entry("mnist_set1", "mnist", MNIST, ("mnist-set1",), "set 1",
          "MNIST digits, augmentation set 1 (keeps the digit); VGG11 + MoCo v2 (paper Table 2)."),
    Entry("mnist_set2", "mnist", MNIST, ("mnist-set2",), "set 2",
          "MNIST digits, augmentation set 2 (flips, strong rotation, erasing); VGG11 + MoCo v2 (paper Table 2)."),
    Entry("mitocheck_set_a", "mitocheck", MITOCHECK, ("microscopy-set-a",), "set A",
          "MitoCheck H2B-GFP nuclei, microscopy set A (jitter, flips, rotation, affine, random crop); MoCo v2."),
    Entry("mitocheck_set_b", "mitocheck", MITOCHECK, ("microscopy-set-b",), "set B",
          "MitoCheck H2B-GFP nuclei, microscopy set B (any rotation, 50% centre crop, jitter, flips); MoCo v2."),
    Entry("mitocheck_a_plus_b", "mitocheck", MITOCHECK, ("microscopy-set-a", "microscopy-set-b"), "A+B",
          "MitoCheck H2B-GFP nuclei, two MoCo v2 losses (set A + set B, paper section 3.4)."),
    Entry("bbbc021_set_a", "bbbc021", BBBC021, ("microscopy-set-a",), "set A",
          "BBBC021 MCF-7 cells (DAPI/actin/tubulin), cycloheximide vs DMSO, microscopy set A; MoCo v2."),
    Entry("bbbc021_set_b", "bbbc021", BBBC021, ("microscopy-set-b",), "set B",
          "BBBC021 MCF-7 cells (DAPI/actin/tubulin), cycloheximide vs DMSO, microscopy set B; MoCo v2."),
    Entry("bbbc021_a_plus_b", "bbbc021", BBBC021, ("microscopy-set-a", "microscopy-set-b"), "A+B",
          "BBBC021 MCF-7 cells, cycloheximide vs DMSO, two MoCo v2 losses (set A + set B, paper Table 4)."),
    Entry("cells_base", "base", "data/cells_base_train.npz", ("cells-base-weak-jitter",), "base",
          "Base encoder for cells of any channel count: one grey-scale small_cnn applied to each channel "
          "(features concatenated), SimCLR on every training crop (MitoCheck, BBBC021, demo nuclei): set A, "
          "then a weak intensity jitter so that it keeps per-channel brightness. Start fine-tunes from it."),
    Entry("bbbc021_jitter_strong", "demo", BBBC021, ("set-a-jitter-04",), "jitter 0.4",
          "BBBC021, the Home demo's pair: cells_base fine-tuned with microscopy set A as published (brightness/"
          "contrast jitter 0.4) on the DMSO plate Week4_27481; it learns to ignore each stain's brightness."),
    Entry("bbbc021_jitter_weak", "demo", BBBC021, ("set-a-jitter-01",), "jitter 0.1",
          "BBBC021, the Home demo's pair: cells_base fine-tuned with set A whose brightness/contrast jitter is "
          "0.1 (one step changed) on the DMSO plate Week4_27481; it keeps tubulin brightness."),
    Entry("cifar10_base", "cifar10", "cifar10", ("cifar10-section31",), "base",
          "CIFAR-10 base encoder (small_cnn, 32 px): SimCLR with the fixed recipe of the paper's section 3.1 "
          "on the 20,000 training-split images; every point of the shipped section 3.1 sweeps starts from it."),
)


def entries(group: str | None = None) -> list[Entry]:
    """The shipped checkpoints, optionally of one group."""
    return [e for e in ENTRIES if group is None or e.group == group]


def entry(name: str) -> Entry:
    for e in ENTRIES:
        if e.name == name:
            return e
    raise KeyError(f"no shipped checkpoint is called {name!r}; known: {', '.join(e.name for e in ENTRIES)}")


HELDOUT_RULES: dict[str, list[dict[str, list]]] = {  # group -> `ssrl_core.data.rules` rule (any clause)
    "mnist": [{}],
    "mitocheck": [{"plate": list(MITOCHECK_HELDOUT_PLATES)}],
    "bbbc021": [{"plate": [TRAIN_PLATE], "site": list(BBBC021_HELDOUT_SITES), "compound": [TREATMENT, "DMSO"]},
                {"plate": [OTHER_PLATE], "compound": ["DMSO"]}],
    # the Home demo's pair, trained on the DMSO plate: the other plate is held out whole
    "demo": [{"plate": [TRAIN_PLATE]}],
}


def heldout_mask(meta: pd.DataFrame, group: str) -> np.ndarray:
    """Which cells (rows of `meta`) a group's shipped checkpoints are scored on (`HELDOUT_RULES`)."""

    if group not in HELDOUT_RULES:
        raise ValueError(f"unknown group {group!r} ({', '.join(HELDOUT_RULES)})")
    return rule_mask(meta, HELDOUT_RULES[group])


def heldout_cells(cells: CellSet, group: str) -> CellSet:
    """The evaluation cells of a group (see the module docstring); adds a `split` column."""
    out = cells.subset(np.flatnonzero(heldout_mask(cells.meta, group)))
    out.meta = out.meta.reset_index(drop=True)
    out.meta["split"] = "held-out"
    return out


def choose_heldout_plates(meta: pd.DataFrame, fraction: float = 0.3, seed: int = 0,
                          tries: int = 20000) -> list[str]:
    """Whole plates whose cells make up about `fraction` of every phenotype class.

    Random plate subsets (fixed seed) scored by the squared gap between each class's held-out
    share and `fraction`; the best is kept. This is how `MITOCHECK_HELDOUT_PLATES` was chosen.
    """
    table = pd.crosstab(meta["plate"], meta["label"])
    total = table.sum(axis=0)
    plates = table.index.to_numpy()
    rng = np.random.default_rng(seed)
    best, best_err = None, np.inf
    for _ in range(tries):
        sel = rng.random(len(plates)) < fraction
        err = float((((table[sel].sum(axis=0) / total) - fraction) ** 2).sum())
        if err < best_err:
            best, best_err = sel.copy(), err
    return sorted(plates[best].tolist())


def project_root() -> Path:
    return PROJECT_ROOT
