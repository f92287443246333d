"""The paper pipeline, beside the product: Bendidi et al. (Biological Imaging 2024) on real data.

It retrains the shipped checkpoints, scores them on held-out cells with the product's own
evaluation and rewrites README blocks, docs/results*.md and the cards of pretrained/index.json.
It imports `ssrl_core`; `ssrl_core`, `ssrl_app` and the pages never import it (the app reads what
it wrote: the cards, their `heldout_rule`, the shipped sweep summary).

- `plan`: the shipped checkpoints (`ENTRIES`), their configs and held-out cells (`HELDOUT_RULES`).
- `shipping`: `retrain`, `export` (fp16 encoder copies + pretrained/index.json), `verify`.
- `runner`: `Options`, `reproduce(options)` -> metrics per group and encoder.
- `tables`, `floors`, `sanity`: the metric of each paper table, the baselines each encoder must beat.
- `report`, `text`, `readme_blocks`: docs/results.md, its figures and the README's blocks.
- `quality`, `base_data`, `base_encoder`: the base encoder `cells_base`, its training set and card.
- `class_bias_sweeps`, `class_bias_report`: section 3.1 ("transformation choices induce inter-class
  bias") on CIFAR-10: the shipped sweeps, their floors and docs/results_cifar10.md.

`ssrl-paper` (`paper/cli.py`, also `python -m paper`) ties them together.
"""

from paper.plan import ENTRIES, Entry, entries, entry, heldout_cells

__all__ = ["ENTRIES", "Entry", "entries", "entry", "heldout_cells"]
