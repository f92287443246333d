"""`ssrl_core.train.estimate`: the run-time arithmetic and where a training speed comes from."""

from __future__ import annotations

import json

import yaml

from ssrl_core.train import estimate

RAW = {"backbone": "tiny_cnn", "crop_size": 24, "batch_size": 8, "data": {"name": "tiny"}, "device": "cpu"}


def test_run_seconds_counts_whole_batches_and_honours_the_budget() -> None:
    assert estimate.run_seconds(1000, 5, 100, rate=100.0) == 50 + estimate.STARTUP_S  # 5,000 pairs at 100/s
    assert estimate.run_seconds(1001, 1, 100, rate=100.0) == 11 + estimate.STARTUP_S  # a last, partial batch
    assert estimate.run_seconds(10**6, 50, 100, rate=100.0, budget_min=3) == 180 + estimate.STARTUP_S


def test_speed_comes_from_an_earlier_run_trained_alike(tmp_path) -> None:
    def run(name: str, cfg: dict, rates: list[float]):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        (folder / "metrics.jsonl").write_text("".join(json.dumps({"step": i, "pairs_per_s": r}) + "\n"
                                                      for i, r in enumerate(rates)), encoding="utf-8")
        return {"path": str(folder)}

    other = run("other", {**RAW, "batch_size": 64}, [1.0, 500.0, 500.0])
    alike = run("alike", {k: v for k, v in RAW.items() if k != "device"}, [1.0, 90.0, 110.0, 100.0])
    assert estimate.rate_from_runs(RAW, [other, alike]) == 100.0  # the warm-up record is left out
    assert estimate.rate_from_runs(RAW, [other]) is None


def test_a_speed_check_is_one_folder_per_configuration(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path))
    probe, folder = estimate.speed_check(RAW)
    assert probe["data"]["max_cells"] == 8 * estimate.CHECK_STEPS and probe["epochs"] == 1
    assert folder.parent == tmp_path / "speed" and estimate.speed_check(dict(RAW))[1] == folder
    assert estimate.speed_check({**RAW, "batch_size": 16})[1] != folder
    assert estimate.finished_rate(folder) is None and estimate.cached_rate(RAW) is None  # never measured
