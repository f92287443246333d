"""The Home demo, cold and warm, in Chromium at 1024x768 (issue 22 item 5: under 10 s cold).

A fresh server (new caches, no BBBC021 crops: a user's machine), then: the Home page's first paint
(its title), the click on *Run the demo* until both maps are drawn (cold), the same again after a
reload (warm), and a screenshot of the demo at 1024 px (benchmarks/demo_cold.png), plus the texts
cut inside the demo (should be none). Writes benchmarks/demo_cold.md.

Usage: .venv/bin/python benchmarks/demo_cold.py
"""

from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_browser_layout import CLIPPED  # noqa: E402  (the clipped-text probe of the browser tests)

from app_support import serve_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def _idle(page, timeout: float = 120) -> None:
    page.wait_for_timeout(200)
    t0 = time.time()
    while time.time() - t0 < timeout and page.locator('[data-testid="stStatusWidget"]').count():
        page.wait_for_timeout(100)


def _demo(page) -> float:
    t0 = time.time()
    page.get_by_role("button", name="Run the demo").click()
    page.locator('[data-testid="stVegaLiteChart"]').nth(2).wait_for(timeout=120_000)
    _idle(page)
    return time.time() - t0


def charts_inside(page) -> list[str]:
    """Charts wider than the main area, or sticking out of it."""
    main = page.locator('[data-testid="stMain"] [data-testid="stMainBlockContainer"]').first.bounding_box()
    out = []
    for i, box in enumerate(page.locator('[data-testid="stVegaLiteChart"] canvas, '
                                         '[data-testid="stVegaLiteChart"] svg.marks').evaluate_all(
            "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.x, r.width]; })")):
        if box[0] < main["x"] - 1 or box[0] + box[1] > main["x"] + main["width"] + 1:
            out.append(f"chart {i}: x {box[0]:.0f}..{box[0] + box[1]:.0f}, main {main['x']:.0f}..{main['x'] + main['width']:.0f}")
    return out


def main() -> None:
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="demo_cold_"))
    (base / "data").mkdir()
    with serve_app(base, SSRL_CACHE=str(base / "cache")) as server, sync_playwright() as p:
        started = time.time() - server["t0"]
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1024, "height": 768})
        t0 = time.time()
        page.goto(server["url"])
        page.get_by_role("heading", name="Which augmentations").first.wait_for(timeout=120_000)
        paint = time.time() - t0
        _idle(page)
        cold = _demo(page)
        page.set_viewport_size({"width": 1024, "height": 2600})
        page.wait_for_timeout(500)
        page.screenshot(path=str(ROOT / "benchmarks" / "demo_cold.png"), full_page=False)
        cut = sorted(set(page.locator('[data-testid="stMain"]').evaluate(CLIPPED)))
        wide = charts_inside(page)
        page.set_viewport_size({"width": 1024, "height": 768})
        page.reload()
        page.get_by_role("button", name="Run the demo").wait_for(timeout=120_000)
        _idle(page)
        warm = _demo(page)
        b.close()
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    load = open("/proc/loadavg").read().split()[:3]
    lines = ["# The Home demo, cold and warm (1024x768, Chromium)", "",
             "`benchmarks/demo_cold.py`: a fresh server with new caches and no BBBC021 crops (a user's machine); "
             "the demo draws the shipped measurements (`pretrained/demo_contrast.json`).", "",
             f"CPU: {model}, {platform.machine()}; load average at the end {' '.join(load)} (the machine was shared).",
             "", "| step | seconds | target |", "|---|---|---|",
             f"| server start (health check) | {started:.1f} | - |",
             f"| Home page, first paint (title shown) | {paint:.1f} | < 3 |",
             f"| *Run the demo*, cold: click until both maps are drawn | {cold:.1f} | < 10 |",
             f"| the same after a reload (warm) | {warm:.1f} | < 5 |", "",
             f"Texts cut inside the main area at 1024 px: {', '.join(cut) if cut else 'none'}.",
             f"Charts outside the main area: {'; '.join(wide) if wide else 'none'}.", "",
             "Screenshot: `benchmarks/demo_cold.png` (1024 px wide)."]
    (ROOT / "benchmarks" / "demo_cold.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
