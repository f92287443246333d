"""No waiting at a demo (issue 25 item 1), AppTest with real background jobs.

The Train page starts the speed check of the set-up on screen in the background when it opens
(`estimate.warm`), so *Estimate the time* in a later session answers at once from the cache; the
Home page's title is drawn before torch is imported.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ssrl_core.train import jobs

from app_support import APP, ROOT, TINY, problems

SMALL = {"w.train.backbone": "tiny_cnn", "w.train.device": "cpu", "w.train.batch": 8, "w.train.crop": 16}


def _train_page():
    """The Train page in a new session, with a tiny set-up in the form (a 4-step check of a few s)."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["ssrl.dataset"] = TINY
    for key, value in SMALL.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/train.py").run()
    return at


def test_the_train_page_measures_the_speed_in_the_background_and_estimate_reuses_it(tiny_env, monkeypatch):
    cache = Path(tiny_env).parent / "cache"
    monkeypatch.setenv("SSRL_CACHE", str(cache))
    monkeypatch.setenv("SSRL_APP_WARM", "1")
    at = _train_page()
    assert not problems(at), problems(at)
    checks = list((cache / "speed").glob("*"))
    assert len(checks) == 1  # started by opening the page, no click
    status = jobs.wait(checks[0], timeout=180)
    assert status.get("state") == "finished", status
    again = _train_page()  # another browser session
    assert not list((cache / "speed").glob("*"))[1:]  # the same set-up is not measured twice
    assert "Estimated time on this machine" in " ".join(i.value for i in again.info)  # shown without a click
    t = time.perf_counter()
    next(b for b in again.button if b.label == "Estimate the time").click().run()
    assert time.perf_counter() - t < 5
    assert "cell pairs per second" in " ".join(i.value for i in again.info)


def test_app_modules_for_the_first_paint_do_not_import_torch():
    code = ("import sys; from ssrl_app.shell import checkpoints, loaders, session, sidebar, state; "
            "from ssrl_app.home import demo; "
            "import ssrl_core.models.shipped; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_precompute_fills_the_embedding_cache_so_embed_is_instant(tmp_path, monkeypatch):
    """The background job embeds the demo's cells ahead of time; the page's embed then reads the cache."""
    import numpy as np

    from ssrl_app.shell import precompute
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate import embed

    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "empty"))  # only the samples shipped in the package
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "none"))
    jobs = precompute.jobs()
    assert [j[0] for j in jobs[:2]] == ["mitocheck_demo", "mitocheck_demo"] and jobs[0][2] == "held-out"
    proc = precompute.start(max_jobs=1)  # the held-out MitoCheck cells with set A (the app runs them all)
    assert proc is not None and proc.wait(timeout=600) == 0
    cells = load_dataset("mitocheck_demo")
    held = cells.subset(np.flatnonzero(cells.meta["split"].astype(str).to_numpy() == "held-out"))
    t = time.perf_counter()
    embed(held, jobs[0][1])
    assert time.perf_counter() - t < 2  # read from the cache the background job wrote
    assert list((tmp_path / "cache").rglob("*.npy"))
