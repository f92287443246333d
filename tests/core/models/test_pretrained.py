"""The shipped checkpoints: index.json, files, sha256, loading, and embedding real cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from paper import plan, shipping
from ssrl_core import paths
from ssrl_core.models import shipped
from ssrl_core.models.encoder_file import load_checkpoint, load_encoder
from ssrl_core.train.config import load_config

PRETRAINED = paths.PROJECT_ROOT / "pretrained"
REQUIRED = ("name", "file", "dataset", "description", "recipes", "method", "backbone", "crop_size", "epochs",
            "seed", "sha256", "metrics", "command")


@pytest.fixture(scope="module")
def index() -> dict:
    return shipping.read_index(PRETRAINED)


def test_index_lists_every_planned_checkpoint_with_its_fields(index) -> None:
    items = {c["name"]: c for c in index["checkpoints"]}
    assert index["format"] == shipped.INDEX_FORMAT
    assert set(items) == {e.name for e in plan.ENTRIES}
    for e in plan.ENTRIES:
        c = items[e.name]
        missing = [k for k in REQUIRED if k not in c]
        assert not missing, f"{e.name} lacks {missing}"
        assert c["file"] == e.file and c["dataset"] == e.dataset and c["recipes"] == list(e.recipes)
        assert c["command"] == f"ssrl train {e.config} --out {e.run_dir()}"
        cfg = yaml.safe_load((paths.PROJECT_ROOT / e.config).read_text())
        assert c["method"] == cfg["method"]["name"] and c["backbone"] == cfg["backbone"]  # the index says
        assert c["half"] is True and bool(c.get("per_channel")) == bool(cfg.get("per_channel"))  # what trained it
        assert len(c["sha256"]) == 64
    mnist = [items[e.name] for e in plan.entries("mnist")]
    assert all(c["backbone"] == "vgg11" and c["crop_size"] == 28 for c in mnist)  # as in the paper's Table 2


def test_files_match_sha256_load_and_stay_small(index) -> None:
    assert shipping.verify(PRETRAINED) == []
    total = sum((PRETRAINED / c["file"]).stat().st_size for c in index["checkpoints"])
    assert total <= 150e6
    ckpt = load_checkpoint(PRETRAINED / index["checkpoints"][0]["file"])
    assert all(v.dtype == torch.float16 for v in ckpt["model"].values() if torch.is_floating_point(v))


def test_verify_reports_a_damaged_file(index, tmp_path) -> None:
    import shutil

    first = index["checkpoints"][0]
    shutil.copy(PRETRAINED / shipping.INDEX, tmp_path / shipping.INDEX)
    data = (PRETRAINED / first["file"]).read_bytes()
    (tmp_path / first["file"]).write_bytes(data[:-10] + b"0123456789")
    problems = shipping.verify(tmp_path)
    assert any(first["name"] in p and "sha256" in p for p in problems)
    assert any("missing" in p for p in problems)  # the other files were not copied


def test_configs_validate_and_hold_out_the_documented_cells() -> None:
    for e in plan.ENTRIES:
        cfg = load_config(paths.PROJECT_ROOT / e.config)
        assert cfg.name == e.name and cfg.data.name == e.dataset
        assert [r.preset or r.parsed.name for r in cfg.recipes] == list(e.recipes)  # preset or inline
        if e.group == "mitocheck":
            assert sorted(cfg.data.exclude["plate"]) == sorted(plan.MITOCHECK_HELDOUT_PLATES)
        if e.group == "bbbc021":
            assert tuple(cfg.data.filter["site"]) == plan.BBBC021_TRAIN_SITES
            assert cfg.data.filter["plate"] == [plan.TRAIN_PLATE]
        if e.group == "demo":  # trained on the DMSO plate; scored on the other plate, held out whole
            assert cfg.data.filter["plate"] == [plan.OTHER_PLATE]
            meta = pd.DataFrame({"plate": [plan.OTHER_PLATE, plan.TRAIN_PLATE]})
            assert plan.heldout_mask(meta, "demo").tolist() == [False, True]
            assert shipped.heldout_mask(meta, "demo").tolist() == [False, True]  # the card's rule, the same
    raw = yaml.safe_load((paths.PROJECT_ROOT / "configs/pretrained/mitocheck_a_plus_b.yaml").read_text())
    assert [r["weight"] for r in raw["recipes"]] == [0.5, 0.5]


def test_app_lists_the_shipped_checkpoints(index) -> None:
    from ssrl_app.shell.checkpoints import check, shipped

    listed = shipped()
    assert {s["name"] for s in listed} == {c["name"] for c in index["checkpoints"]}
    info = check(next(s["path"] for s in listed if s["name"] == "bbbc021_set_b"))
    cfg = yaml.safe_load((paths.PROJECT_ROOT / plan.entry("bbbc021_set_b").config).read_text())
    assert info["in_channels"] == 3 and info["backbone"] == cfg["backbone"]


def _cells(group: str):
    from ssrl_core.data.registry import load_dataset

    cells = plan.heldout_cells(load_dataset(plan.entries(group)[0].dataset), group)
    return cells.subset(np.arange(0, len(cells), max(1, len(cells) // 12))[:12])


@pytest.mark.parametrize("group", ["mnist", "mitocheck", "bbbc021"])
def test_each_checkpoint_embeds_real_cells(group, request) -> None:
    if group != "mnist":
        request.getfixturevalue("shared_data")
    from ssrl_core.evaluate.embedding import embed

    cells = _cells(group)
    for e in plan.entries(group):
        encoder, info = load_encoder(PRETRAINED / e.file)
        assert all(p.dtype == torch.float32 for p in encoder.parameters())
        feats = embed(cells, str(PRETRAINED / e.file), use_cache=False, device="cpu")
        assert feats.shape == (len(cells), info["feat_dim"])
        assert np.isfinite(feats).all() and feats.std(axis=0).max() > 0


def test_export_indexes_a_finished_run_and_refuses_an_unfinished_one(tmp_path) -> None:
    from ssrl_core.train.loop import train

    e = plan.entry("mnist_set2")
    cfg = load_config(paths.PROJECT_ROOT / e.config, ["max_steps=2", "batch_size=16", "data.max_cells=64",
                                                     "epochs=1", "device=cpu"])
    run_dir = tmp_path / e.run_dir()
    assert train(cfg, run_dir)["state"] == "finished"
    logs: list[str] = []
    index = shipping.export([e, plan.entry("mnist_set1")], tmp_path / "pre", log=logs.append, root=tmp_path)
    [item] = index["checkpoints"]
    assert item["name"] == e.name and item["steps"] == 2 and item["cells_trained"] == 64
    assert item["sha256"] == shipping.sha256(tmp_path / "pre" / e.file)
    assert any("mnist_set1" in line and "no trained run" in line for line in logs)
    assert shipping.verify(tmp_path / "pre") == []
    before = (tmp_path / "pre" / e.file).read_bytes()
    again = shipping.export([e], tmp_path / "pre", log=logs.append, root=tmp_path)["checkpoints"][0]
    assert (tmp_path / "pre" / e.file).read_bytes() == before and again["sha256"] == item["sha256"]  # same weights: file kept
    shipping.set_metrics(tmp_path / "pre", {e.name: {"ami": 0.123456}})
    assert shipping.read_index(tmp_path / "pre")["checkpoints"][0]["metrics"] == {"ami": 0.1235}
    assert shipping.retrain([e], (0,), log=logs.append, root=tmp_path) == [run_dir]  # finished: not retrained
    assert "already trained" in logs[-1]
    (run_dir / "status.json").write_text('{"state": "running"}')
    logs.clear()
    shipping.export([e], tmp_path / "pre2", log=logs.append, root=tmp_path)
    assert any("has not finished" in line for line in logs)
    with pytest.raises(ValueError, match="unfinished run"):
        shipping.retrain([e], (0,), log=logs.append, root=tmp_path)


def test_shipped_checkpoints_ignores_missing_files_and_bad_index(tmp_path) -> None:
    from ssrl_core.models.shipped import shipped_checkpoints

    (tmp_path / "index.json").write_text(
        '{"format": "ssrl-pretrained-index", "version": 1, "checkpoints": ['
        '{"name": "here", "file": "here.pt"}, {"name": "gone", "file": "gone.pt"}]}')
    (tmp_path / "here.pt").write_bytes(b"x")
    listed = shipped_checkpoints(tmp_path)
    assert [c["name"] for c in listed] == ["here"]
    assert listed[0]["path"] == str(tmp_path / "here.pt")
    (tmp_path / "index.json").write_text("{not json")
    assert shipped_checkpoints(tmp_path) == []
