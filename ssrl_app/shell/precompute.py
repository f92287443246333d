"""Embeddings a live demo needs, computed once in the background (`python -m ssrl_app.shell.precompute`).

A first *Embed* of a shipped sample costs 12-20 s of CPU (torch, the encoder, every cell); the
disk cache of `ssrl_core.evaluate.embed` makes every later one instant, for every session and
after a restart. This module fills that cache ahead of the audience: for each shipped sample
(`mitocheck_demo`, `demo_nuclei`, `mnist-5k`) present, all its cells with the first two shipped
encoders that fit them (Explore's default representation and the one *Compare* offers first), and
the held-out cells of `mitocheck_demo` with `mitocheck_set_a` and `_set_b` (what their cards were scored on). The app
starts it once per server, at a low priority and on one thread (`loaders.warm_up`;
`SSRL_APP_WARM=0` turns it off); encoders already cached cost a few milliseconds each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ssrl_app.shell.checkpoints import facts, misfit, shipped

SAMPLES = ("mitocheck_demo", "demo_nuclei", "mnist-5k")
DEMO = ("mitocheck_demo", "split", "held-out", ("mitocheck_set_a", "mitocheck_set_b"))


def jobs() -> list[tuple[str, str, str | None]]:
    """(dataset, encoder path, held-out column value or None for all cells), in the order to embed."""
    from ssrl_core.data.registry import list_datasets

    info = {d["name"]: d for d in list_datasets()}
    ships = shipped()
    out: list[tuple[str, str, str | None]] = []
    name, _, value, pair = DEMO
    if name in info:
        out += [(name, i["path"], value) for i in ships if i["name"] in pair]
    for name in SAMPLES:
        d = info.get(name)
        if not d or not d.get("channels") or not d.get("height"):
            continue
        fits = [i["path"] for i in ships if misfit(facts(i["path"]), int(d["channels"]), int(d["height"])) is None]
        out += [(name, path, None) for path in fits[:2]]
    return out


def main(argv: list[str] | None = None) -> int:
    """Embed every job (each one alone: a failure is skipped, the rest still run); `--max-jobs N`
    stops after the first N."""
    import argparse

    import numpy as np

    from ssrl_core.data.registry import load_dataset
    from ssrl_core.evaluate import embed

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-jobs", type=int, default=None)
    args = ap.parse_args(argv)
    for name, encoder, value in jobs()[:args.max_jobs]:
        try:
            cells = load_dataset(name)
            if value is not None:
                cells = cells.subset(np.flatnonzero(cells.meta[DEMO[1]].astype(str).to_numpy() == value))
            embed(cells, encoder)
        except Exception as exc:  # best effort: the page embeds (and says why) when asked
            print(f"precompute: {name} with {Path(encoder).name} skipped: {exc}", file=sys.stderr)
    return 0


def start(max_jobs: int | None = None) -> subprocess.Popen | None:
    """Run `main` in a background process at a low priority on one thread (None when turned off)."""
    if os.environ.get("SSRL_APP_WARM", "1") == "0":
        return None
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = str(Path(__file__).resolve().parents[2])  # the repository (ssrl_app/shell/precompute.py)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    nice = ["nice", "-n", "10"] if os.name == "posix" else []
    extra = ["--max-jobs", str(max_jobs)] if max_jobs is not None else []
    return subprocess.Popen(nice + [sys.executable, "-m", "ssrl_app.shell.precompute", *extra], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


if __name__ == "__main__":
    sys.exit(main())
