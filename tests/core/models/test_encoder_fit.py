"""The one fit check (`ssrl_core.models.fit`): the words the app shows and `ssrl embed` prints."""

from __future__ import annotations

import pytest

from ssrl_core.models.fit import MAX_SCALE, channel_misfit, check_channels, misfit, size_misfit, size_warning

GREY = {"in_channels": 1, "crop_size": 28, "channels": ["grey"], "per_channel": False}


def test_channels_are_named_in_plain_words() -> None:
    assert channel_misfit(GREY, 3) == "trained on 1-channel images (grey); these cells have 3 channel(s)"
    assert channel_misfit({"in_channels": 3}, 1) == "trained on 3-channel images; these cells have 1 channel(s)"
    assert channel_misfit(GREY, 1) is None
    assert channel_misfit({**GREY, "per_channel": True}, 5) is None  # one grey encoder per channel fits any count
    with pytest.raises(ValueError, match=r"it was trained on 1-channel images \(grey\); these cells have 3 channel"):
        check_channels(GREY, 3)
    check_channels(GREY, 1)


def test_crop_size_within_two_times_fits() -> None:
    assert MAX_SCALE == 2.0
    assert size_misfit(GREY, 56) is None and size_misfit(GREY, 14) is None  # exactly 2x either way fits
    assert size_misfit(GREY, 57) == "trained on 28 px crops; these cells are 57 px (more than 2x apart)"
    assert size_misfit(GREY, 13) == "trained on 28 px crops; these cells are 13 px (more than 2x apart)"
    assert size_misfit(GREY, None) is None and size_misfit({"in_channels": 1}, 500) is None
    assert size_misfit(GREY, 57) in size_warning(GREY, 57) and "resized to 28 px" in size_warning(GREY, 57)
    assert size_warning(GREY, 28) is None


def test_misfit_says_channels_first_and_unknown_facts_fit() -> None:
    assert misfit({**GREY, "crop_size": 64}, 3, 500) == channel_misfit(GREY, 3)
    assert misfit(GREY, 1, 68) == size_misfit(GREY, 68)
    assert misfit({"in_channels": 3, "crop_size": 64}, 3, 68) is None
    assert misfit({}, 3, 68) is None and misfit(None, 3, 68) is None
