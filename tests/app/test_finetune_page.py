"""Train page (AppTest): "Start from" one of my runs fine-tunes it, with frozen stages, and records the parent."""

from __future__ import annotations

import os
import time
from pathlib import Path

from app_support import TINY, app_on, problems


def test_start_from_my_run_fine_tunes_it_and_the_checkpoint_names_its_parent(tiny_env):
    from ssrl_core.models.encoder_file import load_checkpoint
    from ssrl_core.train import load_config, train

    parent = Path(os.environ["SSRL_RUNS"]) / "parent-run"
    train(load_config(None, [f"data.name={tiny_env / (TINY + '.npz')}", "backbone=tiny_cnn", "crop_size=16",
                             "batch_size=16", "max_steps=2", "cpu_threads=1", "recipes=[microscopy-set-b]",
                             "method.name=simclr"]), parent)
    at = app_on("pages/train.py")
    assert not problems(at), problems(at)
    options = at.selectbox(key="w.train.start").options
    assert "Random weights (train from scratch)" in options and "My run: parent-run" in options
    at.selectbox(key="w.train.start").select("My run: parent-run").run()
    assert at.text_input[0].value.startswith("tiny_cnn")  # the backbone follows the parent, not a free choice
    at.selectbox(key="w.train.device").select("cpu")
    at.number_input(key="w.train.epochs").set_value(1)
    at.number_input(key="w.train.batch").set_value(16)
    at.number_input(key="w.train.freeze").set_value(1)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    run = Path(at.session_state["ssrl.active_run"])
    deadline = time.time() + 180
    while time.time() < deadline and not (run / "status.json").is_file() or \
            '"finished"' not in (run / "status.json").read_text():
        assert time.time() < deadline, (run / "train.log").read_text()[-2000:] if (run / "train.log").is_file() else ""
        time.sleep(1)
    child = load_checkpoint(run / "checkpoint.pt")
    assert child["parent"]["file"] == str(parent / "checkpoint.pt") and child["freeze"] == 1
    assert child["config"]["crop_size"] == 16  # the parent's crop size
