"""Fine-tuning and short runs: `init`, `freeze`, per-channel encoders, `max_minutes`, the warm-up cap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from ssrl_core.models.encoder_file import load_checkpoint, load_encoder
from ssrl_core.train import load_config, train
from ssrl_core.train.checkpoint import export_checkpoint
from ssrl_core.train.model import MAX_WARMUP_SHARE, lr_at, lr_at_share
from ssrl_core.train.start_from import encoder_stages, freeze_stages

from tiny_runs import TINY_FINETUNE as TINY
from tiny_runs import tiny_npz


def cfg(npz: Path, *extra: str):
    return load_config(None, [f"data.name={npz}", *TINY, *extra])


def test_warmup_is_capped_so_a_short_run_reaches_its_peak_and_decays() -> None:
    c = load_config(None, ["warmup_epochs=10", "lr=0.01", "epochs=10"])
    total, per_epoch = 20, 100  # max_steps 20, far shorter than the 1,000-step warm-up asked for
    lrs = [lr_at(c, s, total, per_epoch) for s in range(total)]
    peak = lrs.index(max(lrs))
    assert math.isclose(max(lrs), 0.01) and peak == int(total * MAX_WARMUP_SHARE) - 1
    assert lrs[-1] < 0.01 * 0.05 and all(b <= a for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lr_at_share(c, 0.0) > 0 and math.isclose(lr_at_share(c, MAX_WARMUP_SHARE), 0.01)
    assert lr_at_share(c, 1.0) < 1e-9


def test_time_budget_ends_the_run_as_finished(tmp_path: Path) -> None:
    npz = tiny_npz(tmp_path / "c.npz", n=48)
    out = train(cfg(npz, "epochs=100000", "max_minutes=0.03"), tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert out["state"] == "finished" and status["progress"] == 1.0 and 1 <= out["step"] < 100000 * 6
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert 1.5 <= ckpt["train_seconds"] <= 30


def test_fine_tune_starts_from_the_parent_records_it_and_freezes_stages(tmp_path: Path) -> None:
    npz = tiny_npz(tmp_path / "c.npz")
    train(cfg(npz, "max_steps=3"), tmp_path / "parent")
    parent = load_checkpoint(tmp_path / "parent" / "checkpoint.pt")
    out = train(cfg(npz, "max_steps=2", f"init={tmp_path / 'parent'}", "freeze=2", "seed=5"), tmp_path / "child")
    assert out["state"] == "finished"
    child = load_checkpoint(tmp_path / "child" / "checkpoint.pt")
    assert child["parent"]["file"] == str(tmp_path / "parent" / "checkpoint.pt")
    assert child["parent"]["backbone"] == "tiny_cnn" and len(child["parent"]["sha256"]) == 64
    enc_p = {k[len(parent["encoder_prefix"]):]: v for k, v in parent["model"].items() if k.startswith(parent["encoder_prefix"])}
    enc_c = {k[len(child["encoder_prefix"]):]: v for k, v in child["model"].items() if k.startswith(child["encoder_prefix"])}
    # the two frozen stages (first two conv blocks) are exactly the parent's, weights and BN statistics
    for key in ("features.0.weight", "features.1.running_mean", "features.3.weight", "features.4.running_var"):
        assert torch.equal(enc_p[key], enc_c[key]), key
    assert not torch.equal(enc_p["features.9.weight"], enc_c["features.9.weight"])  # a later stage trained
    assert export_checkpoint(tmp_path / "child" / "checkpoint.pt", tmp_path / "small.pt")
    assert load_checkpoint(tmp_path / "small.pt")["parent"]["backbone"] == "tiny_cnn"


def test_fine_tune_refuses_a_parent_of_another_architecture_before_training(tmp_path: Path) -> None:
    npz = tiny_npz(tmp_path / "c.npz")
    train(cfg(npz, "max_steps=1"), tmp_path / "parent")
    with pytest.raises(ValueError, match="it is a tiny_cnn and this run asks for backbone small_cnn"):
        train(cfg(npz, "max_steps=1", "backbone=small_cnn", f"init={tmp_path / 'parent'}"), tmp_path / "child")
    with pytest.raises(FileNotFoundError, match="neither a shipped encoder"):
        train(cfg(npz, "max_steps=1", "init=no_such_encoder"), tmp_path / "child2")


def test_per_channel_run_embeds_other_channel_counts(tmp_path: Path) -> None:
    two = tiny_npz(tmp_path / "two.npz", channels=2)
    train(cfg(two, "max_steps=2", "per_channel=true"), tmp_path / "run")
    enc3, info3 = load_encoder(tmp_path / "run" / "checkpoint.pt", in_channels=3)
    enc1, info1 = load_encoder(tmp_path / "run" / "checkpoint.pt", in_channels=1)
    assert info3["feat_dim"] == 3 * info1["feat_dim"] == 3 * 64
    with torch.no_grad():
        assert enc3(torch.rand(2, 3, 28, 28)).shape == (2, 192)
    # and a 1-channel fine-tune can start from the 2-channel per-channel run
    one = tiny_npz(tmp_path / "one.npz", channels=1)
    out = train(cfg(one, "max_steps=1", "per_channel=true", f"init={tmp_path / 'run'}"), tmp_path / "child")
    assert out["state"] == "finished"


def test_stages_of_each_backbone_family() -> None:
    from ssrl_core.models import build_backbone

    for name, n in (("resnet18_s2", 5), ("small_cnn", 4), ("tiny_cnn", 3), ("vgg11", 5)):
        net, _ = build_backbone(name, 1, 64)
        assert len(encoder_stages(net)) == n, name
    net, _ = build_backbone("resnet18_half", 1, 64)
    frozen = freeze_stages(net, 3)
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in net.layer3.parameters())
    with pytest.raises(ValueError, match="more than the 5 stages"):
        freeze_stages(net, 6)


def test_config_checks_for_the_new_fields() -> None:
    from ssrl_core.train.config import ConfigError

    with pytest.raises(ConfigError) as err:
        load_config(None, ["freeze=-1", "max_minutes=0", "init=x", "pretrained=true"])
    text = str(err.value)
    assert "'freeze'" in text and "'max_minutes'" in text and "keep one of them" in text
