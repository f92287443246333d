"""Presets apply at once, and an opened or refreshed session is consistent (issue 25 items 5-6).

AppTest on the real pages: choosing a preset applies it (no second click); after a session is
opened, the preset box names the recipe actually in use; a checkpoint that does not fit the chosen
cells is flagged in the sidebar; the Explore result of a session comes back after a refresh
(re-read from the embeddings cache).
"""

from __future__ import annotations

import json

from ssrl_core.augment import PRESETS, get_preset

from app_support import APP, TINY, app_on, problems


def _refreshed(sid: str, page: str):
    """A new browser session opened at `?s=<sid>` (a refresh), switched to `page`."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["s"] = sid
    at.session_state["ssrl.dataset"] = TINY
    at.run()
    at.switch_page(page).run()
    return at


def test_choosing_a_preset_applies_it_and_an_opened_session_shows_its_recipe(tiny_env):
    at = app_on("pages/augment.py")
    at.selectbox(key="w.aug.ssrl.recipe_a.preset").select("mnist-set2").run()  # one interaction, no button
    assert not problems(at), problems(at)
    assert at.session_state["ssrl.recipe_a"].name == "mnist-set2"
    assert at.selectbox(key="w.aug.ssrl.recipe_a.preset").value == "mnist-set2"
    captions = [c.value for c in at.caption]
    assert PRESETS["mnist-set2"].description in captions, captions  # the preset's own words, from ssrl_core


def test_an_opened_session_shows_the_recipe_in_use_in_the_preset_box(tiny_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    sid = "0123456789ab"
    snap = {"format": "ssrl-session", "version": 1, "dataset": TINY,
            "recipe_a": get_preset("microscopy-set-a").to_dict()}
    (tmp_path / "cache" / "sessions").mkdir(parents=True)
    (tmp_path / "cache" / "sessions" / f"{sid}.json").write_text(json.dumps(snap))
    at = _refreshed(sid, "pages/augment.py")
    assert not problems(at), problems(at)
    assert at.session_state["ssrl.recipe_a"].name == "microscopy-set-a"
    assert at.selectbox(key="w.aug.ssrl.recipe_a.preset").value == "microscopy-set-a"  # not set B's box


def test_a_checkpoint_that_does_not_fit_is_flagged_in_the_sidebar(tiny_env):
    from ssrl_app.shell.checkpoints import shipped
    at = app_on()
    at.session_state["ssrl.checkpoint"] = next(i["path"] for i in shipped() if i["name"] == "bbbc021_set_a")
    at.run()
    text = " ".join(w.value for w in at.sidebar.warning)
    assert "does not fit" in text and "3-channel" in text, text


def test_the_explore_result_comes_back_after_a_refresh(tiny_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    at = app_on("pages/explore.py")
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    assert not problems(at), problems(at)
    refreshed = _refreshed(at.session_state["ssrl.session_id"], "pages/explore.py")
    assert not problems(refreshed), problems(refreshed)
    assert "Map of the cells" in [s.value for s in refreshed.subheader]  # no need to press Embed again


def test_long_dataset_names_are_cut_in_the_middle_for_the_sidebar_box():
    from ssrl_app.shell.sidebar import BOX_CHARS, box_label
    short = box_label("bbbc021_week4_dmso_cycloheximide")
    assert len(short) == BOX_CHARS and short.startswith("bbbc021_week") and short.endswith("cycloheximide")
    assert box_label("mitocheck_demo") == "mitocheck_demo"
