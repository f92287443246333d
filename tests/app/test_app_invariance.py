"""Augment page (AppTest, issue 22): what each recipe teaches, which step does it, the advisor.

Real Streamlit on the tiny real-pixel set of `app_support` (64 MNIST digits, two channels): the
preview chart and its words for one and for two recipes, the responsible steps and the smallest
change applied to the recipe in one click, and the advisor's ranking, "use it" and the fine-tune of
`cells_base` it starts through the Train page's job launcher (a real background job, stopped here).
"""

from __future__ import annotations

import os
from pathlib import Path

from app_support import app_on, problems

A = "ssrl.recipe_a"


def _words(at) -> list[str]:
    return [m.value for m in at.markdown if "teaches the encoder" in m.value or "scrambles none" in m.value]


def test_preview_chart_and_words_for_one_and_two_recipes(tiny_env):
    at = app_on("pages/augment.py")
    assert not problems(at), problems(at)
    words = _words(at)
    assert len(words) == 1 and words[0].startswith("**Recipe A: microscopy-set-b** ")
    assert "orientation" in words[0]  # set B turns the cell by any angle
    charts = at.get("vega_lite_chart")
    assert charts, "no chart drawn"
    at.toggle(key="w.aug.compare").set_value(True).run()
    assert not problems(at), problems(at)
    words = _words(at)
    assert [w.split("**")[1] for w in words] == ["Recipe A: microscopy-set-b", "Recipe B: microscopy-set-a"]


def test_which_step_then_apply_the_smallest_change(tiny_env):
    at = app_on("pages/augment.py")
    next(b for b in at.button if b.key == f"w.aug.{A}.steps").click().run()
    assert not problems(at), problems(at)
    assert any(m.value.startswith("Scrambled by:") for m in at.markdown)
    keep = at.selectbox(key=f"w.aug.{A}.keep")
    assert "brightness of DNA" in keep.options  # in words
    keep.set_value("brightness:DNA").run()  # the jitter's factor
    assert not problems(at), problems(at)
    info = [i.value for i in at.info]
    assert any("scrambled by" in i and "Brightness/contrast jitter" in i and "keeps it" in i for i in info), info
    sentence = next(i for i in info if "keeps it" in i)
    before = at.session_state[A]
    next(b for b in at.button if b.key == f"w.aug.{A}.apply").click().run()
    assert not problems(at), problems(at)
    after = at.session_state[A]
    assert after.name == "microscopy-set-b (changed)"
    from ssrl_core.augment import CATALOG
    changed = {CATALOG[b.name].title for b, a in zip(before.steps, after.steps) if a != b}
    assert "Brightness/contrast jitter" in changed
    named = sentence.split(". ", 1)[1]  # "<step>: <change>; <step>: ... keeps it"
    assert all(f"{title}:" in named for title in changed)  # only the steps the sentence names changed


def test_advisor_groups_ranking_use_and_fine_tune(tiny_env):
    from ssrl_core.train import jobs

    at = app_on("pages/augment.py")
    at.selectbox(key="w.aug.groups").select("compound").run()
    assert not problems(at), problems(at)
    frames = [d.value for d in at.dataframe]
    assert any("Cohen's d" in f.columns for f in frames)
    at.multiselect(key="w.aug.keep").select("brightness:DNA").run()
    at.multiselect(key="w.aug.ignore").select("orientation").run()
    next(b for b in at.button if b.key == "w.aug.rank").click().run()
    assert not problems(at), problems(at)
    ranking = next(d.value for d in at.dataframe if "all wishes met" in d.value.columns)
    labels = list(ranking["recipe"])
    assert "preset: microscopy-set-a" in labels and "Recipe A: microscopy-set-b" in labels
    assert not any(label.startswith("preset: mnist") for label in labels)  # cells: no MNIST recipes offered
    assert list(ranking["match (1 = perfect)"]) == sorted(ranking["match (1 = perfect)"], reverse=True) or \
        ranking["all wishes met"].iloc[0] == "yes"
    at.selectbox(key="w.aug.pick").select("preset: microscopy-set-a").run()
    next(b for b in at.button if b.key == "w.aug.use").click().run()
    assert at.session_state[A].name == "microscopy-set-a"
    at.number_input(key="w.aug.minutes").set_value(0.5).run()
    next(b for b in at.button if b.key == "w.aug.train").click().run()
    assert not problems(at), problems(at)
    assert not at.error, [e.value for e in at.error]
    run = Path(at.session_state["ssrl.active_run"])
    try:
        assert run.parent == Path(os.environ["SSRL_RUNS"]) and (run / "config.yaml").is_file()
        from ssrl_core.io import read_yaml
        cfg = read_yaml(run / "config.yaml")
        assert cfg["init"] == "cells_base" and cfg["per_channel"] is True
        assert cfg["recipes"][0]["recipe"]["name"] == "microscopy-set-a" and cfg["max_minutes"] == 0.5
        assert any("follow it on the Train page" in s.value for s in at.success)
    finally:
        jobs.stop(run, wait=True)
