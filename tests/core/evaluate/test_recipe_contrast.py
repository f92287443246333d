"""The recipe contrast behind the Home demo (`ssrl_core.evaluate.recipe_contrast`): where two
recipes differ, the words of its verdict, and the shipped measurements kept honest."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np

from ssrl_core.augment import get_preset
from ssrl_core.evaluate import recipe_contrast as rc


def test_step_changes_name_the_one_changed_step():
    a = get_preset("microscopy-set-a").to_dict()
    b = copy.deepcopy(a)
    b["steps"][0]["params"]["brightness"] = 0.1
    assert rc.step_changes(a, b) == [{"step": "brightness_contrast", "setting": "brightness", "a": 0.4, "b": 0.1}]
    assert rc.step_changes(a, a) == []
    c = copy.deepcopy(a)
    c["steps"] = c["steps"][1:]
    assert rc.step_changes(a, c) == [{"step": "brightness_contrast", "setting": "used", "a": True, "b": False}]
    assert rc.change_words(rc.step_changes(a, b)) == "brightness contrast: brightness 0.4 -> 0.1"


def test_shipped_configs_differ_in_exactly_the_jitter():
    a, b = (rc.recipe_of(p) for p in rc.CASE.config_paths())
    assert {c["step"] for c in rc.step_changes(a, b)} == {"brightness_contrast"}


def test_the_demo_scores_the_cells_its_cards_hold_out():
    from ssrl_core.models.shipped import shipped_checkpoints

    cards = {c["name"]: c for c in shipped_checkpoints()}
    for name in rc.CASE.checkpoints:
        assert cards[name]["heldout_rule"] == [rc.CASE.heldout]  # the index's rule is the demo's


def _result(ami_a, ami_b, sd, r2_a, r2_b) -> dict:
    s = lambda ami, r2: {"ami": ami, "ami_sd": sd, "ami_spread": 0.01, "chance95": 0.01, "factor_r2": r2,  # noqa: E731
                         "factor_r2_sd": sd, "seeds": 3}
    return {"labels": ["jitter 0.4", "jitter 0.1"], "factor": "brightness:Tubulin", "column": "compound",
            "changes": [{"step": "brightness_contrast", "setting": "brightness", "a": 0.4, "b": 0.1}],
            "preview": {"factors": [{"factor": "brightness:Tubulin", "words": "brightness of Tubulin",
                                     "kept|jitter 0.4": 0.71, "verdict|jitter 0.4": "partly",
                                     "kept|jitter 0.1": 0.92, "verdict|jitter 0.1": "keeps"}]},
            "summary": {"jitter 0.4": s(ami_a, r2_a), "jitter 0.1": s(ami_b, r2_b)}}


def test_verdict_confirms_only_beyond_the_seed_spread():
    held = rc.verdict(_result(0.39, 0.55, 0.02, 0.68, 0.77))
    assert held["keeper"] == "jitter 0.1" and held["confirmed"] == "yes"
    assert held["after"].startswith("jitter 0.1 scores higher")
    assert "jitter 0.4 scrambles it (0.71, partly)" in held["before"]
    tie = rc.verdict(_result(0.50, 0.52, 0.05, 0.70, 0.72))
    assert tie["confirmed"] == "no" and tie["after"].startswith("No clear difference")


def test_load_refuses_measurements_of_other_checkpoints(tmp_path):
    from ssrl_core import paths

    shipped = paths.pretrained_dir()
    for f in ("index.json", rc.FILE, *(f"{n}.pt" for n in rc.CASE.checkpoints)):
        shutil.copy(shipped / f, tmp_path / f)
    assert rc.load(tmp_path) is not None
    res = json.loads((tmp_path / rc.FILE).read_text())
    # what the demo shows is complete: both recipes, 3 seeds each, a map point for every cell
    for label in rc.CASE.labels:
        assert len(res["seeds"][label]) == 3 and res["summary"][label]["seeds"] == 3
        assert len(res["maps"][label]) == res["cells"] == len(res["points"]["compound"])
        assert np.isfinite(res["summary"][label]["ami"])
    res["sha256"][rc.CASE.labels[0]] = "0" * 64
    (tmp_path / rc.FILE).write_text(json.dumps(res))
    assert rc.load(tmp_path) is None
    (tmp_path / rc.FILE).write_text("{not json")
    assert rc.load(tmp_path) is None


def test_the_shipped_contrast_holds():
    """The story the Home demo tells is what the shipped measurements say: the preview puts the jitter
    0.1 recipe above 0.4 on tubulin brightness, and the trained encoders agree beyond their seed spread."""
    res = rc.load()
    assert res is not None
    words = rc.verdict(res)
    assert words["keeper"] == "jitter 0.1" and words["confirmed"] == "yes", words
    assert words["after"].startswith("jitter 0.1 scores higher"), words["after"]
