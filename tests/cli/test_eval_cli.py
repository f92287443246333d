"""`ssrl embed | cluster | probe | project | check-compound | factors | compare` end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ssrl_core.cli import main
from ssrl_core.data.cellset import CellSet
from ssrl_core.evaluate.bias_words import bias_verdict


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def toy_npz(tmp_path):
    """60 two-channel 24 px crops: bright large 'treated' nuclei vs dim small 'DMSO' ones;
    every fourth crop has a second nucleus in a corner."""
    from ssrl_core.data.npz import save_npz

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:24, :24]
    imgs, comp, plate = [], [], []
    for i in range(60):
        treated = i % 3 == 0
        r = 7 if treated else 4
        disk = ((yy - 11.5) ** 2 + (xx - 11.5) ** 2 < r * r).astype(np.float32)
        if i % 4 == 0:  # a neighbour nucleus in the corner of some crops
            disk += ((yy - 2) ** 2 + (xx - 2) ** 2 < 6).astype(np.float32)
        nuc = disk * (3000 if treated else 1500) + rng.normal(200, 30, (24, 24))
        other = rng.normal(500, 50, (24, 24))
        imgs.append(np.stack([nuc, other], -1).clip(0, 65535).astype(np.uint16))
        comp.append("drugX" if treated else "DMSO")
        plate.append(f"P{i % 2}")
    meta = pd.DataFrame({"compound": comp, "plate": plate, "concentration": [1.0 if c == "drugX" else 0.0 for c in comp]})
    return save_npz(CellSet(np.stack(imgs), ["DNA", "other"], meta, "toy"), tmp_path / "toy.npz")


def run(capsys, *argv) -> dict:
    code = main(list(argv) + ["--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1, out
    return json.loads(out[0])


def test_embed_then_every_command(tmp_path, toy_npz, capsys) -> None:
    emb = tmp_path / "hand.parquet"
    r = run(capsys, "embed", "--encoder", "hand-features", "--data", str(toy_npz), "--out", str(emb))
    assert r["cells"] == 60 and not r["cached"]
    assert run(capsys, "embed", "--encoder", "hand-features", "--data", str(toy_npz), "--out", str(emb))["cached"]
    table = pd.read_parquet(emb)
    assert list(table["cell_index"]) == list(range(60)) and "emb_0" in table.columns

    c = run(capsys, "cluster", str(emb), "--k", "2", "--by", "compound", "--out", str(tmp_path / "cl.csv"))
    assert c["ami"] == pytest.approx(1.0) and c["k"] == 2 and len(c["ami_runs"]) == 10
    assert c["normalisation"] == "per plate to controls" and "ami_spread" in c and c["ami_chance95"] < 0.1
    assert "cluster" in pd.read_csv(tmp_path / "cl.csv").columns
    for bad in ("0", "-3"):  # a k below 2 is refused in plain words, never silently replaced
        with pytest.raises(SystemExit):
            main(["cluster", str(emb), "--k", bad, "--by", "compound"])
        assert "must be at least 2" in capsys.readouterr().err

    p = run(capsys, "probe", str(emb), "--by", "compound")
    assert p["balanced_accuracy"] == pytest.approx(1.0) and set(p["per_class"]) == {"DMSO", "drugX"}
    assert p["held_out_by"] == "plate" and p["chance95"] < 0.7

    cc = run(capsys, "check-compound", str(emb), "--compound", "drugX", "--control", "DMSO")
    assert cc["compound_ami"] > 0.9 and abs(cc["plate_ami"]) < 0.1 and cc["n_treated"] == 20
    assert cc["probe"]["balanced_accuracy"] > 0.9 and cc["normalisation"]["scope"] == "per plate"
    assert cc["compound_ami"] == pytest.approx(c["ami"])  # the same cells, the same number

    f = run(capsys, "factors", str(emb), "--out", str(tmp_path / "factors.csv"))
    names = {row["factor"] for row in f["factors"]}
    assert {"compound", "plate", "n_nuclei", "nucleus_area", "total_intensity_DNA"} <= names
    assert len(pd.read_csv(tmp_path / "factors.csv")) == len(f["factors"])
    assert f["verdict"] == bias_verdict(pd.DataFrame(f["factors"]))  # the Bias page's sentence
    assert " is encoded " in f["verdict"] and f["verdict"].endswith(".")

    xy = run(capsys, "project", str(emb), "--method", "pca", "--out", str(tmp_path / "xy.csv"))
    assert xy["cells"] == 60 and {"x", "y", "compound"} <= set(pd.read_csv(tmp_path / "xy.csv").columns)

    emb2 = tmp_path / "rand.parquet"
    run(capsys, "embed", "--encoder", "random-tiny_cnn", "--data", str(toy_npz), "--out", str(emb2))
    cmp_ = run(capsys, "compare", str(emb), str(emb2), "--by", "compound")
    assert cmp_["names"] == ["hand", "rand"] and len(cmp_["metrics"]) == 6 and len(cmp_["verdicts"]) == 2


def test_where_subset_keeps_dataset_positions(tmp_path, toy_npz, capsys) -> None:
    emb = tmp_path / "sub.csv"
    r = run(capsys, "embed", "--encoder", "hand-features", "--data", str(toy_npz), "--where", "plate=P1",
            "--out", str(emb))
    assert r["cells"] == 30
    assert list(pd.read_csv(emb)["cell_index"]) == list(range(1, 60, 2))
    r = run(capsys, "embed", "--encoder", "hand-features", "--data", str(toy_npz), "--where", "concentration=1",
            "--out", str(emb))  # a number matches 1.0
    assert r["cells"] == 20


def test_heldout_keeps_the_cells_its_card_was_scored_on(tmp_path, toy_npz, capsys, monkeypatch) -> None:
    """`--heldout GROUP` applies the `heldout_rule` of that group's shipped card (as the app does)."""
    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    (shipped / "toy.pt").write_bytes(b"")  # a card is listed only when its file exists
    card = {"name": "toy", "file": "toy.pt", "dataset": "toy", "description": "toy", "heldout_group": "demo",
            "heldout_rule": [{"plate": ["P1"]}]}
    (shipped / "index.json").write_text(json.dumps({"format": "ssrl-pretrained-index", "version": 1,
                                                    "checkpoints": [card]}))
    monkeypatch.setenv("SSRL_PRETRAINED", str(shipped))
    emb = tmp_path / "held.csv"
    r = run(capsys, "embed", "--encoder", "hand-features", "--data", str(toy_npz), "--heldout", "demo", "--out", str(emb))
    assert r["cells"] == 30 and list(pd.read_csv(emb)["cell_index"]) == list(range(1, 60, 2))
    assert main(["embed", "--encoder", "hand-features", "--data", str(toy_npz), "--heldout", "bbbc021",
                 "--out", str(emb)]) == 2
    assert "no shipped checkpoint carries the held-out rule of 'bbbc021'" in capsys.readouterr().err


