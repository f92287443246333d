"""Shared test fixtures: real data locations, isolated run/upload folders, the app's tiny data set
(`tiny_env`) and a live `streamlit run` server for the browser tests (`serve_app`)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from app_support import write_tiny
from ssrl_core import paths

ROOT = Path(__file__).resolve().parent.parent

SHARED = paths.shared_data_dir()
requires_shared = pytest.mark.skipif(
    SHARED is None, reason="../shared/data is absent (it is present in development and CI)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`, or skip the test with a reason when it is absent."""
    if SHARED is None:
        pytest.skip("../shared/data is absent (it is present in development and CI)")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs and uploads made by a test never land in the user's folders."""
    base = tmp_path_factory.mktemp("ssrl_out")
    monkeypatch.setenv("SSRL_RUNS", str(base / "runs"))
    monkeypatch.setenv("SSRL_UPLOADS", str(base / "uploads"))


@pytest.fixture
def one_torch_thread():
    """Run a test's small forward passes on one torch thread (no oversubscription on 2 cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SSRL_DATA with the tiny set, no shared data, no background warm-up; returns the data dir."""
    data = tmp_path / "data"
    write_tiny(data)
    monkeypatch.setenv("SSRL_DATA", str(data))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("SSRL_APP_WARM", "0")
    _navigation_mode(monkeypatch)
    from ssrl_app import loaders
    from ssrl_core.data import registry

    for cached in (loaders.dataset_list, loaders.cells, loaders.ranges):
        cached.clear()
    registry.clear_cache()
    return data


def _navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run pages through app.py as a live server does once `st.navigation` has been called.

    AppTest re-detects the `pages/` folder before every run, which would make each run of a
    page go through `ssrl_app.entry.through_app()`'s extra rerun (and lose a button click). A
    live server leaves that mode for good at its first run; this does the same for each test run.
    """
    from streamlit.runtime.pages_manager import PagesManager
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> float:
    """Seconds until `/_stcore/health` answers ok (fails if the server dies)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return time.time() - t0
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("the app did not start in time")


@contextlib.contextmanager
def _serve(base: Path, **env: str) -> Iterator[dict]:
    """`streamlit run app.py` on 127.0.0.1:FREE_PORT with data, runs and uploads under `base`
    (`env` adds or overrides variables); yields {url, t0, log}; stopped at the end."""
    env = dict(os.environ, SSRL_DATA=str(base / "data"), SSRL_SHARED_DATA=str(base / "none"),
               SSRL_RUNS=str(base / "runs"), SSRL_UPLOADS=str(base / "uploads"), SSRL_APP_WARM="0", **env)
    port = _free_port()
    log = open(base / "streamlit.log", "wb")
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield {"url": url, "t0": t0, "log": base / "streamlit.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def serve_app():
    """Start the app for a browser test: `with serve_app(base, SSRL_CACHE=...) as server:`."""
    return _serve
