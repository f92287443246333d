"""Small labelled datasets shipped inside the package (kind `sample` in `ssrl data list`).

`mitocheck_demo.npz`: 2,400 of the 3,277 MitoCheck phenotype crops (HeLa H2B-GFP nuclei, 64x64,
uint8, all 16 phenotypes), every cell of the 25 held-out plates of the shipped MitoCheck
checkpoints (`ssrl_core.data.mitocheck_names.MITOCHECK_HELDOUT_PLATES`, column `split` = `held-out`)
plus a per-phenotype sample of the training plates (`split` = `train`). Images by Thomas Walter /
the MitoCheck consortium (Neumann et al., Nature 2010), licence CC BY 4.0. It is the app's
default dataset, so a fresh machine opens on labelled real cells without any download.
Rebuild with `python -m ssrl_core.data.samples.build SOURCE.npz`.
"""

from __future__ import annotations

from pathlib import Path

MITOCHECK_DEMO = "mitocheck_demo"
ATTRIBUTION = ("MitoCheck phenotype crops: images by Thomas Walter / the MitoCheck consortium "
               "(Neumann et al., Nature 2010), CC BY 4.0.")


def samples_dir() -> Path:
    """The folder holding the shipped sample npz files."""
    return Path(__file__).resolve().parent