def test_errors_are_plain(tmp_path, toy_npz, capsys) -> None:
    emb = tmp_path / "e.parquet"
    run(capsys, "embed", "--encoder", "hand-features", "--data", str(toy_npz), "--out", str(emb))
    assert main(["cluster", str(emb), "--by", "moa"]) == 2
    assert "no column 'moa'" in capsys.readouterr().err
    assert main(["embed", "--encoder", "random-nope", "--data", str(toy_npz), "--out", str(emb)]) == 2
    assert "unknown backbone" in capsys.readouterr().err
    assert main(["check-compound", str(emb), "--compound", "taxol"]) == 2
    assert "no cell has compound" in capsys.readouterr().err


def test_sweep_command(tmp_path, toy_npz, capsys) -> None:
    import yaml

    base = {"name": "toy", "data": str(toy_npz), "recipes": ["microscopy-set-a"], "method": "simclr",
            "backbone": "tiny_cnn", "crop_size": 24, "epochs": 1, "batch_size": 16, "max_steps": 1, "device": "cpu"}
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(yaml.safe_dump({"base": base, "parameter": "lr", "values": [0.001, 0.01], "seeds": [0],
                                   "probe_column": "compound", "test_fraction": 0.5}))
    r = run(capsys, "sweep", str(cfg), "--out", str(tmp_path / "sw"))
    assert r["points"] == 2 and r["sweep_dir"] == str(tmp_path / "sw")
    assert 0.0 <= r["opposite_ratio"] <= 1.0
    results = pd.read_csv(tmp_path / "sw" / "results.csv")
    assert set(results["class"]) == {"DMSO", "drugX"} and len(results) == 4
