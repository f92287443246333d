"""Section 3.1 on the Bias page (AppTest) and in the report: a tiny real sweep on real CIFAR-10
images (3 crop scales x 1 seed, 3 training steps each), summarised, shipped as JSON, browsed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app_support import app_on, problems

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _tiny_sweep(out: Path) -> Path:
    from ssrl_core.paths import PROJECT_ROOT
    from ssrl_core.sweeps.runner import load_sweep, run_sweep

    cfg = load_sweep(PROJECT_ROOT / "configs" / "sweeps" / "cifar10_simclr_crop_scale.yaml")
    cfg.values, cfg.seeds = [0.08, 0.45, 0.85], [0]
    cfg.base = dict(cfg.base, epochs=1, max_steps=3, batch_size=32, backbone="tiny_cnn", cpu_threads=1,
                    data=dict(cfg.base["data"], max_cells=96))
    cfg.base.pop("init")  # from random weights; the start-encoder path is checked with one of these runs
    cfg.probe_data, cfg.probe_train_cells = {"name": "cifar10", "max_cells": 600}, 200
    run_sweep(cfg, out)
    return out


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory, shared_data):
    """A real tiny sweep folder, the class properties of its classes and the shipped summary."""
    import torch

    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate.class_properties import measure
    from ssrl_core.sweeps import class_bias

    if not (shared_data / "cifar10" / "cifar10_subset.npz").is_file():
        pytest.skip("the shared CIFAR-10 subset is absent")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        base = tmp_path_factory.mktemp("s31")
        sweep = _tiny_sweep(base / "runs" / "sweeps" / "cifar10" / "cifar10_simclr_crop_scale")
        props = measure(load_dataset("cifar10").where(split="train"), "hand-features", max_per_class=20)
    finally:
        torch.set_num_threads(threads)
    import yaml

    from paper.class_bias_sweeps import baseline_probe, start_probe

    tiny_cfg = base / "tiny.yaml"
    raw = yaml.safe_load((sweep / "sweep.json").read_text())  # the sweep as it ran, base inline
    tiny_cfg.write_text(yaml.safe_dump({k: raw[k] for k in ("base", "parameter", "values", "seeds", "probe_column",
                                                            "probe_split", "probe_data", "probe_train_cells")}))
    baseline = baseline_probe(tiny_cfg, base, log=lambda m: None)
    start_cfg = base / "tiny_start.yaml"  # the same sweep, fine-tuned from one of its own runs
    start_cfg.write_text(yaml.safe_dump({**yaml.safe_load(tiny_cfg.read_text()),
                                         "base": {**raw["base"], "init": str(sweep / "v00_s0")}}))
    start = start_probe(start_cfg, base, log=lambda m: None)
    summary = class_bias.build_summary([sweep], props, n_null=50, reference="hand-features", baseline=baseline,
                                      start=start)
    shipped = class_bias.write_shipped(summary, base / "pretrained" / "sweeps" / "cifar10" / "summary.json")
    return {"base": base, "sweep": sweep, "summary": summary, "shipped": shipped, "start_cfg": start_cfg}


def test_summary_numbers_follow_the_results(tiny_result):
    from ssrl_core.evaluate.bias_stats import bias_report
    from ssrl_core.sweeps.runner import read_results

    s = tiny_result["summary"]["sweeps"][0]
    rep = bias_report(read_results(tiny_result["sweep"]))
    assert s["ratio"] == pytest.approx(rep["opposite_ratio"]) and s["classes"] == CLASSES
    assert s["parameter"] == "crop scale (min area)" and s["method"] == "simclr" and s["runs"] == 3
    assert 0.0 <= s["null_mean"] <= 1.0 and s["probe"]["split"] == "split"
    assert 0 < s["train_seconds"] < 300  # read from the three runs' metrics.jsonl
    assert len(s["anova"]) == 5 and {a["property"] for a in s["anova"]} >= {"intrinsic_dim", "glcm_contrast"}
    tc = tiny_result["summary"]["training_check"]
    assert tc["encoder"] == "random-tiny_cnn" and 0 < tc["random_top1"] < 1
    assert tc["gain"] == pytest.approx(tc["ssl_top1"] - tc["random_top1"])
    assert tc["ssl_top1"] == pytest.approx(read_results(tiny_result["sweep"])["top1"].mean())  # one seed per value
    first = read_results(tiny_result["sweep"]).query("value == 0.08")["top1"].iloc[0]
    assert tc["start_encoder"].endswith("v00_s0") and tc["start_top1"] == pytest.approx(first)  # same probe, same run
    assert tc["start_gain"] == pytest.approx(tc["ssl_top1"] - tc["start_top1"])
    claims = tiny_result["summary"]["verdicts"]
    assert len(claims) == 4 and claims[3]["holds"] is None  # one method, one parameter: cannot tell
    assert tiny_result["shipped"].stat().st_size < 100_000  # KB, not MB
    assert "path" not in json.loads(tiny_result["shipped"].read_text())["sweeps"][0]  # no local paths shipped


def test_report_page_and_figures_are_written_from_the_numbers(tiny_result, tmp_path):
    from paper import class_bias_report

    written = class_bias_report.write_report(tiny_result["summary"], tmp_path, command="test")
    text = written["results_cifar10"].read_text()
    s = tiny_result["summary"]["sweeps"][0]
    assert f"| {s['ratio']:.3f} |" in text and "## Verdicts" in text and "20 values x 5 seeds" in text
    assert (tmp_path / "figures" / "results_cifar10_curves.png").stat().st_size > 10_000
    assert (tmp_path / "figures" / "results_cifar10_ratio.png").is_file()
    for v in tiny_result["summary"]["verdicts"]:
        assert v["claim"] in text
    tc = tiny_result["summary"]["training_check"]
    assert f"{tc['random_top1']:.3f}" in text and f"probe scores {tc['start_top1']:.3f}" in text


def test_report_from_the_shipped_summary(tiny_result, tmp_path, monkeypatch):
    from paper import class_bias_report

    monkeypatch.setenv("SSRL_PRETRAINED", str(tiny_result["base"] / "pretrained"))
    written = class_bias_report.report_from_shipped(tmp_path)
    assert written is not None and "crop scale (min area)" in written["results_cifar10"].read_text()
    monkeypatch.setenv("SSRL_PRETRAINED", str(tmp_path / "none"))
    assert class_bias_report.report_from_shipped(tmp_path) is None


def _bias_page(tiny_result, monkeypatch, runs: bool):
    monkeypatch.setenv("SSRL_PRETRAINED", str(tiny_result["base"] / "pretrained"))
    if runs:
        monkeypatch.setenv("SSRL_RUNS", str(tiny_result["base"] / "runs"))
    return app_on("pages/bias.py", timeout=180)


def _frame_with(at, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_bias_page_shows_the_shipped_sweep_without_retraining(tiny_env, tiny_result, monkeypatch):
    at = _bias_page(tiny_result, monkeypatch, runs=False)
    assert not problems(at), problems(at)
    pick = at.selectbox(key="w.class_bias.pick")
    assert pick.options == ["Shipped CIFAR-10 result: simclr, crop scale (min area)"]
    s = tiny_result["summary"]["sweeps"][0]
    tc = tiny_result["summary"]["training_check"]
    floor = [x.value for x in list(at.warning) + list(at.caption) if str(x.value).startswith("Floor:")]
    assert floor and f"{tc['random_top1']:.1%}" in floor[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Opposite-pair classes"] == f"{s['ratio']:.0%}"
    assert metrics["Overall accuracy change"] == f"{s['overall_change']:+.1%}"
    slopes = _frame_with(at, "what happens")
    assert sorted(slopes["class"]) == CLASSES
    props = _frame_with(at, "texture: GLCM contrast")  # plain names (issue 25 item 8)
    assert len(props) == 10 and props["n"].eq(20).all()
    anova = _frame_with(at, "classes better / worse / flat")
    assert len(anova) == 5


def test_bias_page_shows_my_own_sweep_the_same_way(tiny_env, tiny_result, monkeypatch, shared_data):
    monkeypatch.setenv("SSRL_SHARED_DATA", str(shared_data))  # the sweep's own data, for its class properties
    at = _bias_page(tiny_result, monkeypatch, runs=True)
    mine = "My sweep: cifar10/cifar10_simclr_crop_scale"
    assert mine in at.selectbox(key="w.class_bias.pick").options
    at.selectbox(key="w.class_bias.pick").select(mine).run()
    assert not problems(at), problems(at)
    s = tiny_result["summary"]["sweeps"][0]
    assert {m.label: m.value for m in at.metric}["Opposite-pair classes"] == f"{s['ratio']:.0%}"
    assert sorted(_frame_with(at, "what happens")["class"]) == CLASSES
    at.selectbox(key="w.class_bias.ref").select("hand-made image features")
    at.button(key="w.class_bias.measure").click().run()
    assert not problems(at) and not at.error, (problems(at), [e.value for e in at.error])
    assert (tiny_result["sweep"] / "class_properties.csv").is_file()
    assert len(_frame_with(at, "classes better / worse / flat")) == 5
