"""Training you can follow (issue 25 item 4), AppTest on the Train page with real tiny runs.

From the first step: the progress bar names the step, the epoch and the time left, the loss chart
shows its first point with a readable axis; the run in focus is the one the box shows and the runs
table marks; a stop after a few steps says "Stopped after step k of N"; two runs started with the
same name get different names.
"""

from __future__ import annotations

import json
import re
import time

from ssrl_app.train import run_view

from app_support import app_on, problems


def _start(at, epochs: int) -> str:
    at.selectbox(key="w.train.backbone").select("tiny_cnn")
    at.selectbox(key="w.train.device").select("cpu")
    at.number_input(key="w.train.epochs").set_value(epochs)
    at.number_input(key="w.train.batch").set_value(8)
    at.number_input(key="w.train.crop").set_value(16)
    at.number_input(key="w.train.minutes").set_value(0.0)
    at.text_input(key="w.train.name").input("demo run")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    return at.session_state["ssrl.active_run"]


def test_progress_from_the_first_step_one_run_in_focus_and_unique_names(tiny_env):
    at = app_on("pages/train.py")
    assert not problems(at), problems(at)
    first = _start(at, epochs=200)
    deadline = time.time() + 150
    bar = ""
    while time.time() < deadline:
        time.sleep(1)
        at.run()
        bar = at.get("progress")[0].proto.text if at.get("progress") else ""
        if "left" in bar:
            break
    # a quiet machine runs a tiny epoch (8 steps) between two polls: the first seen may be epoch 2 or later
    assert "step " in bar and " of " in bar and re.search(r"epoch \d+ of 200", bar) and "left" in bar, bar
    spec = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart")
                if "loss" in json.dumps(json.loads(c.proto.spec).get("encoding", {})))
    assert spec["mark"].get("point")  # a single logged step is a visible point
    assert spec["encoding"]["y"]["axis"]["format"] == ".3~g"  # never "6.000000"
    assert spec["encoding"]["y"]["scale"]["zero"] is False
    assert at.selectbox(key="train.pick").value == first  # the box shows the run in focus
    table = at.dataframe[0].value
    assert list(table.loc[table["in focus"] == "yes", "name"]) == ["demo run"]
    next(b for b in at.button if b.label == "Stop this run").click().run()
    info = ""
    while time.time() < deadline:
        time.sleep(1)
        at.run()
        info = " ".join(i.value for i in at.info)
        if "Stopped" in info:
            break
    assert "Stopped after step " in info and re.search(r"\(epoch \d+ of 200\)", info), info
    second = _start(at, epochs=1)  # the same name typed again
    assert second != first
    names = {r["path"]: r.get("name") for r in run_view.jobs.list_runs()}
    assert names[first] == "demo run" and names[second] == "demo run-2"
    assert at.selectbox(key="train.pick").value == second  # a new run takes the focus


def test_words_before_the_first_step_and_for_a_stop():
    assert run_view.progress_words({"state": "running", "step": 0}, "running").startswith("preparing")
    text = run_view.progress_words({"step": 3, "total_steps": 250, "epoch": 1, "epochs": 2, "eta_seconds": 75},
                                   "running")
    assert text == "step 3 of 250 · epoch 1 of 2 · about 1 min 15 s left"
    assert run_view.stopped_words({"step": 1, "total_steps": 250, "epoch": 1, "epochs": 2,
                                   "has_checkpoint": True}) == ("Stopped after step 1 of 250 (epoch 1 of 2); "
                                                                "the last checkpoint is usable.")
    runs = [{"name": "a"}, {"name": "a-2"}]
    assert run_view.unique_name("a", runs) == "a-3" and run_view.unique_name("b", runs) == "b"
    assert run_view.unique_name("a-2", runs, exact=True) == "a-3"


def test_the_focus_box_lines_do_not_change_with_the_state_and_name_twins_apart():
    """Streamlit sends back the line the browser shows; a line that changed with the run's state
    (running -> stopped) came back as text and the page followed that text (CI, 2026-12-07)."""
    running = {"path": "/runs/20261201-a", "name": "demo", "state": "running"}
    lines = run_view.run_labels([running])
    assert lines == run_view.run_labels([{**running, "state": "stopped"}]) == {"/runs/20261201-a": "demo"}
    twins = run_view.run_labels([running, {"path": "/runs/20261202-b", "name": "demo", "state": "finished"}])
    assert twins == {"/runs/20261201-a": "demo (20261201-a)", "/runs/20261202-b": "demo (20261202-b)"}


def test_a_followed_run_whose_folder_is_gone_gets_a_sentence_not_a_traceback(tiny_env):
    import shutil

    from ssrl_core import paths

    run = paths.runs_dir() / "20261201-000000-gone"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("name: gone\n")
    (run / "status.json").write_text(json.dumps({"state": "stopped", "name": "gone", "step": 3}))
    at = app_on("pages/train.py")
    at.session_state["ssrl.active_run"] = str(run)
    at.run()
    assert at.selectbox(key="train.pick").value == str(run)
    shutil.rmtree(run)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no longer in the runs folder" in c.value for c in at.caption), [c.value for c in at.caption]
    assert "ssrl.active_run" not in at.session_state
