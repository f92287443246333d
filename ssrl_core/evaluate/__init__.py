"""Evaluation and bias analysis of representations (Bendidi et al., Biological Imaging 2024).

Public functions (imported lazily, so `import ssrl_core.evaluate` stays cheap):

- `embed(cells, encoder, progress=None)` / `embed_with_info(...)`: embeddings, cached on disk;
  encoder = checkpoint path, `random-<backbone>`, `imagenet-vgg16` or `hand-features`.
- `cluster_metrics`, `kmeans`, `nearest_to_centroid`, `composition`: K-Means with AMI/ARI/NMI
  and silhouette against a metadata column.
- `evaluate_cells` (the one evaluation protocol: per-plate normalisation, K-Means runs, probes on
  held-out plates or wells, verdicts with margins), `normalise`, `heldout_probe`.
- `linear_probe`: linear evaluation on a random split (the sweeps of section 3.1).
- `project`: t-SNE / UMAP / PCA to 2-D.
- `check_compound`: treated vs control (k = 2), next to the plate (batch effect).
- `factor_table` (the one entry point: image factors on the whole dataset's scale), `factor_probe`,
  `nuisance_factors`, `factor_chart_frame`: what did the representation encode?
- `bias_report` and the rest of `bias_stats`: inter-class bias statistics of a parameter sweep
  (the sweeps themselves train encoders, so they sit a floor above: `ssrl_core.sweeps`).
- `compare`: two representations side by side.
- `embedding_frame`, `write_table`, `read_embeddings`: exports.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "embed": "embedding", "embed_with_info": "embedding", "data_fingerprint": "embedding", "pick_device": "embedding",
    "cluster_metrics": "cluster", "kmeans": "cluster", "nearest_to_centroid": "cluster",
    "composition": "cluster", "agreement": "cluster", "silhouette": "cluster",
    "linear_probe": "probe", "evaluate_cells": "protocol", "normalise": "normalise",
    "heldout_probe": "heldout_probe",
    "project": "projection", "project_with_info": "projection",
    "check_compound": "compound",
    "factor_table": "factors", "factor_probe": "factors", "nuisance_factors": "factors",
    "factor_chart_frame": "factors",
    "bias_report": "bias_stats", "pair_correlations": "bias_stats", "class_slopes": "bias_stats",
    "class_curves": "bias_stats", "opposite_ratio": "bias_stats", "opposite_classes": "bias_stats",
    "compare": "comparison",
    "embedding_frame": "export", "write_table": "export", "read_table": "export",
    "read_embeddings": "export", "split_embeddings": "export",
    "hand_features": "handmade", "hand_feature_names": "handmade",
    "nucleus_measurements": "morphology",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module = importlib.import_module(f"ssrl_core.evaluate.{_WHERE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'ssrl_core.evaluate' has no attribute {name!r}")

