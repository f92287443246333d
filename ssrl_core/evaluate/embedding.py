"""Embed a CellSet with any encoder, batched, without gradients, cached on disk.

Preprocessing (the same as training, see docs/ARCHITECTURE.md): pixels are scaled to [0, 1] per
channel with the checkpoint's stored channel ranges when it has them, else the whole dataset's
(`CellSet.ranges()`: a subset keeps its dataset's ranges, so a cell embeds to the same numbers
whichever other cells were selected with it), then resized to the checkpoint's crop size. The embedding is the backbone
output, before any projection head (the representation the paper evaluates with K-Means and
linear probes).

Cache: `cache_dir()/embeddings/<key>.npy` with `<key>.json` beside it, where the key hashes the
encoder identity (the sha256 of a checkpoint file, remembered by path + mtime + size; or the
baseline name), the data fingerprint (hash of the pixels, shape, dtype, channel names) and the
preprocessing settings. A second look at the same cells is a file read. The `.json` holds the
`.npy` file's sha256 (written after the `.npy`), so a cache file changed since it was written (an
all-zero file of the same shape, a copy cut short) is recomputed instead of being served.

Embeddings must be finite: a checkpoint whose weights are not (refused when it is loaded) or an
encoder that overflows gives NaN features, and those are refused with the cells named, never
written to a table or the cache.

Streaming (`ssrl_core.evaluate.forward.run_module`): raw crops are read batch by batch (the next
batch read and pinned on a helper thread while the model runs the current one), scaled and resized
on the device, and features go into one preallocated `(N, D)` table, so a set on disk
(`ssrl_core.data.store`) is embedded without its pixels ever being in memory at once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

import numpy as np

from ssrl_core import paths
from ssrl_core.data.cellset import CellSet, to_unit_float
from ssrl_core.devices import resolve_device
from ssrl_core.evaluate.encoders import build_module, resolve
from ssrl_core.evaluate.forward import run_module
from ssrl_core.evaluate.handmade import hand_features
from ssrl_core.io import atomic_write, atomic_write_json, sha256_file
from ssrl_core.oserrors import plain

Progress = Callable[[float], None]


def pick_device(device: str = "auto", precision: str = "auto") -> tuple[str, bool]:
    """(device, use_bf16) by `ssrl_core.devices.resolve_device` (one resolver for the whole product)."""

    try:
        dev, bf16 = resolve_device("cuda" if str(device).startswith("cuda") else device, precision)
    except ValueError as exc:
        raise RuntimeError(str(exc)) from exc
    return (str(device) if dev.type == "cuda" and str(device).startswith("cuda") else dev.type), bf16


def data_fingerprint(cells: CellSet) -> str:
    """Hash of the pixels, shape, dtype and channel names of a set (metadata is not included).

    A lazy set (an on-disk cell store) is named by its chunks' content hashes and the selected
    positions instead, so a million-cell set is not read just to find its cache entry.
    """
    if cells.lazy:
        return hashlib.blake2b(json.dumps([cells.images.fingerprint(), list(cells.channels)]).encode(),
                               digest_size=20).hexdigest()
    h = hashlib.blake2b(digest_size=20)
    h.update(json.dumps([list(cells.images.shape), str(cells.images.dtype), list(cells.channels)]).encode())
    h.update(np.ascontiguousarray(cells.images).data)
    return h.hexdigest()


def cache_key(identity: str, fingerprint: str, settings: dict[str, Any]) -> str:
    """The cache key of one (encoder, data, preprocessing) combination."""
    raw = json.dumps({"encoder": identity, "data": fingerprint, "settings": settings}, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def _cache_paths(key: str):
    folder = paths.cache_dir() / "embeddings"
    return folder / f"{key}.npy", folder / f"{key}.json"


def _save_npy(path, arr: np.ndarray) -> None:
    def write(p):
        with open(p, "wb") as f:
            np.save(f, arr)
    atomic_write(path, write)


def embed_with_info(cells: CellSet, encoder: str, progress: Progress | None = None, device: str = "auto",
                    batch_size: int | None = None, use_cache: bool = True, nuclear_channel: int = 0,
                    precision: str = "auto") -> tuple[np.ndarray, dict]:
    """Embeddings `(N, D)` float32 and a description (encoder, dims, cache hit, key, ...).

    Args:
        cells: the crops to embed (any channel count and dtype).
        encoder: a checkpoint path / run folder, or `random-<backbone>`, `imagenet-vgg16`,
            `hand-features`.
        progress: called with the fraction done (0..1).
        device: "auto" (GPU when present), "cpu" or "cuda".
        batch_size: crops per forward pass (None: `forward.GPU_BATCH` on a GPU, `forward.cpu_batch_size`
            on a CPU). The features do not depend on it.
        use_cache: read and write the on-disk cache.
        nuclear_channel: the nuclei channel for `hand-features`.
        precision: "auto" (bf16 autocast on CUDA and on CPUs with native bf16), "fp32" or "bf16".
    """
    if len(cells) == 0:
        raise ValueError("there are no cells to embed")
    spec = resolve(encoder)
    dev, bf16 = pick_device(device, precision)
    lo, hi = cells.ranges()
    settings = ({"nuclear_channel": nuclear_channel} if spec.kind == "hand"
                else {"pre": "unit-float+resize", **({"bf16": True} if bf16 else {})})
    settings["ranges"] = [np.round(np.asarray(r, np.float64), 4).tolist() for r in (lo, hi)]
    key = cache_key(spec.identity, data_fingerprint(cells), settings)
    note = None
    try:
        npy, meta_json = _cache_paths(key)
    except OSError as exc:  # SSRL_CACHE unusable: embed anyway, without the cache, and say so
        use_cache, note, npy, meta_json = False, _cache_note(exc), None, None
    if use_cache:
        hit = _cached(npy, meta_json, len(cells))
        if hit is not None:
            if progress is not None:
                progress(1.0)
            return hit[0], dict(hit[1], cached=True)
    feats, info = _compute(cells, spec, progress, dev, batch_size, nuclear_channel, bf16)
    check_finite(feats, encoder)
    info.update(encoder=str(encoder), kind=spec.kind, identity=spec.identity, key=key, dim=int(feats.shape[1]),
                cells=len(cells), dataset=cells.name)
    if use_cache:
        try:
            _save_npy(npy, feats)
            info["sha256"] = sha256_file(npy)
            atomic_write_json(meta_json, info)
        except OSError as exc:  # a full or read-only cache folder costs the cache, not the embeddings
            note = _cache_note(exc)
    return feats, dict(info, cached=False, **({"cache_note": note} if note else {}))


def _cache_note(exc: OSError) -> str:
    return f"the embeddings were computed but not cached: {plain(exc)}"


def _cached(npy, meta_json, n: int) -> tuple[np.ndarray, dict] | None:
    """A cache entry whose `.npy` still has the sha256 written with it and `n` finite rows; None
    when there is none or it is damaged (then it is recomputed and written again)."""
    if not (npy.is_file() and meta_json.is_file()):
        return None
    try:
        info = json.loads(meta_json.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("sha256") != sha256_file(npy):
            return None  # changed since it was written, or an entry from before checksums
        feats = np.load(npy, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if feats.ndim != 2 or feats.shape[0] != n or not np.isfinite(feats).all():
        return None
    return feats, info


def check_finite(feats: np.ndarray, encoder: str) -> None:
    """Refuse embeddings holding NaN or infinite values, naming the encoder and the cells."""
    bad = np.flatnonzero(~np.isfinite(feats).all(axis=1)) if feats.size else np.zeros(0, dtype=int)
    if len(bad):
        which = ", ".join(str(int(i)) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ValueError(f"the encoder {encoder} gave NaN or infinite embeddings for {len(bad)} of {len(feats)} "
                         f"cells (positions {which}); nothing was written. Its weights or the images' "
                         "values are not usable: check the checkpoint, or try another one")


def embed(cells: CellSet, encoder: str, progress: Progress | None = None, **kwargs) -> np.ndarray:
    """Embeddings `(N, D)` float32 of `cells` by `encoder` (see `embed_with_info`)."""
    return embed_with_info(cells, encoder, progress, **kwargs)[0]


def _compute(cells: CellSet, spec, progress, device: str, batch_size: int | None, nuclear_channel: int,
             bf16: bool = False):
    h, w, c = cells.shape
    module = build_module(spec, c, int(h), device, tuple(cells.channels))
    lo, hi = (spec.lo, spec.hi) if spec.lo is not None else cells.ranges()
    if len(lo) != c:
        raise ValueError(f"the encoder's stored channel ranges are for {len(lo)} channels, the cells have {c}")
    info: dict[str, Any] = {"lo": np.asarray(lo).tolist(), "hi": np.asarray(hi).tolist(), **spec.info}
    if module is None:  # hand-features: z-scored so no unit dominates distances
        parts, n, step = [], len(cells), 2048  # scaled in chunks: large sets never sit in memory as floats
        for start in range(0, n, step):
            parts.append(hand_features(to_unit_float(cells.images[start:start + step], lo, hi), nuclear_channel))
            if progress is not None:
                progress(min(1.0, (start + step) / n))
        raw = np.concatenate(parts, axis=0)
        std = raw.std(axis=0)
        feats = ((raw - raw.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)
        info["standardised"] = True
        return feats, info
    feats = run_module(module, cells.images, lo, hi, spec.crop_size or int(h), device, batch_size, progress, bf16)
    info["crop_size"], info["precision"] = spec.crop_size, "bf16" if bf16 else "fp32"
    return feats, info
