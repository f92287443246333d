"""Train page (AppTest): launch a tiny real training job and follow it to the end; bad checkpoints."""

from __future__ import annotations

import io
import time

import pytest

from app_support import app_on, problems


def _submit_tiny_run(at) -> None:
    import torch

    from ssrl_core.train.defaults import CPU, GPU

    # A CPU-only machine defaults to the measured small backbone, so a demo run finishes in minutes.
    assert at.selectbox(key="w.train.backbone").value == (GPU if torch.cuda.is_available() else CPU)["backbone"]
    at.selectbox(key="w.train.backbone").select("tiny_cnn")
    at.selectbox(key="w.train.device").select("cpu")
    at.number_input(key="w.train.epochs").set_value(1)
    at.number_input(key="w.train.batch").set_value(16)
    at.number_input(key="w.train.crop").set_value(16)
    at.number_input(key="w.train.subset").set_value(32)
    next(b for b in at.button if b.label == "Start training").click().run()


def test_train_page_launches_a_tiny_job_and_sees_it_finish(tiny_env):
    at = app_on("pages/train.py")
    assert not problems(at), problems(at)
    _submit_tiny_run(at)
    assert not at.error, [e.value for e in at.error]
    run = at.session_state["ssrl.active_run"]
    assert run
    deadline = time.time() + 240
    texts: list[str] = []
    while time.time() < deadline:
        time.sleep(2)
        at.run()
        texts = [m.value for m in at.markdown]
        if any("finished" in t or "failed" in t for t in texts):
            break
    assert any("finished" in t for t in texts), (texts, [e.value for e in at.error],
                                                 open(f"{run}/train.log").read()[-2000:])
    assert at.get("progress")[0].value == 100
    use = next(b for b in at.button if b.label == "Use this checkpoint")
    use.click().run()
    assert at.session_state["ssrl.checkpoint"].endswith("checkpoint.pt")
    assert "finished" in list(at.dataframe[0].value["state"])
    assert at.selectbox(key="train.pick").value == run  # the runs list points at the real folder
    time.sleep(3.5)  # the sidebar's job list is cached for 3 s
    at.run()
    assert any("Running jobs: none" in c.value for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]
    assert not at.warning


@pytest.mark.parametrize("payload", [b"this is not a checkpoint", "crafted"])
def test_bad_checkpoint_upload_gets_a_plain_message(tiny_env, payload):
    import torch
    if payload == "crafted":  # a real torch file that is not one of our checkpoints
        buf = io.BytesIO()
        torch.save({"model": {"w": torch.zeros(2)}, "backbone": "resnet18"}, buf)
        payload = buf.getvalue()
    at = app_on("pages/train.py")
    at.file_uploader(key="train.upload").set_value(("model.pt", payload, "application/octet-stream")).run()
    next(b for b in at.button if b.label == "Check and use it").click().run()
    assert not problems(at), problems(at)
    errors = [e.value for e in at.error]
    assert any("cannot be used as a checkpoint" in e for e in errors), errors
    assert not any("Error" in e for e in errors), errors  # no exception class name ("(IndexError)")
    assert "ssrl.checkpoint" not in at.session_state or not at.session_state["ssrl.checkpoint"]


def test_stop_button_ends_a_running_job_cleanly(tiny_env):
    at = app_on("pages/train.py")
    at.selectbox(key="w.train.backbone").select("tiny_cnn")
    at.selectbox(key="w.train.device").select("cpu")
    at.number_input(key="w.train.epochs").set_value(200)
    at.number_input(key="w.train.batch").set_value(8)
    at.number_input(key="w.train.crop").set_value(16)
    next(b for b in at.button if b.label == "Start training").click().run()
    run = at.session_state["ssrl.active_run"]
    deadline = time.time() + 120
    while time.time() < deadline and not any(b.label == "Stop this run" for b in at.button):
        time.sleep(1)
        at.run()
    stop = next(b for b in at.button if b.label == "Stop this run")
    while time.time() < deadline and "running" not in " ".join(m.value for m in at.markdown):
        time.sleep(1)
        at.run()
    stop = next(b for b in at.button if b.label == "Stop this run")
    stop.click().run()
    while time.time() < deadline:
        time.sleep(1)
        at.run()
        states = " ".join(m.value for m in at.markdown)
        if "stopped" in states or "finished" in states or "failed" in states:
            break
    assert "stopped" in " ".join(m.value for m in at.markdown), open(f"{run}/train.log").read()[-1500:]
    assert any(b.label == "Use this checkpoint" for b in at.button)  # the last checkpoint is kept
