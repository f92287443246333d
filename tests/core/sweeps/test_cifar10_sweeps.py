"""The shipped CIFAR-10 sweeps (paper section 3.1): what they vary, and one tiny real point each
way the runner scores it (probe trained on the train split, scored on the test split)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssrl_core.sweeps.runner import load_sweep, read_results, run_sweep, set_parameter, sweep_from_dict

from app_support import ROOT

SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("cifar10_*.yaml"))


def _steps(raw: dict) -> dict:
    return {s["name"]: s for s in raw["recipes"][0]["recipe"]["steps"]}


def test_the_shipped_sweeps_vary_one_parameter_each_with_five_values_and_three_seeds():
    assert len(SWEEPS) == 5
    methods, varied = set(), []
    for path in SWEEPS:
        cfg = load_sweep(path)
        assert len(cfg.values) >= 5 and len(cfg.seeds) >= 3 and cfg.probe_split == "split"
        lo, hi = set_parameter(cfg.base, cfg.parameter, cfg.values[0]), set_parameter(cfg.base, cfg.parameter, cfg.values[-1])
        a, b = _steps(lo), _steps(hi)
        changed = sorted((n, k) for n in a for k in ("p", "params") if a[n].get(k) != b[n].get(k))
        assert changed, path.name
        varied.append((cfg.base["method"]["name"], tuple(changed)))
        methods.add(cfg.base["method"]["name"])
        assert cfg.base["data"]["filter"] == {"split": "train"}  # SSL never sees the test images
        assert cfg.base["init"] == "cifar10_base" and cfg.base["backbone"] == "small_cnn"  # one shared start
    assert methods == {"simclr", "vicreg"}
    changed = {c for _, c in varied}
    assert (("random_resized_crop", "params"),) in changed and (("horizontal_flip", "p"),) in changed
    assert (("brightness_contrast", "p"), ("hue_saturation", "p")) in changed  # colour jitter = both steps
    assert (("hue_saturation", "params"),) in changed
    crop = load_sweep(next(p for p in SWEEPS if p.stem == "cifar10_simclr_crop_scale"))
    assert _steps(set_parameter(crop.base, crop.parameter, 0.45))["random_resized_crop"]["params"]["scale"] == [0.45, 1.0]


def test_a_list_parameter_sets_every_path():
    base = {"recipes": [{"recipe": {"name": "r", "steps": [{"name": "a", "p": 0.1}, {"name": "b", "p": 0.2}]}}]}
    out = set_parameter(base, ["recipes.0.recipe.steps.0.p", "recipes.0.recipe.steps.1.p"], 0.7)
    assert [s["p"] for s in out["recipes"][0]["recipe"]["steps"]] == [0.7, 0.7]
    assert [s["p"] for s in base["recipes"][0]["recipe"]["steps"]] == [0.1, 0.2]  # the base is not changed


def test_bad_probe_fields_are_refused_in_words():
    raw = {"base": {"name": "x"}, "parameter": "lr", "values": [1, 2], "probe_data": "cifar10", "probe_train_cells": 1}
    with pytest.raises(ValueError, match="probe_data.*\n.*probe_train_cells|probe_train_cells"):
        sweep_from_dict(raw)


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_one_value_one_seed_at_tiny_scale(path, tmp_path, shared_data, one_torch_thread):
    if not (shared_data / "cifar10" / "cifar10_subset.npz").is_file():
        pytest.skip("the shared CIFAR-10 subset is absent")
    cfg = load_sweep(path)
    cfg.values, cfg.seeds = cfg.values[2:3], [0]
    cfg.base = dict(cfg.base, epochs=1, max_steps=2, batch_size=16, cpu_threads=1,
                    data=dict(cfg.base["data"], max_cells=64))
    cfg.probe_data, cfg.probe_train_cells = {"name": "cifar10", "max_cells": 600}, 200
    run_sweep(cfg, tmp_path / "sweep")  # from the shipped cifar10_base, as the real sweep
    from ssrl_core.models.encoder_file import load_checkpoint
    from ssrl_core.models.shipped import shipped_path

    run = next(p for p in (tmp_path / "sweep").iterdir() if (p / "checkpoint.pt").is_file())
    parent = load_checkpoint(run / "checkpoint.pt")["parent"]
    assert parent["init"] == "cifar10_base" and Path(parent["file"]) == shipped_path("cifar10_base")
    res = read_results(tmp_path / "sweep")
    assert sorted(res["class"]) == sorted(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                           "ship", "truck"])
    assert (res["value"] == cfg.values[0]).all() and res["accuracy"].between(0, 1).all()
    n_test = int(res["n_test"].sum())
    assert 150 < n_test < 250  # only the test-split rows of the 600 cells (a third of CIFAR is test) are scored
    # top1 is the test-weighted mean of the per-class accuracies
    assert np.isclose(res["top1"].iloc[0], float((res["accuracy"] * res["n_test"]).sum() / n_test), atol=1e-6)


def test_the_shipped_start_encoder_beats_random_weights_on_unseen_test_images(shared_data, one_torch_thread):
    """`cifar10_base`, the start of every shipped sweep point: its card says it beats random
    weights, and it does on 1,000 test-split images it never saw (cosine k-NN top-1, 70/30 split)."""
    if not (shared_data / "cifar10" / "cifar10_subset.npz").is_file():
        pytest.skip("the shared CIFAR-10 subset is absent")
    from paper.quality import knn_top1
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.models.shipped import shipped_checkpoints

    card = next((c for c in shipped_checkpoints() if c["name"] == "cifar10_base"), None)
    assert card is not None, "cifar10_base is not in pretrained/index.json"
    assert card["dataset"] == "cifar10" and card["bar_problems"] == []
    assert card["metrics"]["top1"] > card["metrics"]["random_top1"] + 0.05
    test = load_dataset("cifar10").where(split="test")
    cells = test.subset(np.arange(0, len(test), len(test) // 1000)[:1000])
    labels = cells.meta["label"].astype(str).to_numpy()
    base = knn_top1(embed(cells, card["path"], use_cache=False), labels)
    random = knn_top1(embed(cells, "random-small_cnn", use_cache=False), labels)
    assert base > random + 0.05, (base, random)
