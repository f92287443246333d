"""Shared test fixtures: real data locations, isolated run/upload folders, the app's tiny data set
(`tiny_env`) and a live `streamlit run` server for the browser tests (`serve_app`)."""

from __future__ import annotations

import os
from pathlib import Path

# `make test` runs 3 workers on 2 cores, and many tests start training or embedding processes: one torch
# thread each (set before torch is imported; inherited by every process a test starts). More threads per
# process only spin against each other there: the whole suite took 15:07 CPU-minutes and 8:14 wall with
# torch's choice (2 threads), 13:24 and 7:22 with one. A test that needs several threads sets them itself.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from ssrl_core import paths

import app_support

SHARED = paths.shared_data_dir()
requires_shared = pytest.mark.skipif(
    SHARED is None, reason="../shared/data is absent (it is present in development and CI)")


# The files that take ten seconds or more of a worker, longest first, measured on a cold embedding
# cache (a fresh clone: `-p cpuprof` wall per file, 3 workers on 2 cores; issue 26 item 7). `make test`
# runs with `--dist loadfile --no-loadscope-reorder`, so xdist hands out whole files in this order,
# then the short ones in collection order: the long ones start first and the short ones fill the
# end, so the workers finish together (longest-first scheduling). xdist's default order is by number
# of tests; an earlier, shorter list left test_base_encoder.py (43 s on a cold cache) to start when
# the other workers were nearly done, and the run ended on one worker for 30 s.
LONG_FILES_FIRST = ("test_same_numbers.py", "test_browser_1024.py", "test_browser_layout.py", "test_base_encoder.py",
                    "test_hardening2_disk.py", "test_browser_app.py", "test_store_ddp.py", "test_app_invariance.py",
                    "test_gpu_check_script.py", "test_bad_inputs_runs.py", "test_embed_procs.py",
                    "test_class_bias_app.py", "test_reproduce.py", "test_app_waits.py", "test_jobs.py",
                    "test_store_process.py", "test_augment_attribution.py", "test_app_selection.py", "test_app.py",
                    "test_augment_invariance.py", "test_app_train.py", "test_cifar10_sweeps.py",
                    "test_app_explore.py", "test_evaluate_sweep_jobs.py", "test_backbones.py",
                    "test_profiles_export.py", "test_app_restore_and_presets.py", "test_architecture.py",
                    "test_pretrained.py", "test_app_train_follow.py", "test_train_cli.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long files first, the rest in collection order (a stable sort: each file keeps its order)."""
    rank = {name: i for i, name in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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
    app_support.write_tiny(data)
    monkeypatch.setenv("SSRL_DATA", str(data))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("SSRL_APP_WARM", "0")
    _navigation_mode(monkeypatch)
    _forget_loaded_data()
    return data


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user's machine: only the shipped sample (no data folder, no shared data), an empty
    cache, no background warm-up; returns tmp_path."""
    monkeypatch.setenv("SSRL_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("SSRL_SHARED_DATA", str(tmp_path / "no-shared"))
    monkeypatch.setenv("SSRL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SSRL_APP_WARM", "0")
    _navigation_mode(monkeypatch)
    _forget_loaded_data()
    return tmp_path


def _forget_loaded_data() -> None:
    """Clear the app's and the registry's caches of datasets (another data folder is in use)."""
    from ssrl_app.shell import loaders
    from ssrl_core.data import registry

    for cached in (loaders.dataset_list, loaders.cells, loaders.ranges):
        cached.clear()
    registry.clear_cache()


def _navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run pages through app.py as a live server does once `st.navigation` has been called.

    AppTest re-detects the `pages/` folder before every run, which would make each run of a
    page go through `ssrl_app.shell.entry.through_app()`'s extra rerun (and lose a button click). A
    live server leaves that mode for good at its first run; this does the same for each test run.
    """
    from ssrl_app.shell import entry

    manager = entry._pages_manager()
    assert manager is not None, "Streamlit changed its pages internals: see tests/test_streamlit_internals.py"
    original = manager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        entry.end_pages_directory_mode()

    monkeypatch.setattr(manager, "__init__", init)


@pytest.fixture(scope="session", autouse=True)
def _one_component_scan():
    """Scan the installed packages for Streamlit components once per test process, not once per AppTest.

    Each new AppTest reads the metadata of every installed package (`scan_component_manifests`,
    0.13 CPU-s; about 100 AppTests in the suite) and finds the same answer. A Streamlit internal, like
    `_navigation_mode`: `tests/app/test_streamlit_internals.py` fails loudly if an upgrade moves it."""
    from streamlit.components.v2 import manifest_scanner

    found = manifest_scanner.scan_component_manifests()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests", lambda *args, **kwargs: list(found))
        yield


@pytest.fixture(scope="session")
def serve_app():
    """Start the app for a browser test: `with serve_app(base, SSRL_CACHE=...) as server:`."""
    return app_support.serve_app
