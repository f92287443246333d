"""Selections as plain data (`ssrl_core.data.rules`) and the held-out rules shipped in the index."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ssrl_core.data.rules import rule_mask


def test_any_clause_every_column_and_numbers_by_value():
    meta = pd.DataFrame({"plate": ["p1", "p1", "p2", "p2"], "site": [1, 3, 3.0, "4"], "compound": ["a", "b", "a", "a"]})
    rule = [{"plate": ["p1"], "site": ["3"]}, {"plate": ["p2"], "compound": ["a"], "site": [4]}]
    assert rule_mask(meta, rule).tolist() == [False, True, False, True]
    assert rule_mask(meta, [{}]).all() and not rule_mask(meta, []).any()
    with pytest.raises(ValueError, match="lack"):
        rule_mask(meta.drop(columns="site"), rule)


def test_index_rules_are_the_reproduction_s_and_round_trip_through_json():
    from paper import plan
    from ssrl_core.models.shipped import heldout_mask, shipped_checkpoints

    cards = shipped_checkpoints()
    assert cards
    meta = pd.DataFrame({"plate": [plan.TRAIN_PLATE, plan.TRAIN_PLATE, plan.OTHER_PLATE, plan.OTHER_PLATE],
                         "site": [1, 3, 2, 2], "compound": ["DMSO", plan.TREATMENT, "DMSO", plan.TREATMENT]})
    for card in cards:
        group = plan.entry(card["name"]).group
        assert card.get("heldout_group") == group
        assert card.get("heldout_rule") == json.loads(json.dumps(plan.HELDOUT_RULES.get(group)))
        if group in ("bbbc021", "demo"):
            assert np.array_equal(rule_mask(meta, card["heldout_rule"]), plan.heldout_mask(meta, group))
            assert np.array_equal(heldout_mask(meta, group), plan.heldout_mask(meta, group))  # `ssrl embed --heldout`
    bbbc = next(c for c in cards if c["name"] == "bbbc021_set_a")
    assert rule_mask(meta, bbbc["heldout_rule"]).tolist() == [False, True, True, False]
