"""Explore and Bias pages (AppTest): embed, cluster, map, export; the factor probe; a sweep."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from app_support import app_on, problems


def _row(at) -> dict:
    """The clusters table (measure, value) as a dict."""
    t = at.dataframe[0].value
    return dict(zip(t["measure"], t["value"]))


def _embed_hand_features(at):
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    return at


def test_explore_embeds_clusters_and_shows_metrics_map_and_export(tiny_env):
    at = app_on("pages/explore.py")
    assert not problems(at), problems(at)
    _embed_hand_features(at)
    assert not problems(at), problems(at)
    assert not at.error, [e.value for e in at.error]
    table = _row(at)  # one measure a row: it fits a 1024-px screen
    assert {"agreement (AMI)", "single K-Means runs", "chance level (AMI)", "separation (silhouette)"} <= set(table)
    assert any(c.startswith("probe on unseen") for c in table)  # plates held out, plain names
    assert -0.5 <= float(table["agreement (AMI)"]) <= 1.0
    assert int(table["k"]) == 4  # k = the number of labels of the compared column by default
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    tooltip_fields = [t.get("field") for spec in charts for t in spec.get("encoding", {}).get("tooltip", [])
                      if isinstance(spec.get("encoding", {}).get("tooltip"), list)]
    assert "image" in tooltip_fields
    subheads = [s.value for s in at.subheader]
    assert "Cluster cards" in subheads and "Per-compound check" in subheads
    assert [d.label for d in at.main.get("download_button")] == ["Download CSV", "Download Parquet"]
    # k changes the clustering; a k set for one column starts over for another; coming back is instant
    at.number_input(key="w.explore.k").set_value(3).run()
    assert int(_row(at)["k"]) == 3
    at.selectbox(key="w.explore.column").select("compound").run()
    assert int(_row(at)["k"]) == 2 and at.number_input(key="w.explore.k").value == 0
    at.selectbox(key="w.explore.column").select("label").run()
    t = time.time()
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/explore.py").run()
    assert time.time() - t < 15 and at.dataframe[0].value is not None


def test_explore_compare_two_representations(tiny_env):
    at = _embed_hand_features(app_on("pages/explore.py"))
    at.selectbox(key="w.explore.other").select("baseline: random ResNet-18 (no training)")
    next(b for b in at.button if b.label == "Compare").click().run()
    assert not problems(at), problems(at)
    frames = [d.value for d in at.dataframe]
    assert any(isinstance(f, pd.DataFrame) and "B minus A" in f.columns and "measure" in f.columns for f in frames)
    # the two maps are one chart with linked selection: a box on either colours the same cells on both
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    linked = next(s for s in specs if "hconcat" in s)
    params = {p["name"] for p in linked.get("params", [])} | {p["name"] for part in linked["hconcat"]
                                                               for p in part.get("params", [])}
    assert params == {"brush_a", "brush_b"}
    assert linked["hconcat"][1]["encoding"]["color"]["condition"]["test"] == {"and": [{"param": "brush_a"},
                                                                                       {"param": "brush_b"}]}
    assert {part["encoding"]["x"]["field"] for part in linked["hconcat"]} == {"xa", "xb"}


def test_bias_factor_probe_table(tiny_env):
    at = app_on("pages/bias.py")
    assert not problems(at), problems(at)
    at.selectbox(key="w.bias.encoder").select("baseline: hand-made features")
    next(b for b in at.button if b.label == "Measure").click().run()
    assert not problems(at), problems(at)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert {"factor", "score", "score type", "chance"} <= set(table.columns)  # short: it fits 1024 px
    assert set(table["score type"]) == {"accuracy", "R²"}
    assert {"label (class)", "plate"} <= set(table["factor"])
    assert "brightness of DNA" in set(table["factor"])  # total_intensity_DNA in words
    verdict = " ".join(s.value for s in at.success)
    assert " is encoded " in verdict, verdict  # one plain sentence on what it encodes most


def test_bias_sweep_with_too_few_values_says_so(tiny_env):
    at = app_on("pages/bias.py")
    next(t for t in at.text_input if t.key.startswith("w.bias.values")).input("0.5")
    next(b for b in at.button if b.label == "Start the sweep").click().run()
    assert any("at least two values" in e.value for e in at.error)


@pytest.mark.slow
def test_bias_sweep_runs_in_the_background_and_shows_curves(tiny_env):
    at = app_on("pages/bias.py")
    at.selectbox(key="w.bias.param").select("brightness_contrast · brightness").run()
    next(t for t in at.text_input if t.key.startswith("w.bias.values")).input("0.1, 0.7")
    at.number_input(key="w.bias.seeds").set_value(1)
    at.number_input(key="w.bias.epochs").set_value(1)
    at.number_input(key="w.bias.max_cells").set_value(50)
    at.selectbox(key="w.bias.backbone").select("tiny_cnn")
    next(b for b in at.button if b.label == "Start the sweep").click().run()
    assert not at.error, [e.value for e in at.error]
    sweep_dir = at.session_state["ssrl.sweep_run"]
    deadline = time.time() + 300
    while time.time() < deadline:
        time.sleep(3)
        at.run()
        if any(m.label == "Classes with an opposite partner" for m in at.metric) or at.error:
            break
    assert not at.error, ([e.value for e in at.error], open(f"{sweep_dir}/sweep.log").read()[-2000:])
    assert any(m.label == "Classes with an opposite partner" for m in at.metric)
    assert at.get("vega_lite_chart")  # the per-class accuracy curves


def test_explore_says_why_two_clusters_differ_and_shows_hand_labels(tiny_env):
    from ssrl_app.shell import loaders
    from ssrl_core.data import annotations

    at = _embed_hand_features(app_on("pages/explore.py"))
    assert "Why do two clusters differ?" in [s.value for s in at.subheader]
    diff = next(d.value for d in at.dataframe if "effect size (d)" in d.value.columns)
    assert len(diff) >= 5 and {"measurement", "mean A", "mean B", "size", "p-value"} <= set(diff.columns)
    d = diff["effect size (d)"].abs().to_numpy()
    assert (d[:-1] >= d[1:] - 1e-12).all()  # largest difference first
    assert any("differ" in m.value for m in at.markdown)  # the one-sentence summary
    at.selectbox(key="w.explore.diff_b").select(at.selectbox(key="w.explore.diff_b").options[1]).run()
    assert not problems(at), problems(at)
    # a hand label kept for the dataset shows up as a column to compare with and colour by
    name = at.session_state["ssrl.dataset"]
    cells = loaders.cells(name)
    annotations.label_cells(name, cells, [0, 1, 2], "my_label", "odd ones")
    at.run()
    assert "my_label" in at.selectbox(key="w.explore.column").options
    assert "my_label" in at.selectbox(key="w.explore.color").options
    at.toggle(key="w.explore.brush").set_value(True).run()
    assert not problems(at), problems(at)
    assert any("drag a box" in c.value for c in at.caption)
