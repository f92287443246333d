"""Slide figures (ssrl_app.shell.figures): PNG/SVG of the Explore and Bias charts, titled with their context."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ssrl_app.shell import figures

from app_support import ROOT, app_on, problems

PRETRAINED = ROOT / "pretrained"


def _check(fig, title_bit: str) -> None:
    png = figures.to_bytes(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    return png


def test_every_figure_renders_png_and_svg_with_its_title():
    rng = np.random.default_rng(0)
    title = figures.title_for("Map", "bbbc021_week4", "baseline: hand-made features", "no augmentation recipe (baseline)")
    df = pd.DataFrame({"x": rng.normal(size=50), "y": rng.normal(size=50), "compound": ["DMSO", "taxol"] * 25})
    _check(figures.map_figure(df, "compound", title), title)
    svg = figures.to_bytes(figures.map_figure(df, "compound", title), "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "bbbc021_week4" in svg and "hand-made features" in svg and "taxol" in svg
    table = pd.DataFrame({"factor": ["compound", "plate", "area"], "kind": ["metadata", "metadata", "image"],
                          "probe_score": [0.9, 0.6, 0.4], "chance": [0.5, 0.5, 0.0]})
    assert "plate" in figures.to_bytes(figures.factor_figure(table, title), "svg").decode()
    table["probe_metric"] = ["balanced accuracy", "balanced accuracy", "r2"]
    two = figures.factor_figure(table, title)
    assert len(two.axes) == 2  # accuracy and R² never share an axis (issue 25 item 8)
    assert "R²" in two.axes[1].get_xlabel() and "accuracy" in two.axes[0].get_xlabel()
    curves = pd.DataFrame({"class": ["a", "a", "b", "b"], "value": [0, 1, 0, 1], "mean": [0.2, 0.6, 0.7, 0.3]})
    _check(figures.curves_figure(curves, "mean", title), title)
    tiles = [np.full((16, 16, 3), v, np.uint8) for v in (0, 128, 255)]
    _check(figures.gallery_figure([("cluster 0 (10 cells)", tiles), ("cluster 1 (5 cells)", tiles[:2])], title), title)
    with pytest.raises(ValueError, match="format"):
        figures.to_bytes(figures.curves_figure(curves, "mean", title), "jpg")


def test_recipe_of_reads_the_checkpoint():
    assert "baseline" in figures.recipe_of("hand-features")
    ckpt = PRETRAINED / "mnist_set1.pt"
    if not ckpt.is_file():
        pytest.skip("no shipped checkpoint")
    label = figures.recipe_of(str(ckpt))
    assert label.startswith("recipe ") and "unknown" not in label
    assert figures.recipe_of(str(PRETRAINED / "missing.pt")) == "recipe unknown"


def test_explore_offers_figure_downloads(tiny_env):
    at = app_on("pages/explore.py")
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    at.toggle(key="w.explore.figs").set_value(True).run()
    assert not problems(at), problems(at)
    labels = [d.label for d in at.get("download_button")]
    assert labels.count("Download PNG") == 2 and labels.count("Download SVG") == 2  # map + cluster gallery
    assert "Download CSV" in labels


def test_explore_per_compound_map(tiny_env):
    at = app_on("pages/explore.py")
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    at.toggle(key="w.explore.map").set_value(True).run()
    assert not problems(at), problems(at)
    assert not at.error, [e.value for e in at.error]
    table = next(d.value for d in at.dataframe if "replicates" in d.value.columns)
    assert list(table["replicates"]) == ["well", "cell"]  # wells first: the cell level is exploratory
    assert "well column" in table["note"][0]  # the tiny set has no wells: said, not computed
    assert 0 <= float(table["mAP"][1]) <= 1 and not bool(table["significant"][1])


def test_explore_offers_profiling_formats(tiny_env, tmp_path):
    import anndata

    from ssrl_core.evaluate.anndata_export import h5ad_bytes

    at = app_on("pages/explore.py")
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    at.toggle(key="w.explore.formats").set_value(True).run()
    assert not problems(at), problems(at)
    labels = [d.label for d in at.get("download_button")]
    assert "Cell profiles (CSV)" in labels and "AnnData (.h5ad)" in labels
    meta = pd.DataFrame({"compound": ["DMSO", "x", "x"], "dose": [0.0, 1.0, 1.0]})
    (tmp_path / "a.h5ad").write_bytes(h5ad_bytes(np.eye(3), meta, clusters=np.array([0, 1, 1]),
                                                 maps={"pca": np.zeros((3, 2))}))
    ad = anndata.read_h5ad(tmp_path / "a.h5ad")
    assert ad.obsm["X_pca"].shape == (3, 2) and list(ad.obs["cluster"].astype(str)) == ["0", "1", "1"]
