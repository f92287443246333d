"""Whether an encoder fits the cells it is asked to embed: one rule, one wording, for the app and the CLI.

Two facts of a checkpoint decide it (`EncoderFacts`, or the same keys in `pretrained/index.json`):

- **channels**: a network's first layer takes the channel count it was trained on, so other
  images cannot go in at all; a per-channel encoder (one grey-scale encoder applied to each
  channel, e.g. `cells_base`) fits any count. A channel misfit is refused.
- **crop size**: crops are resized to the encoder's crop size before they are embedded. Within
  `MAX_SCALE` (2x) either way a nucleus keeps roughly the size the encoder learned; beyond it
  (a 28 px MNIST encoder on 196 px cell crops) the features describe another scale, and the
  embedding says little. A size misfit is a warning: the app does not offer such an encoder, and
  `ssrl embed` says so and embeds anyway (the user asked for that encoder by name).

The functions read a plain mapping and import no torch, so the app's first page can use them.
"""

from __future__ import annotations

from typing import Any, Mapping

MAX_SCALE = 2.0  # crops are resized to the encoder's crop size; more than 2x either way is a misfit


def channel_misfit(info: Mapping[str, Any], n_channels: int) -> str | None:
    """Why an encoder cannot take images of `n_channels` channels, or None (unknown facts fit)."""
    want = info.get("in_channels")
    if want is None or info.get("per_channel") or int(want) == int(n_channels):
        return None
    names = ", ".join(map(str, info.get("channels") or []))
    return (f"trained on {int(want)}-channel images{f' ({names})' if names else ''}; these cells have "
            f"{int(n_channels)} channel(s)")


def size_misfit(info: Mapping[str, Any], side: int | None) -> str | None:
    """Why crops of `side` px are too far from the encoder's crop size (more than `MAX_SCALE` x), or None."""
    crop = info.get("crop_size")
    if not crop or not side or 1.0 / MAX_SCALE <= float(side) / float(crop) <= MAX_SCALE:
        return None
    return f"trained on {int(crop)} px crops; these cells are {int(side)} px (more than {MAX_SCALE:g}x apart)"


def misfit(info: Mapping[str, Any] | None, n_channels: int, side: int | None = None) -> str | None:
    """Why an encoder does not fit cells of `n_channels` channels and `side` px (channels first),
    or None. An empty `info` (facts unknown) fits: the embedding says why when it is tried."""
    if not info:
        return None
    return channel_misfit(info, n_channels) or size_misfit(info, side)


def check_channels(info: Mapping[str, Any], n_channels: int) -> None:
    """Raise ValueError in plain words when the encoder cannot take `n_channels`-channel images."""
    why = channel_misfit(info, n_channels)
    if why:
        raise ValueError(f"This encoder does not fit these cells: it was {why}. Use an encoder trained on the "
                         "same channels (or a per-channel one), or choose matching data.")


def size_warning(info: Mapping[str, Any], side: int | None) -> str | None:
    """The sentence `ssrl embed` prints when crops are too far from the encoder's size, or None."""
    why = size_misfit(info, side)
    if not why:
        return None
    return (f"this encoder does not fit these cells well: it was {why}. The crops are resized to "
            f"{int(info['crop_size'])} px, so the embedding may describe another scale than the encoder learned.")
