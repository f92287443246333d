"""`ssrl embed` applies the app's fit check (`ssrl_core.models.fit`), in the same words, with a
real shipped checkpoint (`mnist_set1`: one channel, 28 px crops)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ssrl_core.cli import main
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.npz import save_npz
from ssrl_core.models.fit import misfit

from app_support import ROOT

MNIST = ROOT / "pretrained" / "mnist_set1.pt"
FACTS = {"in_channels": 1, "crop_size": 28, "channels": ["grey"], "per_channel": False}


def _cells(folder, n: int, side: int, channels: int):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, side, side, channels), dtype=np.uint8)
    meta = pd.DataFrame({"label": [str(i % 2) for i in range(n)]})
    cells = CellSet(images, [f"c{i}" for i in range(channels)], meta, "fit")
    return save_npz(cells, folder / f"fit{side}x{channels}.npz")


def test_a_channel_misfit_is_refused_in_the_apps_words(tmp_path, capsys) -> None:
    from ssrl_core.models.encoder_file import checkpoint_info, load_checkpoint

    info = checkpoint_info(load_checkpoint(MNIST))
    assert {k: info[k] for k in FACTS if k != "channels"} == {k: v for k, v in FACTS.items() if k != "channels"}
    data = _cells(tmp_path, 8, 28, 3)
    code = main(["embed", "--checkpoint", str(MNIST), "--data", str(data), "--out", str(tmp_path / "e.parquet")])
    why = misfit(info, 3, 28)  # what the app's sidebar and pages show for this encoder on these cells
    assert code == 2 and why and why.startswith("trained on 1-channel images")
    assert why in capsys.readouterr().err
    assert not (tmp_path / "e.parquet").exists()


def test_crops_far_from_the_encoders_size_are_embedded_with_a_warning(tmp_path, capsys) -> None:
    data = _cells(tmp_path, 8, 64, 1)
    out = tmp_path / "e.parquet"
    code = main(["embed", "--checkpoint", str(MNIST), "--data", str(data), "--out", str(out), "--json",
                 "--device", "cpu"])
    captured = capsys.readouterr()
    why = misfit(FACTS, 1, 64)
    assert code == 0 and why == "trained on 28 px crops; these cells are 64 px (more than 2x apart)"
    assert f"warning: this encoder does not fit these cells well: it was {why}" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["warning"].endswith("than the encoder learned.")
    assert len(pd.read_parquet(out)) == 8
