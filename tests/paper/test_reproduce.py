"""`ssrl-paper reproduce`: held-out splits, claim checks, tables, and a quick run on real cells."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from paper import plan, readme_blocks, report, tables
from paper.shipping import sha256
from ssrl_core import paths


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))


def test_mitocheck_heldout_plates_are_never_trained_on(shared_data) -> None:
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.train.config import load_config
    from ssrl_core.train.data import load_cells

    cells = load_dataset(plan.MITOCHECK)
    held = plan.heldout_cells(cells, "mitocheck")
    train = load_cells(load_config(paths.PROJECT_ROOT / "configs/pretrained/mitocheck_set_a.yaml").data)
    assert len(held) == 1001 and len(train) + len(held) == len(cells)
    assert not set(train.meta["name"]) & set(held.meta["name"])
    share = held.meta["label"].value_counts() / cells.meta["label"].value_counts()
    assert share.between(0.15, 0.5).all()  # every phenotype is represented in the held-out part


def test_bbbc021_heldout_sites_are_never_trained_on(shared_data) -> None:
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.train.config import load_config
    from ssrl_core.train.data import load_cells

    held = plan.heldout_cells(load_dataset(plan.BBBC021), "bbbc021")
    train = load_cells(load_config(paths.PROJECT_ROOT / "configs/pretrained/bbbc021_set_b.yaml").data)
    key = lambda m: set(zip(m["plate"], m["well"], m["site"], m["cell_index"]))  # noqa: E731
    assert not key(train.meta) & key(held.meta)
    m = held.meta
    assert set(m.loc[m["plate"] == plan.TRAIN_PLATE, "site"]) == {3, 4}
    assert set(m.loc[m["plate"] == plan.OTHER_PLATE, "compound"]) == {"DMSO"}
    assert (m["compound"] == plan.TREATMENT).sum() > 300


def test_choose_heldout_plates_keeps_every_class_near_the_fraction() -> None:
    rng = np.random.default_rng(1)
    meta = pd.DataFrame({"plate": [f"P{i % 40}" for i in range(2000)],
                         "label": rng.choice(["a", "b", "c"], 2000)})
    chosen = plan.choose_heldout_plates(meta, fraction=0.3, seed=0, tries=300)
    share = meta[meta["plate"].isin(chosen)]["label"].value_counts() / meta["label"].value_counts()
    assert share.between(0.2, 0.4).all()
    assert chosen == plan.choose_heldout_plates(meta, fraction=0.3, seed=0, tries=300)  # fixed seed


def test_mean_std_and_formatting() -> None:
    assert tables.fmt([0.5]) == "0.500"
    assert tables.fmt([0.4, 0.6]) == "0.500 ± 0.141"
    assert tables.fmt([]) == "n/a" and tables.fmt([float("nan")]) == "n/a"
    md = tables.markdown_table(pd.DataFrame({"a": ["x"], "b": [0.12345]}))
    assert md.splitlines() == ["| a | b |", "|---|---|", "| x | 0.123 |"]


def _result(a: float, b: float, ab: float, imagenet: float) -> dict:
    row = lambda label, kind, v: {"encoder": label, "kind": kind, "name": label, "seeds": [0],  # noqa: E731
                                  "values": {"compound_ami": [v]}}
    return {"groups": {"bbbc021": {"cells": 10, "rows": [row("set A", "ssl", a), row("set B", "ssl", b),
                                                          row("A+B", "ssl", ab),
                                                          row("ImageNet VGG16", "baseline", imagenet)]}},
            "notes": [], "options": {"quick": True}}


def test_claims_are_marked_held_or_not_from_the_numbers() -> None:
    def verdicts_of(result):
        return {c["claim"].split(": ")[-1]: c["verdict"] for c in report.claims(result) if "Table" in c["claim"]}

    verdicts = verdicts_of(_result(0.1, 0.3, 0.35, 0.2))
    assert verdicts == {"set B > set A (Table 3)": "held", "A+B >= B (Table 4)": "held",
                        "SSL beats ImageNet features (Table 4)": "held"}
    verdicts = verdicts_of(_result(0.3, 0.1, 0.05, 0.4))
    assert set(verdicts.values()) == {"**not held**"}


def test_quick_reproduce_writes_the_tables(tmp_path, shared_data) -> None:
    """The whole pipeline from the command line on real held-out cells, with one shipped checkpoint per
    group (the others are reported missing with the command that retrains them): 5 encoders instead of 8."""
    import contextlib
    import io

    from paper.cli import main

    shipped = paths.PROJECT_ROOT / "pretrained"
    keep = ("mnist_set1", "bbbc021_set_a")
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    cards = [c for c in json.loads((shipped / "index.json").read_text())["checkpoints"] if c["name"] in keep]
    for card in cards:
        (pretrained / card["file"]).symlink_to(shipped / card["file"])
    index = pretrained / "index.json"
    index.write_text(json.dumps({"format": "ssrl-pretrained-index", "version": 1, "checkpoints": cards}))
    before = sha256(index)
    docs = tmp_path / "docs"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["reproduce", "--quick", "--only", "mnist", "bbbc021", "--max-cells", "60",
                     "--pretrained", str(pretrained), "--runs", str(tmp_path / "runs"), "--docs", str(docs), "--json"])
    assert code == 0
    payload = json.loads(out.getvalue())
    text = (docs / "results.md").read_text(encoding="utf-8")
    for header in ("## Table 2: MNIST-5k, set 1 vs set 2", "| encoder | seeds | digit AMI (k=10) | silhouette | "
                   "probe (held-out cells) | LPIPS between views |", "## Tables 3-4: BBBC021 cycloheximide vs DMSO",
                   "treated vs DMSO AMI (k=2)", "AMI without normalisation", "probe (held-out wells)",
                   "plate AMI, DMSO", "## The evaluation protocol", "1. Features are standardised per plate",
                   "## The paper's claims, checked", "held out by site and well", "## Factor probe",
                   "**Quick mode**"):
        assert header in text, header
    assert "| set 1 | 1 |" in text and "| set A | 1 |" in text  # the shipped checkpoints were evaluated
    assert "| random init (vgg11) |" in text and "| hand features |" in text  # and their floors
    assert any("mnist_set2: no checkpoint found; retrain it with `ssrl train configs/pretrained/mnist_set2.yaml"
               in n for n in payload["notes"])
    assert (docs / "results_headline.md").read_text().startswith("| Data (held-out cells) |")
    assert payload["cells"]["bbbc021"] <= 70 and len(payload["claims"]) >= 4
    assert sha256(index) == before  # quick mode never rewrites the index


def _floor_result(a: float, rnd: float, probe_a: float, probe_rnd: float, spread: float = 0.0,
                  hand: tuple[float, float] = (0.1, 0.5)) -> dict:
    def row(label, kind, ami, probe, seeds=(0,)):
        return {"encoder": label, "kind": kind, "name": label, "seeds": list(seeds),
                "values": {"compound_ami": [ami] * len(seeds), "probe": [probe] * len(seeds),
                           "ami_spread": [spread] * len(seeds)}}
    return {"groups": {"bbbc021": {"cells": 10, "rows": [row("set A", "ssl", a, probe_a, (0, 1)),
                                                          row("random init (small_cnn)", "baseline", rnd, probe_rnd),
                                                          row("hand features", "baseline", *hand)]}},
            "notes": [], "options": {"quick": True}}


def test_versus_random_says_which_encoders_beat_their_own_random_weights() -> None:
    from paper import floors

    t = floors.versus_random(_floor_result(0.6, 0.3, 0.99, 0.97))
    assert list(t["beats random init"]) == ["yes"] and list(t["beats hand features"]) == ["yes"]
    assert t.iloc[0]["AMI vs random init"] == "0.600 vs 0.300" and t.iloc[0]["probe vs hand features"] == "0.990 vs 0.500"
    t = floors.versus_random(_floor_result(0.2, 0.3, 0.99, 0.97))
    assert list(t["beats random init"]) == ["on treated vs DMSO probe only"]
    assert floors.misses(t) and "bbbc021 set A" in floors.misses(t)[0]
    t = floors.versus_random(_floor_result(0.2, 0.3, 0.90, 0.97, hand=(0.5, 0.99)))
    assert list(t["beats random init"]) == ["**no**"] and list(t["beats hand features"]) == ["**no**"]
    t = floors.versus_random(_floor_result(0.305, 0.3, 0.99, 0.97))  # within the 0.01 margin: a tie, not a win
    assert list(t["beats random init"]) == ["on treated vs DMSO probe only"]
    t = floors.versus_random(_floor_result(0.34, 0.3, 0.99, 0.97, spread=0.05))  # inside the K-Means spread
    assert list(t["beats random init"]) == ["on treated vs DMSO probe only"]
    words = floors.card_words(t)[("bbbc021", "set A")]  # the card says where it loses, with the numbers
    assert words.startswith("beats random init: on treated vs DMSO probe only (AMI 0.340 vs 0.300") and "Why:" in words


def test_base_section_reads_the_card_and_its_bar() -> None:
    from paper import floors

    s = {"probe": 0.8, "knn": 0.7, "ami": 0.5}
    card = {"mitocheck": {"encoder": s, "random": {**s, "ami": 0.6}, "split": "held-out plates"}}
    index = {"checkpoints": [{"name": "cells_base", "metrics": card, "steps": 10, "train_seconds": 120,
                              "bar_problems": ["mitocheck: ami 0.500 <= random 0.600"]}]}
    text = "\n".join(floors.base_section(index))
    assert "## The base encoder `cells_base`" in text and "| mitocheck | held-out plates | cells_base |" in text
    assert "mitocheck: ami 0.500 <= random 0.600" in text
    assert floors.base_section({"checkpoints": []}) == []
    index["checkpoints"][0]["stages"] = [
        {"recipes": ["microscopy-set-a"], "steps": 4115, "train_seconds": 3300},
        {"recipes": ["cells-base-weak-jitter"], "steps": 400, "train_seconds": 420}]
    text = "\n".join(floors.base_section(index))
    assert ("stage 1: microscopy-set-a for 55 CPU-minutes (4115 steps); "
            "stage 2: cells-base-weak-jitter for 7 CPU-minutes (400 steps)") in text
    from paper.text import _ckpt_frame

    for st, cmd in zip(index["checkpoints"][0]["stages"], ("ssrl train a.yaml", "ssrl train b.yaml")):
        st["command"] = cmd
    row = _ckpt_frame(index).iloc[0]
    assert row["train time"] == "62.0 min" and row["retrain"] == "`ssrl train a.yaml` then `ssrl train b.yaml`"


def test_the_readme_block_is_replaced_between_its_markers(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n\n{report.README_START}\nold table\n{report.README_END}\n\n## Next\n", encoding="utf-8")
    assert readme_blocks.update_readme(readme, "new table\n")
    text = readme.read_text(encoding="utf-8")
    assert "old table" not in text and "new table" in text and text.endswith("## Next\n")
    assert readme_blocks.update_readme(readme, "newer\n") and "new table" not in readme.read_text()
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n")
    assert not readme_blocks.update_readme(plain, "x") and plain.read_text() == "no markers\n"


def test_the_shipped_readme_has_the_result_markers() -> None:
    text = (paths.PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(report.README_START) == 1 and text.count(report.README_END) == 1
