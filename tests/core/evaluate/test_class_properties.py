"""Class properties (paper Table 1) and their ANOVA across trend groups, on known shapes and on
real MitoCheck phenotypes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssrl_core.evaluate import class_properties as cp


def test_two_nn_finds_the_dimension_of_a_flat_sheet_in_many_dimensions():
    rng = np.random.default_rng(0)
    plane = rng.uniform(size=(800, 2)) @ rng.normal(size=(2, 20))  # a 2-D sheet in 20 dimensions
    cube = rng.uniform(size=(800, 6))
    assert abs(cp.two_nn_dimension(plane) - 2.0) < 0.4
    assert abs(cp.two_nn_dimension(cube) - 6.0) < 1.5
    assert np.isnan(cp.two_nn_dimension(np.zeros((10, 3))))  # all points identical


def test_effective_rank_counts_the_used_directions():
    rng = np.random.default_rng(1)
    iso = rng.normal(size=(4000, 8))
    line = rng.normal(size=(500, 1)) @ rng.normal(size=(1, 8))
    assert abs(cp.effective_rank(iso) - 8.0) < 0.3
    assert cp.effective_rank(line) < 1.05


def test_texture_and_fourier_tell_a_checkerboard_from_a_smooth_ramp():
    checker = (np.indices((32, 32)).sum(axis=0) % 2).astype(float)
    ramp = np.tile(0.5 + 0.5 * np.cos(2 * np.pi * 2 * np.arange(32) / 32), (32, 1))  # smooth, 2 cycles
    flat = np.full((32, 32), 0.5)
    c_contrast, c_homog = cp.glcm_texture(checker)
    r_contrast, r_homog = cp.glcm_texture(ramp)
    f_contrast, f_homog = cp.glcm_texture(flat)
    assert c_contrast > 20 * r_contrast and c_homog < f_homog
    assert f_contrast == 0.0 and f_homog == 1.0
    assert cp.high_frequency_share(checker) > 0.99
    assert cp.high_frequency_share(ramp) < 1e-6
    assert np.isnan(cp.high_frequency_share(flat))


def test_properties_of_real_mitocheck_phenotypes(one_torch_thread):
    from ssrl_core.data.registry import load_dataset

    cells = load_dataset("mitocheck_demo")
    table = cp.measure(cells, "random-tiny_cnn", column="label", max_per_class=30)
    assert len(table) == cells.meta["label"].nunique() == 16
    assert (table["n"] == 30).all()  # every demo phenotype has more than 30 nuclei
    assert table[list(cp.PROPERTIES)].notna().all().all()
    assert (table["glcm_homogeneity"].between(0, 1)).all() and (table["high_freq_energy"].between(0, 1)).all()
    # phenotypes differ in texture: out-of-focus nuclei are smoother than prometaphase chromosomes
    by = table.set_index("class")
    assert by.loc["OutOfFocus", "high_freq_energy"] < by.loc["Prometaphase", "high_freq_energy"]


def test_anova_separates_groups_and_says_when_a_group_is_too_small():
    classes = [f"c{i}" for i in range(9)]
    trends = ["ascending"] * 3 + ["descending"] * 3 + ["flat"] * 3
    props = pd.DataFrame({"class": classes, "n": 50, **{p: np.arange(9.0) for p in cp.PROPERTIES}})
    props["glcm_contrast"] = [10.0, 10.2, 9.9, 1.0, 1.1, 0.9, 5.0, 5.1, 4.9]  # follows the groups
    props["high_freq_energy"] = [0.1, 0.5, 0.9, 0.1, 0.5, 0.9, 0.1, 0.5, 0.9]  # does not
    slopes = pd.DataFrame({"class": classes, "trend": trends})
    res = cp.property_anova(props, slopes).set_index("property")
    assert res.loc["glcm_contrast", "F"] > 100 and res.loc["glcm_contrast", "p"] < 1e-4
    assert res.loc["high_freq_energy", "p"] > 0.9
    assert res.loc["glcm_contrast", "n_ascending"] == 3 and res.loc["glcm_contrast", "groups"] == "ascending+descending+flat"

    lonely = pd.DataFrame({"class": classes, "trend": ["ascending"] + ["flat"] * 8})
    res = cp.property_anova(props, lonely).set_index("property")
    assert res["F"].isna().all() and res.loc["glcm_contrast", "note"].startswith("too few classes")
    two = pd.DataFrame({"class": classes, "trend": ["ascending"] + ["descending"] * 4 + ["flat"] * 4})
    res = cp.property_anova(props, two).set_index("property")
    assert np.isfinite(res.loc["glcm_contrast", "F"]) and "ascending 1" in res.loc["glcm_contrast", "note"]


def test_cli_measures_any_labelled_set_and_runs_the_anova_against_a_sweep(tmp_path, capsys, one_torch_thread):
    import json

    from ssrl_core.cli import main
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.sweeps.runner import write_statistics

    classes = sorted(load_dataset("mitocheck_demo").meta["label"].unique())
    rng = np.random.default_rng(0)
    # a sweep's results where the first five phenotypes get better with the value and the next five worse
    rows = [{"value": v, "seed": s, "class": c, "accuracy": 0.5 + (0.1 * v if i < 5 else -0.1 * v if i < 10 else 0.0)
             + rng.normal(0, 0.005), "n_test": 10, "top1": 0.5, "run": f"v{v}_s{s}"}
            for v in range(5) for s in range(3) for i, c in enumerate(classes)]
    write_statistics(pd.DataFrame(rows), tmp_path / "sweep")
    out = tmp_path / "props.csv"
    code = main(["class-properties", "mitocheck_demo", "--encoder", "hand-features", "--per-class", "8",
                 "--where", "split=train", "--sweep", str(tmp_path / "sweep"), "--out", str(out), "--json"])
    assert code == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["properties"]) == 16 and pd.read_csv(out)["class"].tolist() == classes
    anova = res["anova"][str(tmp_path / "sweep")]
    assert [a["property"] for a in anova] == list(cp.PROPERTIES)
    assert all(a["n_ascending"] == 5 and a["n_descending"] == 5 and a["n_flat"] == 6 for a in anova)
    assert all(np.isfinite(a["F"]) for a in anova)
