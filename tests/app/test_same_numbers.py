"""Same cells, same number, everywhere: the demo, Explore, the command line, the per-compound check
and the shipped cards (written by `ssrl-paper reproduce`, quoted in the README) all go through the one
evaluation protocol and must agree for one encoder and one cell selection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssrl_core.cli import main

from app_support import problems

HELD_OUT = {"split": ["held-out"]}


def _card(name: str) -> dict:
    from ssrl_core.models.shipped import shipped_checkpoints

    return next(c for c in shipped_checkpoints() if c["name"] == name)


def test_mitocheck_sample_same_number_in_explore_cli_and_card(offline_env, capsys):
    from streamlit.testing.v1 import AppTest

    from ssrl_core.models.shipped import shipped_path

    from app_support import APP

    card = _card("mitocheck_set_a")

    emb = offline_env / "emb.parquet"
    assert main(["embed", "--checkpoint", str(shipped_path("mitocheck_set_a")), "--data", "mitocheck_demo",
                 "--where", "split=held-out", "--out", str(emb), "--json"]) == 0
    capsys.readouterr()
    assert main(["cluster", str(emb), "--by", "label", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)

    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["ssrl.dataset"] = "mitocheck_demo"
    at.session_state["ssrl.filters"] = {"mitocheck_demo": HELD_OUT}
    at.run()
    at.switch_page("pages/explore.py").run()
    at.selectbox(key="w.explore.encoder").select("shipped: mitocheck_set_a")
    at.radio(key="w.explore.proj").set_value("pca")
    next(b for b in at.button if b.label == "Embed").click().run()
    assert not problems(at), problems(at)
    t = at.dataframe[0].value  # one measure a row (issue 25: it fits 1024 px)
    explore = float(dict(zip(t["measure"], t["value"]))["agreement (AMI)"])

    print(f"cli {cli['ami']:.4f}, explore {explore:.4f}, card {card['metrics']['ami']:.4f}")
    assert cli["n"] == 1001 and cli["k"] == 16
    assert explore == pytest.approx(cli["ami"], abs=5e-4)  # the page shows 3 decimals
    # the card (and README) scored the same 1,001 cells of the full MitoCheck set with the same scaling
    assert card["metrics"]["ami"] == pytest.approx(cli["ami"], abs=0.005)


def test_bbbc021_same_number_in_check_compound_explore_cli_and_reproduce(shared_data, tmp_path, monkeypatch, capsys):
    from paper import tables
    from paper.plan import heldout_cells
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate import check_compound, embed
    from ssrl_core.evaluate.protocol import evaluate_cells
    from ssrl_core.models.shipped import shipped_path

    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    cells = heldout_cells(load_dataset("bbbc021_week4_dmso_cycloheximide"), "bbbc021")
    feats = embed(cells, str(shipped_path("bbbc021_set_a")))
    core = evaluate_cells(feats, cells.meta, "compound")["cluster"]["ami"]
    compound = check_compound(feats, cells.meta, "cyclohexamide")["compound_ami"]
    reproduce = tables.compound_metrics(feats, cells.meta)["compound_ami"]
    emb = tmp_path / "emb.parquet"
    assert main(["embed", "--checkpoint", str(shipped_path("bbbc021_set_a")), "--data",
                 "bbbc021_week4_dmso_cycloheximide", "--heldout", "bbbc021", "--out", str(emb), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cells"] == len(cells)
    assert main(["check-compound", str(emb), "--compound", "cyclohexamide", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["compound_ami"]
    card = _card("bbbc021_set_a")["metrics"]["compound_ami"]
    print(f"core {core:.4f}, check-compound {compound:.4f}, reproduce {reproduce:.4f}, cli {cli:.4f}, card {card:.4f}")
    assert core == compound == reproduce
    assert cli == pytest.approx(core, abs=1e-9)
    assert card == pytest.approx(core, abs=0.005)
    assert np.isfinite(core)


def test_home_demo_numbers_are_the_protocol_s_on_this_machine(shared_data, tmp_path, monkeypatch, capsys):
    """The Home demo draws shipped measurements (pretrained/demo_contrast.json): they are what the
    protocol gives here for the shipped seed-0 encoders, and what `ssrl embed --heldout demo` +
    `ssrl cluster` print."""
    from ssrl_core.cli.demo_cmd import seed_checkpoints
    from ssrl_core.evaluate import recipe_contrast as rc

    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    shipped = rc.load()
    assert shipped is not None, "pretrained/demo_contrast.json is missing or was made with other checkpoints"
    live = rc.build(seed_checkpoints(rc.CASE, with_extra=False), preview_cells=64, maps=False)
    for label in rc.CASE.labels:
        here, there = live["seeds"][label][0], shipped["seeds"][label][0]
        assert here["ami"] == pytest.approx(there["ami"], abs=1e-6), label
        # the 10-NN regression moves ~1e-4 with float differences of the embedding (thread counts); the page shows 2 decimals
        assert here["factor_r2"] == pytest.approx(there["factor_r2"], abs=1e-3), label
    assert live["cells"] == shipped["cells"]
    name = rc.CASE.checkpoints[0]
    emb = tmp_path / "emb.parquet"
    assert main(["embed", "--checkpoint", str(seed_checkpoints(rc.CASE, False)[rc.CASE.labels[0]][0]), "--data",
                 rc.CASE.dataset, "--heldout", "demo", "--out", str(emb), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cells"] == shipped["cells"]
    assert main(["cluster", str(emb), "--by", "compound", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    print(f"{name}: shipped {shipped['seeds'][rc.CASE.labels[0]][0]['ami']:.4f}, cli {cli['ami']:.4f}")
    assert cli["ami"] == pytest.approx(shipped["seeds"][rc.CASE.labels[0]][0]["ami"], abs=1e-6)
