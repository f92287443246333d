"""Shared test fixtures: real data locations and isolated run/upload folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssrl_core import paths

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

