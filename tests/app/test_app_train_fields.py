"""The Train page is built from the declared run fields (issue 26 item 1), AppTest on real runs.

It starts the same short run as `ssrl train` without a config file, its number boxes have the
declared ranges, each method's own settings appear (with their declared defaults) and a changed
setting reaches the started run's config.yaml.
"""

from __future__ import annotations

import yaml

from ssrl_core.cli import build_parser
from ssrl_core.cli.train_cmds import _config_and_dir
from ssrl_core.methods import default_params, method_params
from ssrl_core.train import jobs
from ssrl_core.train.fields import FIELDS

from app_support import app_on, problems

BOXES = {"w.train.epochs": "epochs", "w.train.batch": "batch_size", "w.train.crop": "crop_size", "w.train.lr": "lr",
         "w.train.seed": "seed", "w.train.freeze": "freeze"}


def _cli_short_run():
    """The run `ssrl train` starts without a config file (built, not trained)."""
    cfg, _, _ = _config_and_dir(build_parser().parse_args(["train"]))
    return cfg


def test_the_page_starts_the_clis_short_run_with_the_declared_ranges(tiny_env):
    at = app_on("pages/train.py")
    assert not problems(at), problems(at)
    cli = _cli_short_run()
    assert at.selectbox(key="w.train.method").value == cli.method.name
    assert at.selectbox(key="w.train.backbone").value == cli.backbone
    assert at.selectbox(key="w.train.device").value == cli.device
    assert at.number_input(key="w.train.minutes").value == cli.max_minutes
    for key, path in BOXES.items():
        box = at.number_input(key=key)
        # the crop never exceeds the cells (24 px here)
        assert box.value == (min(cli.crop_size, 24) if path == "crop_size" else getattr(cli, path)), key
        assert (box.min, box.max) == (FIELDS[path].low, FIELDS[path].high), key  # one declaration of the range
    name = cli.method.name
    shown = {p: (at.checkbox if spec.kind == "bool" else at.number_input)(key=f"w.train.mp.{name}.{p}").value
             for p, spec in method_params(name).items()}
    assert shown == {**default_params(name), **cli.method.params}  # the method's own settings, as the CLI's
    assert any(e.label.startswith("Method settings") for e in at.expander)


def test_another_methods_settings_appear_and_a_changed_one_reaches_the_run(tiny_env):
    at = app_on("pages/train.py")
    at.selectbox(key="w.train.method").select("byol").run()
    for pname, spec in method_params("byol").items():
        box = at.number_input(key=f"w.train.mp.byol.{pname}")
        assert (box.value, box.min, box.max) == (spec.default, spec.low, spec.high), pname
    at.number_input(key="w.train.mp.byol.out_dim").set_value(32)
    at.selectbox(key="w.train.backbone").select("tiny_cnn")
    at.selectbox(key="w.train.device").select("cpu")
    at.number_input(key="w.train.epochs").set_value(1)
    at.number_input(key="w.train.batch").set_value(8)
    at.number_input(key="w.train.crop").set_value(16)
    at.number_input(key="w.train.subset").set_value(16)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    run = at.session_state["ssrl.active_run"]
    written = yaml.safe_load(open(f"{run}/config.yaml"))
    assert written["method"] == {"name": "byol", "params": {"out_dim": 32}}  # only what differs from the defaults
    cli = _cli_short_run().to_dict()
    assert {k: written[k] for k in ("optimizer", "weight_decay", "warmup_epochs", "log_every", "max_minutes")} == \
        {k: cli[k] for k in ("optimizer", "weight_decay", "warmup_epochs", "log_every", "max_minutes")}
    assert jobs.wait(run, timeout=180)["state"] == "finished", open(f"{run}/train.log").read()[-1500:]



def test_a_submitted_method_setting_survives_a_visit_to_another_page(tiny_env):
    """The form's values count once submitted (Start training); after that a visit to another page
    keeps each method's own settings (`state.KEEP_PREFIXES`) as it keeps the run fields (`state.KEEP`)."""
    at = app_on("pages/train.py")
    name = at.selectbox(key="w.train.method").value
    pname, spec = next((p, s) for p, s in method_params(name).items() if s.kind == "int")
    at.session_state[f"w.train.mp.{name}.{pname}"] = spec.default + 1  # as a submitted form leaves it
    at.session_state["w.train.minutes"] = 7.0
    at.run()
    at.switch_page("pages/augment.py").run()
    assert not problems(at), problems(at)
    at.switch_page("pages/train.py").run()
    assert at.number_input(key=f"w.train.mp.{name}.{pname}").value == spec.default + 1
    assert at.number_input(key="w.train.minutes").value == 7.0
