"""`evaluate.encoders.random_twin`: the random-weights baseline of a checkpoint (the Bias page's floor)."""

from __future__ import annotations

from ssrl_core.evaluate.encoders import random_twin, resolve


def test_random_twin_names_a_baseline_the_embedding_accepts() -> None:
    assert random_twin({"backbone": "tiny_cnn", "per_channel": False}) == "random-tiny_cnn"
    twin = random_twin({"backbone": "resnet18", "per_channel": True})
    assert twin == "random-resnet18-per-channel"
    assert resolve(twin).kind == "random"  # a name `embed` understands
    assert random_twin({}) is None and random_twin({"in_channels": 3}) is None
