"""AnnData (`.h5ad`) export for scanpy users (Virshup et al., "anndata: Access and store
annotated data matrices", JOSS 2024).

`X` is the embedding (cells x dimensions, float32), `obs` the cell metadata under the same
`Metadata_*` names as the profile files (`ssrl_core.evaluate.profiles.cell_metadata`:
`Metadata_Plate`, `Metadata_Well`, `Metadata_ObjectNumber`, `Metadata_compound` ...) plus
`cluster` (categorical) when clustered, `obs_names` name each cell (`<plate>_<well>_s<site>_<object>`
when the metadata say so, else `<dataset>_<cell_index>`, else `cell_<i>`), `var` names the
dimensions as the profiles do (`Embedding_SSRL_0` ...), and the 2-D maps go in
`obsm['X_umap']`, `obsm['X_tsne']` or `obsm['X_pca']`, where scanpy's plotting looks for them
(`sc.pl.umap`, `sc.pl.tsne`). `uns['ssrl']` records the dataset and encoder.

anndata 0.11 (the last release that installs next to pandas 3 here; 0.12 requires pandas < 3)
cannot write pandas 3's Arrow-backed strings, so the object is built and written with pandas'
`future.infer_string` option off (plain Python strings, the format anndata has always written);
reading it back works with any anndata.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ssrl_core.evaluate.export import split_embeddings
from ssrl_core.evaluate.profiles import FEATURE_PREFIX, cell_metadata
from ssrl_core.io import atomic_write

MAP_KEYS = {"umap": "X_umap", "tsne": "X_tsne", "pca": "X_pca"}


@contextmanager
def _object_strings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the option is deprecated in pandas 3, still honoured
        with pd.option_context("future.infer_string", False):
            yield


def _obs_names(m: pd.DataFrame) -> list[str]:
    """A readable, unique name per cell from its metadata (profile names)."""
    def text(col: str) -> list[str]:
        return m[col].astype(str).tolist()

    n = len(m)
    parts: list[list[str]] = []
    if {"Metadata_Plate", "Metadata_Well"} <= set(m.columns):
        parts = [text("Metadata_Plate"), text("Metadata_Well")]
        if "Metadata_Site" in m.columns:
            parts.append(["s" + v for v in text("Metadata_Site")])
        obj = next((c for c in ("Metadata_ObjectNumber", "Metadata_cell_index") if c in m.columns), None)
        if obj:
            parts.append(text(obj))
    elif "Metadata_cell_index" in m.columns:
        parts = ([text("Metadata_dataset")] if "Metadata_dataset" in m.columns else []) + [text("Metadata_cell_index")]
    names = ["_".join(p) for p in zip(*parts)] if parts else [f"cell_{i}" for i in range(n)]
    if len(set(names)) < n:  # not unique: the row number makes them so
        names = [f"{name}_{i}" for i, name in enumerate(names)]
    return names


def _obs(meta: pd.DataFrame, clusters: np.ndarray | None) -> pd.DataFrame:
    meta = cell_metadata(meta)
    obs = pd.DataFrame(index=pd.Index(_obs_names(meta), dtype=object))
    for col in meta.columns:
        s = meta[col].reset_index(drop=True)
        if s.dtype.kind in "biuf":
            obs[str(col)] = s.to_numpy()
        else:  # strings and mixed columns: categorical, as scanpy expects for colouring
            obs[str(col)] = pd.Categorical(s.fillna("").astype(str).to_numpy(dtype=object))
    if clusters is not None:
        obs["cluster"] = pd.Categorical(np.asarray(clusters).astype(str).astype(object))
    return obs


def to_anndata(features: np.ndarray, meta: pd.DataFrame, clusters: np.ndarray | None = None,
               maps: dict[str, np.ndarray] | None = None, info: dict | None = None):
    """An `anndata.AnnData` with X = embedding, obs = metadata (+ cluster), obsm = the maps."""
    import anndata as ad

    x = np.asarray(features, dtype=np.float32)
    if len(x) != len(meta):
        raise ValueError(f"{len(x)} embeddings but {len(meta)} metadata rows")
    with _object_strings():
        var = pd.DataFrame(index=pd.Index([f"{FEATURE_PREFIX}{i}" for i in range(x.shape[1])], dtype=object))
        adata = ad.AnnData(X=x, obs=_obs(meta, clusters), var=var)
        for method, xy in (maps or {}).items():
            key = MAP_KEYS.get(method, method if method.startswith("X_") else f"X_{method}")
            xy = np.asarray(xy, dtype=np.float32)
            if xy.shape != (len(x), 2):
                raise ValueError(f"the {method} map has shape {xy.shape}; expected ({len(x)}, 2)")
            adata.obsm[key] = xy
        adata.uns["ssrl"] = {k: str(v) for k, v in (info or {}).items()}
    return adata


def write_h5ad(path: str | Path, features: np.ndarray, meta: pd.DataFrame, clusters: np.ndarray | None = None,
               maps: dict[str, np.ndarray] | None = None, info: dict | None = None) -> Path:
    """Write the AnnData of `to_anndata` to `path` (`.h5ad`) atomically."""
    path = Path(path)
    if path.suffix.lower() != ".h5ad":
        raise ValueError(f"save AnnData as .h5ad, not {path.name!r}")
    adata = to_anndata(features, meta, clusters, maps, info)

    def write(tmp: Path) -> None:
        with _object_strings():
            adata.write_h5ad(tmp)

    return atomic_write(path, write)


def embedding_to_h5ad(table: pd.DataFrame, path: str | Path, info: dict | None = None) -> Path:
    """An embedding table (`ssrl embed`, maybe with `cluster`, `x`, `y` from `ssrl project`) -> h5ad.

    `x`/`y` become `obsm['X_<method>']` with the method taken from `info['map']` (default umap).
    """
    feats, meta = split_embeddings(table)
    clusters = meta.pop("cluster").to_numpy() if "cluster" in meta.columns else None
    maps = {}
    if {"x", "y"} <= set(meta.columns):
        maps[(info or {}).get("map", "umap")] = meta[["x", "y"]].to_numpy()
        meta = meta.drop(columns=["x", "y"])
    return write_h5ad(path, feats, meta, clusters=clusters, maps=maps, info=info)


def h5ad_bytes(features: np.ndarray, meta: pd.DataFrame, clusters: np.ndarray | None = None,
               maps: dict[str, np.ndarray] | None = None, info: dict | None = None) -> bytes:
    """The `.h5ad` file of `write_h5ad` as bytes (for a download button)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_h5ad(Path(tmp) / "cells.h5ad", features, meta, clusters, maps, info)
        return path.read_bytes()
