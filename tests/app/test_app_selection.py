"""The shared cell selection, the shipped sample, fitting checkpoints, plain verdicts, the session
file and a stop shown as a normal end (AppTest and plain functions; no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app_support import ROOT, TINY, app_on, problems


def _filter_plate_p1(at):
    at.switch_page("pages/data.py").run()
    at.multiselect(key=f"w.data.f.{TINY}.plate").set_value(["P1"]).run()
    assert not problems(at), problems(at)
    return at


def _p1_positions() -> set[int]:
    from ssrl_app.shell import loaders
    meta = loaders.cells(TINY).meta
    return set(np.flatnonzero(meta["plate"].astype(str).to_numpy() == "P1").tolist())


def test_filter_on_data_is_shown_in_the_sidebar_and_used_by_explore(tiny_env):
    at = _filter_plate_p1(app_on())
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "32 of 64 cells" in side and "plate: P1" in side, side
    at.switch_page("pages/explore.py").run()
    at.selectbox(key="w.explore.encoder").select("baseline: hand-made features")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    assert not problems(at), problems(at)
    index = set(int(i) for i in at.session_state["ssrl.embed_result"]["index"])
    assert index == _p1_positions()  # only the selected cells were embedded
    # the sidebar's "Use all cells" clears the choice for every page
    next(b for b in at.sidebar.button if b.label == "Use all cells").click().run()
    assert "all 64 cells" in " ".join(c.value for c in at.sidebar.caption)


def test_filter_on_data_is_the_training_filter(tiny_env, monkeypatch):
    from ssrl_core.train import jobs
    launched = []

    def fake_launch(cfg, run_dir=None, **_):
        launched.append(cfg)
        folder = Path(tiny_env).parent / "runs" / "fake"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    monkeypatch.setattr(jobs, "launch", fake_launch)
    at = _filter_plate_p1(app_on())
    at.switch_page("pages/train.py").run()
    assert not problems(at), problems(at)
    assert any("32 of 64 cells" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert launched, [e.value for e in at.error]
    assert launched[0].data.filter == {"plate": ["P1"]}


def test_filter_on_data_changes_the_factor_probe_cells(tiny_env):
    at = _filter_plate_p1(app_on())
    at.switch_page("pages/bias.py").run()
    at.selectbox(key="w.bias.encoder").select("baseline: hand-made features")
    next(b for b in at.button if b.label == "Measure").click().run()
    assert not problems(at), problems(at)
    table = at.session_state["ssrl.bias_result"]["table"]
    assert int(table["n"].max()) == 32
    assert "plate" not in set(table["factor"])  # one plate left: nothing to predict


def test_sample_ships_in_the_package_with_every_phenotype_and_heldout_plates(tmp_path, monkeypatch):
    from ssrl_core.data import registry
    from ssrl_core.data.mitocheck_names import MITOCHECK_HELDOUT_PLATES
    from ssrl_core.data.samples import MITOCHECK_DEMO, samples_dir

    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no-shared"))
    registry.clear_cache()
    path = samples_dir() / f"{MITOCHECK_DEMO}.npz"
    assert path.stat().st_size < 5.5e6
    listed = {d["name"]: d for d in registry.list_datasets()}
    assert listed[MITOCHECK_DEMO]["kind"] == "sample"
    cells = registry.load_dataset(MITOCHECK_DEMO)
    meta = cells.meta
    assert meta["label"].nunique() == 16 and cells.channels == ["H2B-GFP"]
    held = meta["plate"].isin(MITOCHECK_HELDOUT_PLATES)
    assert (meta.loc[held, "split"] == "held-out").all() and (meta.loc[~held, "split"] == "train").all()
    assert meta.loc[held, "label"].nunique() == 16 and meta.loc[~held, "label"].nunique() == 16
    from ssrl_app.shell.loaders import default_dataset
    assert default_dataset(["mnist-5k", "demo_nuclei", MITOCHECK_DEMO]) == MITOCHECK_DEMO


def test_scored_cells_of_shipped_checkpoints():
    from ssrl_app.shell import selection
    item = {"name": "mitocheck_set_a", "dataset": "mitocheck_phenotype_crops"}
    assert selection.scored_cells(item, ["mitocheck_demo"]) == ("mitocheck_demo", {"split": ["held-out"]})
    assert selection.scored_cells(item, ["mitocheck_phenotype_crops", "mitocheck_demo"]) == (
        "mitocheck_phenotype_crops", {selection.HELDOUT: ["mitocheck"]})
    bbbc = {"name": "bbbc021_set_a", "dataset": "bbbc021_week4_dmso_cycloheximide"}
    assert selection.scored_cells(bbbc, ["mnist-5k"]) is None
    assert selection.scored_cells({"name": "not_shipped"}, ["mnist-5k"]) is None


def test_heldout_mask_matches_the_reproduction_split():
    from ssrl_app.shell import selection
    from ssrl_core.data.cellset import CellSet
    meta = pd.DataFrame({"plate": ["Week4_27801"] * 4 + ["Week4_27481"] * 2,
                         "site": [1, 2, 3, 4, 1, 1],
                         "compound": ["DMSO", "cyclohexamide", "cyclohexamide", "DMSO", "DMSO", "taxol"]})
    cells = CellSet(np.zeros((6, 16, 16, 1), np.uint8), ["x"], meta, "b")
    assert selection.mask_of(cells, {selection.HELDOUT: ["bbbc021"]}).tolist() == [False, False, True, True,
                                                                                    True, False]
    assert "shipped bbbc021" in selection.describe({selection.HELDOUT: ["bbbc021"]})


def test_checkpoint_fit_channels_crop_and_per_channel():
    from ssrl_app.shell.checkpoints import misfit
    assert "1-channel" in misfit({"in_channels": 1, "crop_size": 28, "channels": ["grey"]}, 3, 68)
    assert "px" in misfit({"in_channels": 3, "crop_size": 28}, 3, 68)
    assert misfit({"in_channels": 3, "crop_size": 64}, 3, 68) is None
    assert misfit({"in_channels": 1, "crop_size": 64, "per_channel": True}, 5, 64) is None  # cells_base


def test_plain_names_and_bias_verdict():
    from ssrl_app.shell import labels
    from ssrl_core.evaluate.verdicts import factor_level

    table = pd.DataFrame({"factor": ["label", "plate", "total_intensity_DAPI"], "kind": ["label", "batch", "nuisance"],
                          "probe_score": [0.4, 0.8, 0.97], "chance": [0.2, 0.5, 0.0], "chance95": [0.25, 0.55, None],
                          "probe_metric": ["balanced accuracy", "balanced accuracy", "r2"]})
    table["words"] = [factor_level(r.probe_score, r.chance, r.chance95, r.probe_metric) for r in table.itertuples()]
    text = labels.bias_verdict(table)
    assert text.startswith("Brightness of DAPI is encoded almost perfectly"), text
    assert "check for plate effects" in text
    random = table.assign(probe_score=[0.395, 0.5, 0.6])
    compared = labels.bias_verdict(table, random)
    assert "more than random weights of the same network (0.60)" in compared, compared
    assert "label (class) is encoded weakly, no more than random weights" in compared, compared  # 0.005: a tie
    shown = labels.table(table)
    assert "how well it is predicted" in shown.columns and "brightness of DAPI" in set(shown["factor"])


def test_time_estimate_words_and_budget():
    from ssrl_app.shell import estimate
    s = estimate.run_seconds(1000, 5, 100, rate=100.0)  # 5,000 pairs at 100/s
    assert abs(s - (50 + estimate.STARTUP_S)) < 1e-6
    assert estimate.run_seconds(10**6, 50, 100, rate=100.0, budget_min=3) == 180 + estimate.STARTUP_S
    assert estimate.words(40) == "about 40 s" and estimate.words(600) == "about 10 min"


def _fake_run(base: Path, state: str, epoch: int, epochs: int) -> Path:
    run = base / "runs" / f"20261201-{state}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("name: x\n")
    (run / "status.json").write_text(json.dumps({"state": state, "epoch": epoch, "epochs": epochs, "progress": 0.6,
                                                 "error": "stopped by the stop file", "name": "x"}))
    (run / "checkpoint.pt").write_bytes(b"")
    return run


def test_a_stopped_run_reads_as_a_normal_end(tiny_env, monkeypatch):
    monkeypatch.setenv("SSRL_RUNS", str(Path(tiny_env).parent / "runs"))
    run = _fake_run(Path(tiny_env).parent, "stopped", 3, 5)
    at = app_on()
    at.session_state["ssrl.active_run"] = str(run)
    at.switch_page("pages/train.py").run()
    assert not problems(at), problems(at)
    infos = [i.value for i in at.info]
    assert "Stopped in epoch 3 of 5; the last checkpoint is usable." in infos, infos
    assert not any("failed" in e.value for e in at.error), [e.value for e in at.error]


def test_refresh_restores_dataset_filters_and_recipe(tiny_env, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(Path(tiny_env).parent / "cache"))
    from ssrl_core.augment import get_preset
    at = _filter_plate_p1(app_on())
    at.session_state["ssrl.recipe_a"] = get_preset("simclr")
    at.run()
    sid = at.query_params["s"][0] if isinstance(at.query_params["s"], list) else at.query_params["s"]
    # a refresh: a new browser session with the same URL
    from streamlit.testing.v1 import AppTest

    from app_support import APP
    fresh = AppTest.from_file(APP, default_timeout=60)
    fresh.query_params["s"] = sid
    fresh.run()
    assert not problems(fresh), problems(fresh)
    assert fresh.session_state["ssrl.dataset"] == TINY
    assert fresh.session_state["ssrl.filters"][TINY] == {"plate": ["P1"]}
    assert fresh.session_state["ssrl.recipe_a"].name == "simclr"
    assert "32 of 64 cells" in " ".join(c.value for c in fresh.sidebar.caption)


def test_home_one_click_demo_offline_tells_the_recipe_story(tmp_path, monkeypatch):
    """Offline, with no BBBC021 crops here: the demo draws the shipped measurements of two recipes that
    differ in one step (the preview, then the trained encoders with their seed spread), and opens both
    recipes side by side on the Augment page."""
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SSRL_APP_WARM", "0")
    from streamlit.testing.v1 import AppTest

    from ssrl_app.shell import loaders

    from app_support import APP
    loaders.dataset_list.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert at.session_state["ssrl.dataset"] == "mitocheck_demo"  # the labelled sample is the default
    next(b for b in at.button if b.label == "Run the demo").click().run()
    assert not problems(at), problems(at)
    before = " ".join(s.value for s in at.info)
    assert "differ in one step" in before and "brightness of Tubulin" in before, before
    after = " ".join(s.value for s in [*at.success, *at.warning])
    assert "jitter 0.1" in after and "jitter 0.4" in after and "AMI" in after and "R^2" in after, after
    assert len(at.get("vega_lite_chart")) == 3  # the preview and the two maps
    assert not [b for b in at.button if b.label == "Recompute"]  # no BBBC021 crops here: nothing to recompute
    at.radio(key="home.demo.colour").set_value("the factor").run()
    assert not problems(at), problems(at)
    next(b for b in at.button if b.label == "Compare on Augment").click().run()
    assert not problems(at), problems(at)
    names = [at.session_state["ssrl.recipe_a"].name, at.session_state["ssrl.recipe_b"].name]
    assert names == ["set-a-jitter-04", "set-a-jitter-01"]
    assert at.session_state["w.aug.compare"] is True


FIELDS = ROOT.parent / "shared" / "data" / "fields" / "stardist_dsb2018"


@pytest.mark.skipif(not (FIELDS / "img2d.tif").is_file(), reason="../shared/data/fields is absent")
def test_a_folder_of_full_fields_offers_nucleus_crops_and_skips_masks(tiny_env, tmp_path):
    import shutil
    folder = tmp_path / "fields"
    folder.mkdir()
    for name in ("img2d.tif", "mask2d.tif"):
        shutil.copy(FIELDS / name, folder / name)
    at = app_on("pages/data.py")
    at.text_input(key="w.data.folder").input(str(folder))
    next(b for b in at.button if b.label == "Import this folder").click().run()
    at.run()
    assert not problems(at), problems(at)
    warning = " ".join(w.value for w in at.warning)
    assert "full fields" in warning and "1 label masks" in warning, warning
    next(b for b in at.button if b.label == "Find nuclei and crop").click().run()
    at.run()
    assert not problems(at), problems(at)
    assert at.session_state["ssrl.dataset"] == "fields_nuclei"
    assert int(at.metric[0].value.replace(",", "")) > 10  # many nuclei, one crop each
    assert (Path(tiny_env) / "fields_nuclei.npz").is_file()  # kept in the data folder


def test_estimate_the_time_measures_four_steps_then_says_how_long(tiny_env, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(Path(tiny_env).parent / "cache"))
    monkeypatch.setenv("SSRL_RUNS", str(Path(tiny_env).parent / "runs"))
    at = app_on("pages/train.py")
    at.selectbox(key="w.train.backbone").select("tiny_cnn")
    at.selectbox(key="w.train.device").select("cpu")
    at.number_input(key="w.train.batch").set_value(8)
    at.number_input(key="w.train.crop").set_value(16)
    next(b for b in at.button if b.label == "Estimate the time").click().run(timeout=180)
    assert not problems(at), problems(at)
    infos = " ".join(i.value for i in at.info)
    assert "Estimated time on this machine" in infos and "cell pairs per second" in infos, (
        infos, [e.value for e in at.error])
    assert not list((Path(tiny_env).parent / "runs").glob("*"))  # the speed check is not listed as a run
