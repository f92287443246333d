"""The section 3.1 verdicts: a difference between parameters' opposite ratios counts only when
one of them stands above what shuffled curves give (the chance level)."""

from __future__ import annotations

from ssrl_core.sweeps.class_verdicts import verdicts


def _sweep(parameter: str, ratio: float, q95: float) -> dict:
    slopes = [{"class": "cat", "change": 0.05, "trend": "ascending"}, {"class": "dog", "change": -0.04, "trend": "descending"}]
    return {"method": "simclr", "parameter": parameter, "ratio": ratio, "null_mean": q95 / 2, "null_q95": q95,
            "null_p": 0.5, "slopes": slopes, "overall_change": 0.001, "overall_range": 0.004,
            "trends": {"ascending": 1, "descending": 1, "flat": 8}, "opposite_pairs": [], "n_pairs": 45}


def _differs(sweeps: list[dict]) -> dict:
    return next(v for v in verdicts({"sweeps": sweeps}) if v["claim"] == "The ratio differs by parameter")


def test_a_spread_within_chance_is_no_difference() -> None:
    v = _differs([_sweep("crop scale", 0.0, 0.7), _sweep("flip", 0.4, 0.7)])
    assert v["holds"] is False and "every ratio is within chance" in v["evidence"][0]


def test_a_spread_with_one_ratio_above_chance_differs() -> None:
    v = _differs([_sweep("crop scale", 0.0, 0.7), _sweep("flip", 0.6, 0.5)])
    assert v["holds"] is True and "above chance: flip" in v["evidence"][0]


def test_one_parameter_per_method_cannot_tell() -> None:
    v = _differs([_sweep("crop scale", 0.6, 0.5)])
    assert v["holds"] is None and "two parameters" in v["detail"]
