"""`ssrl data ...` through ssrl_core.cli.main (and once through the installed console script)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ssrl_core.cli import main
from ssrl_core.data import registry
from ssrl_core.data.cellset import CellSet
from ssrl_core.data.npz import load_npz, save_npz


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no_shared"))
    registry.clear_cache()
    images = np.random.default_rng(0).integers(0, 4000, (6, 16, 16, 3), dtype=np.uint16)
    import pandas as pd

    meta = pd.DataFrame({"compound": ["DMSO"] * 4 + ["taxol"] * 2, "value": np.linspace(0, 1, 6)})
    save_npz(CellSet(images, ["DAPI", "Actin", "Tubulin"], meta), tmp_path / "data" / "toy.npz")
    return tmp_path / "data"


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    return json.loads(out)


def test_list_and_info_json(data_dir, capsys):
    assert main(["data", "list", "--json"]) == 0
    sets = {d["name"]: d for d in _json(capsys)["datasets"]}
    assert sets["toy"]["cells"] == 6 and sets["toy"]["channel_names"] == ["DAPI", "Actin", "Tubulin"]
    assert "mnist-5k" in sets
    assert main(["data", "info", "toy", "--json"]) == 0
    info = _json(capsys)
    assert info["cells"] == 6 and info["dtype"] == "uint16"
    assert info["value_counts"]["compound"] == {"DMSO": 4, "taxol": 2}
    assert "value" not in info["value_counts"]  # a float measurement is not categorical
    assert main(["data", "info", str(data_dir / "toy.npz")]) == 0
    assert "compound: DMSO 4, taxol 2" in capsys.readouterr().out


def test_errors_go_to_stderr_with_non_zero_status(data_dir, capsys):
    assert main(["data", "info", "nothing-here", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no dataset named 'nothing-here'" in captured.err


def test_nuclei_command_by_channel_name(data_dir, tmp_path, capsys):
    yy, xx = np.mgrid[:100, :100]
    dna = sum(3000 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 50.0) for y, x in ((30, 30), (70, 65), (40, 75)))
    field = np.stack([np.full((100, 100), 500.0), dna + 100], axis=-1).astype(np.uint16)
    tifffile.imwrite(tmp_path / "field.tif", field)
    out = tmp_path / "crops.npz"
    assert main(["data", "nuclei", str(tmp_path / "field.tif"), "--channels", "actin,hoechst",
                 "--channel", "Hoechst", "--crop", "40", "--out", str(out), "--json"]) == 0
    res = _json(capsys)
    assert res["cells"] == 3 and res["nuclear_channel"] == "hoechst"
    cells = load_npz(out)
    assert cells.shape == (40, 40, 2) and cells.channels == ["actin", "hoechst"]
    assert main(["data", "nuclei", str(tmp_path / "field.tif"), "--channel", "DAPI", "--out", str(out)]) == 2
    assert "no channel named 'DAPI'" in capsys.readouterr().err


def test_download_offline_says_no_network(data_dir, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["data", "download", "bbbc021", "--compounds", "taxol", "--base-url", f"http://127.0.0.1:{port}/"])
    err = capsys.readouterr().err
    assert code == 2 and "no network" in err and "Traceback" not in err


def test_console_script_list_json(data_dir):
    exe = Path(sys.executable).with_name("ssrl")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ssrl_core.cli"]
    run = subprocess.run(cmd + ["data", "list", "--json"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SSRL_DATA": str(data_dir)})
    assert run.returncode == 0, run.stderr
    names = [d["name"] for d in json.loads(run.stdout)["datasets"]]
    assert "toy" in names and "mnist-5k" in names
