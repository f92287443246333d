"""App speed benchmark (not a test): the Augment preview, and the app in a real browser.

1. Preview: `ssrl_core.augment.preview.make_preview` (the function the Augment page calls) on 4 cells x
   8 views with the paper's microscopy set B, plus LPIPS (AlexNet) on the 16 view pairs at 64 px.
   Also timed apart: the views alone and LPIPS alone. Target: median <= 300 ms.
2. Browser (Debian Chromium + Playwright against `streamlit run app.py`): cold start to the first
   page rendered (target <= 8 s), and a recipe parameter change to the updated preview
   (target <= 1.5 s).

    .venv/bin/python benchmarks/app_speed.py [--repeats 20] [--no-browser] [--dataset demo_nuclei]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.0f} ms (min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f})"


def bench_preview(dataset: str, repeats: int) -> dict:
    """Time the preview (views + LPIPS) and its two parts on 4 real cells."""
    import torch

    from ssrl_core.augment import ViewMaker, get_preset
    from ssrl_core.augment.preview import make_preview
    from ssrl_core.data.cellset import channel_ranges, to_unit_float
    from ssrl_core.data.registry import load_dataset
    from ssrl_core.perceptual import LPIPS

    cells = load_dataset(dataset)
    lo, hi = channel_ranges(cells.images)
    images = to_unit_float(cells.images[:4], lo, hi)
    recipe = get_preset("microscopy-set-b")
    lpips = LPIPS(net="alex", device="cpu")
    make_preview(recipe, images, 8, 0, lpips, 64)  # warm-up
    full, views, dist = [], [], []
    for k in range(repeats):
        t = time.perf_counter()
        make_preview(recipe, images, 8, k, lpips, 64)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        maker = ViewMaker(recipe, out_size=64)
        v = [maker(img, k * 100 + j) for img in images for j in range(8)]
        views.append(time.perf_counter() - t)
        a, b = np.stack(v[0::2]), np.stack(v[1::2])
        t = time.perf_counter()
        lpips.batch(a, b)
        dist.append(time.perf_counter() - t)
    return {"dataset": f"{dataset} ({cells.shape[0]}x{cells.shape[1]}x{cells.shape[2]} {cells.images.dtype})",
            "torch_threads": torch.get_num_threads(), "full": full, "views": views, "lpips": dist}


def bench_browser(changes: int) -> dict:
    """Cold start to first render, and parameter change to updated preview, in Chromium."""
    from playwright.sync_api import sync_playwright
    from test_browser_app import CHROMIUM

    from app_support import free_port, wait_healthy, write_tiny

    base = Path(tempfile.mkdtemp(prefix="ssrl_bench_"))
    (base / "data").mkdir()
    data = os.environ.get("SSRL_BENCH_DATA")
    if data:  # a real crop set as the default dataset
        os.symlink(data, base / "data" / "demo_nuclei.npz")
    else:
        write_tiny(base / "data").rename(base / "data" / "demo_nuclei.npz")
    env = dict(os.environ, SSRL_DATA=str(base / "data"), SSRL_SHARED_DATA=str(base / "none"),
               SSRL_RUNS=str(base / "runs"), SSRL_UPLOADS=str(base / "uploads"), SSRL_APP_WARM="0")
    port = free_port()
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    out: dict = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            wait_healthy(url, proc)
            out["server_ready_s"] = time.time() - t0
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_role("heading", name="Which augmentations decide").wait_for()
            out["cold_start_s"] = time.time() - t0
            page.goto(url + "/augment")
            page.locator('[data-testid="stImage"] img').nth(3).wait_for()
            page.wait_for_timeout(1500)
            slider = page.locator('[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]').first
            js = ("prev => { const s = Array.from(document.querySelectorAll("
                  "'[data-testid=\"stMain\"] [data-testid=\"stImage\"] img')).map(e => e.src); "
                  "return s.length > 0 && s.join() !== prev.join(); }")
            times = []
            for k in range(changes):
                before = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').evaluate_all(
                    "els => els.map(e => e.src)")
                slider.focus()
                t = time.time()
                slider.press("ArrowLeft" if k % 2 == 0 else "ArrowRight")
                page.wait_for_function(js, arg=before)
                times.append(time.time() - t)
                page.wait_for_timeout(1500)  # let the run finish before the next change
            out["change_to_preview"] = times
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


SAMPLES = (("mitocheck_demo", "mitocheck_set_a"), ("demo_nuclei", "mitocheck_set_a"), ("mnist-5k", "mnist_set1"),
           ("bbbc021_week4_dmso_cycloheximide", "bbbc021_set_a"))


def bench_waits() -> dict:
    """The waits a live demo meets, timed with the functions the pages call, on an empty cache:
    embedding each shipped sample with its shipped encoder (Explore's *Embed*; cold, then from the
    disk cache), comparing two encoders on the same cells (Explore's *Compare*, embeddings cached),
    and the Train page's *Estimate the time* (a real 4-step run in a background process)."""
    import copy

    from ssrl_core import evaluate as ev
    from ssrl_core.data.registry import list_datasets, load_dataset
    from ssrl_core.models.shipped import shipped_checkpoints
    from ssrl_core.train import jobs
    from ssrl_core.train.config import RunConfig
    from ssrl_core.train.defaults import short_run_defaults

    os.environ["SSRL_CACHE"] = tempfile.mkdtemp(prefix="ssrl_bench_cache_")  # cold: no cached embeddings
    paths = {c["name"]: c["path"] for c in shipped_checkpoints()}
    names = {d["name"] for d in list_datasets()}
    out: dict = {"embed": {}, "compare": {}}
    for dataset, ckpt in SAMPLES:
        if dataset not in names or ckpt not in paths:
            continue
        cells = load_dataset(dataset)
        t = time.perf_counter()
        feats = ev.embed(cells, paths[ckpt])
        cold = time.perf_counter() - t
        t = time.perf_counter()
        ev.embed(cells, paths[ckpt])
        out["embed"][dataset] = (len(cells), ckpt, cold, time.perf_counter() - t)
        other = ckpt.replace("_set_a", "_set_b").replace("set1", "set2")
        col = next((c for c in ("label", "compound") if c in cells.meta.columns), None)
        if col and other in paths:
            fb = ev.embed(cells, paths[other])
            t = time.perf_counter()
            ev.compare(feats, fb, cells.meta.reset_index(drop=True), col)
            out["compare"][dataset] = (ckpt, other, time.perf_counter() - t)
    d = short_run_defaults("cpu")
    raw = {"name": "speed-check", "data": {"name": "mitocheck_demo", "max_cells": d["batch_size"] * 4},
           "recipes": [{"preset": "microscopy-set-b"}], "method": copy.deepcopy(d["method"]), "backbone": d["backbone"],
           "crop_size": 64, "epochs": 1, "batch_size": d["batch_size"], "lr": d["lr"], "seed": 0, "device": "auto",
           "log_every": 2, "warmup_epochs": 0.0}
    run_dir = Path(tempfile.mkdtemp(prefix="ssrl_bench_speed_"))
    t = time.perf_counter()
    jobs.launch(RunConfig.from_dict(raw), run_dir=run_dir)
    status = jobs.wait(run_dir, timeout=600)
    out["estimate"] = (time.perf_counter() - t, status.get("state"))
    return out


def bench_first_paint(visits: int = 3) -> dict:
    """First paint of the Home page at 1024x768 on the app's own data (the default `mitocheck_demo`):
    a fresh server (cold: nothing imported yet), then new browser sessions on the same server.
    Timed from the page request to the title drawn, to the sidebar's last line (torch imported)."""
    from playwright.sync_api import sync_playwright
    from test_browser_app import CHROMIUM

    from app_support import free_port, wait_healthy

    env = dict(os.environ, SSRL_APP_WARM="0", SSRL_RUNS=tempfile.mkdtemp(prefix="ssrl_bench_runs_"))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    out: dict = {"title": [], "sidebar": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            wait_healthy(url, proc)
            for _ in range(visits):
                page = browser.new_page(viewport={"width": 1024, "height": 768})
                page.set_default_timeout(120_000)
                t = time.time()
                page.goto(url)
                page.get_by_role("heading", name="Which augmentations decide").wait_for()
                out["title"].append(time.time() - t)
                page.get_by_text("Running jobs").first.wait_for()
                out["sidebar"].append(time.time() - t)
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--changes", type=int, default=6)
    ap.add_argument("--dataset", default="demo_nuclei")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--paint", action="store_true", help="only the Home page's first paint at 1024x768")
    ap.add_argument("--waits", action="store_true", help="only the demo's waits: embed each shipped sample, "
                    "compare two encoders, the Train page's Estimate")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPU cores, load average {load:.1f}")
    if args.paint:
        r = bench_first_paint()
        print("first paint (page request -> title drawn), cold server then warm: "
              + ", ".join(f"{x:.2f} s" for x in r["title"]))
        print("sidebar complete (torch imported for the device line): " + ", ".join(f"{x:.2f} s" for x in r["sidebar"]))
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        return 0
    if args.waits:
        w = bench_waits()
        for dataset, (n, ckpt, cold, warm) in w["embed"].items():
            print(f"embed {dataset} ({n:,} cells) with {ckpt}: {cold:.1f} s cold, {warm:.2f} s from the cache")
        for dataset, (a, b, secs) in w["compare"].items():
            print(f"compare {a} and {b} on {dataset} (embeddings cached): {secs:.1f} s")
        print(f"Estimate the time (4-step speed check, background process): {w['estimate'][0]:.1f} s "
              f"({w['estimate'][1]})")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        return 0
    r = bench_preview(args.dataset, args.repeats)
    print(f"preview on {r['dataset']}, torch threads {r['torch_threads']}, {args.repeats} repeats")
    print(f"  views + LPIPS (make_preview): {_ms(r['full'])}")
    print(f"  views only (32 views):        {_ms(r['views'])}")
    print(f"  LPIPS only (16 pairs, 64 px): {_ms(r['lpips'])}")
    if not args.no_browser:
        b = bench_browser(args.changes)
        print(f"browser: server healthy after {b['server_ready_s']:.1f} s; first page rendered after "
              f"{b['cold_start_s']:.1f} s")
        print(f"  parameter change -> updated preview: {_ms(b['change_to_preview'])}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
