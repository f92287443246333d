"""The base encoder's training set keeps every held-out cell out; its card checks the bar honestly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import requires_shared


@requires_shared
def test_base_training_set_has_every_training_crop_and_no_held_out_cell(tmp_path: Path) -> None:
    from paper.base_data import build
    from paper.plan import MITOCHECK_HELDOUT_PLATES

    counts = build(tmp_path / "base.npz")
    assert counts["mitocheck"] == 3277 - 1001  # minus the 25 held-out plates
    assert counts["bbbc021"] == 3 * (579 + 547 + 842)  # sites 1-2 of Week4_27801 + Week4_27481, 3 channels each
    data = np.load(tmp_path / "base.npz", allow_pickle=False)
    assert data["images"].shape[1:] == (64, 64, 1) and data["images"].dtype == np.uint16
    plates = set(data["plate"][data["source"] == "mitocheck"])
    assert not plates & set(MITOCHECK_HELDOUT_PLATES)
    grey = data["images"][data["source"] == "bbbc021"][..., 0]
    assert 0.05 < grey.mean() / 65535 < 0.6 and grey.max() > 60000  # scaled per source and channel


def test_bar_problems_names_each_metric_that_does_not_beat_a_baseline() -> None:
    from paper.base_encoder import bar_problems

    card = {"mitocheck": {"encoder": {"ami": 0.5, "probe": 0.7}, "random": {"ami": 0.3, "probe": 0.72},
                          "hand": {"ami": 0.34, "probe": 0.67}},
            "mnist": {"encoder": {"ami": 0.405, "probe": 0.905}, "random": {"ami": 0.41, "probe": 0.9}}}
    assert bar_problems(card) == ["mitocheck: probe 0.700 is below random 0.720",
                                  "mnist: ami 0.405 ties random 0.410", "mnist: probe 0.905 ties random 0.900"]


def test_score_features_separates_real_groups_from_noise() -> None:
    from paper.quality import score_features

    rng = np.random.default_rng(0)
    labels = np.repeat(np.array(["a", "b", "c"]), 60)
    signal = rng.normal(size=(180, 8)) + np.eye(3, 8)[np.repeat([0, 1, 2], 60)] * 4
    good, noise = score_features(signal, labels), score_features(rng.normal(size=(180, 8)), labels)
    assert good["probe"] > 0.9 and good["knn"] > 0.9 and good["ami"] > 0.6 and good["held_out_by"] == "cell"
    assert noise["probe"] < 0.6 and noise["ami"] < 0.1


@requires_shared
def test_shipped_base_encoder_embeds_one_and_three_channel_cells() -> None:
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.models.shipped import shipped_checkpoints

    card = next((c for c in shipped_checkpoints() if c["name"] == "cells_base"), None)
    if card is None:
        pytest.fail("cells_base is not in pretrained/index.json")
    assert card["per_channel"] is True and card["bytes"] <= 50e6
    one = load_dataset("mitocheck_phenotype_crops").subset(np.arange(8))
    three = load_dataset("bbbc021_week4_dmso_cycloheximide").subset(np.arange(8))
    f1, f3 = embed(one, card["path"], use_cache=False), embed(three, card["path"], use_cache=False)
    assert f1.shape == (8, 256) and f3.shape == (8, 768) and np.isfinite(f3).all()


@requires_shared
def test_shipped_base_encoder_beats_random_weights_on_mitocheck_held_out_plates() -> None:
    from paper.quality import heldout, knn_top1
    from ssrl_core.evaluate.embedding import embed
    from ssrl_core.models.shipped import shipped_path

    cells, labels = heldout("mitocheck")
    base = knn_top1(embed(cells, str(shipped_path("cells_base"))), labels)
    random = knn_top1(embed(cells, "random-small_cnn-per-channel"), labels)
    assert base > random + 0.05, (base, random)


def test_stages_follow_init_run_folders_back_to_the_first_run(tmp_path: Path) -> None:
    from paper.base_encoder import stages
    from ssrl_core.train import load_config, train

    from tiny_runs import TINY_FINETUNE as TINY
    from tiny_runs import tiny_npz

    npz = tiny_npz(tmp_path / "c.npz", n=32)
    first = load_config(None, [f"data.name={npz}", *TINY, "max_steps=2", "lr=0.002"])
    assert train(first, tmp_path / "s1")["state"] == "finished"
    second = load_config(None, [f"data.name={npz}", *TINY, "max_steps=3", "lr=0.001", "recipes=[microscopy-set-a]",
                                f"init={tmp_path / 's1'}"])
    assert train(second, tmp_path / "s2")["state"] == "finished"
    got = stages(tmp_path / "s2")
    assert [(s["steps"], s["recipes"], s["lr"]) for s in got] == [(2, ["microscopy-set-b"], 0.002),
                                                                  (3, ["microscopy-set-a"], 0.001)]
    assert got[0]["run"].endswith("s1") and got[1]["train_seconds"] > 0


@requires_shared
def test_shipped_base_encoder_beats_random_weights_on_bbbc021_held_out_sites() -> None:
    """The bar stage 2 exists for: cycloheximide vs DMSO, k = 2 AMI and the probe trained on other wells,
    on cells it never saw with a label (sites 3-4 of the treated plate and the DMSO plate)."""
    from paper.quality import score
    from ssrl_core.models.shipped import shipped_path

    base, random = score(str(shipped_path("cells_base")), "bbbc021", device="cpu"), score("random-small_cnn-per-channel", "bbbc021", device="cpu")
    assert base["ami"] > random["ami"] and base["probe"] > random["probe"] and base["held_out_by"] == "well", \
        (base, random)
