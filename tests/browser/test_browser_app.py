"""The app in a real browser: Debian's Chromium driven by Playwright against `streamlit run`.

Visits every page, changes a recipe parameter and waits for the preview to update, hovers a
point of the Explore map and sees the cell image in the tooltip. Screenshots of each page go to
artefacts/screenshots/ (git-ignored). Skipped, with the reason, when Chromium is missing
(`apt-get install -y chromium`; never `playwright install`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app_support import ROOT, write_tiny

SHOTS = ROOT / "artefacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless. Reduced motion: no CSS transitions or smooth scrolling to draw (what is
# checked is where things end up; measured on the 1024-px walk: Chromium 27.7 -> 24.4 CPU-s).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--force-prefers-reduced-motion", "--disable-smooth-scrolling"]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]


def with_a_stopped_run(base: Path, **status) -> Path:
    """`base/data` with the tiny set as `demo_nuclei` and one stopped run (`status.json` from `status`)
    in `base/runs`, for a served app; returns `base`."""
    write_tiny(base / "data").rename(base / "data" / "demo_nuclei.npz")
    run = base / "runs" / "20261201-000000-stopped-demo"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("name: stopped-demo\n")
    (run / "status.json").write_text(json.dumps({"state": "stopped", "name": "stopped-demo", **status}))
    (run / "checkpoint.pt").write_bytes(b"")
    return base


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_app):
    """`streamlit run app.py` on a free port with a tiny dataset as the default set."""
    base = tmp_path_factory.mktemp("browser")
    write_tiny(base / "data").rename(base / "data" / "demo_nuclei.npz")
    with serve_app(base) as running:
        yield running


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1800})
        pg.set_default_timeout(90_000)
        yield pg
        browser.close()


def go(page, server, label: str, heading: str) -> None:
    """Click a page in the sidebar navigation and wait for its title."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
    page.get_by_role("heading", name=heading).first.wait_for()
    wait_idle(page)


def wait_idle(page, timeout: float = 120) -> None:
    """Wait until the script run is over (no 'Running…' status widget)."""
    page.wait_for_timeout(300)
    t0 = time.time()
    while time.time() - t0 < timeout:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            return
        page.wait_for_timeout(200)


def preview_srcs(page) -> list[str]:
    return page.locator('[data-testid="stMain"] [data-testid="stImage"] img').evaluate_all("els => els.map(e => e.src)")


def test_every_page_renders_and_interacts(server, page):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(server["url"])
    page.get_by_role("heading", name="Which augmentations decide").wait_for()
    wait_idle(page)
    print(f"cold start to first page: {time.time() - server['t0']:.1f} s")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Running jobs", exact=False).wait_for()
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)
    assert "Compute:" in sidebar.inner_text() and "Running jobs" in sidebar.inner_text()
    box = sidebar.locator('[data-testid="stSelectbox"]').first
    shown = box.evaluate("e => e.innerText + ' ' + Array.from(e.querySelectorAll('input')).map(i => i.value).join(' ')")
    assert "mitocheck_demo" in shown, shown  # the labelled sample shipped in the package is the default
    box.click()
    page.get_by_role("option", name="demo_nuclei").first.click()  # the tiny test set: quick pages
    wait_idle(page)

    go(page, server, "Data", "Data: your cells")
    page.locator('[data-testid="stImage"]').nth(3).wait_for()
    wait_idle(page)
    assert page.locator('[data-testid="stImage"]').count() >= 4
    page.screenshot(path=str(SHOTS / "data.png"), full_page=True)

    go(page, server, "Augment", "Augment: what should two views")
    page.locator('[data-testid="stImage"] img').nth(3).wait_for()
    wait_idle(page)
    before = preview_srcs(page)
    assert len(before) >= 4  # one strip per cell: the cell and its views
    slider = page.locator('[data-testid="stMain"] [data-testid="stSlider"] input[type="range"]').first
    slider.focus()
    t0 = time.time()
    slider.press("ArrowLeft")
    page.wait_for_function("prev => { const s = Array.from(document.querySelectorAll("
                           "'[data-testid=\"stMain\"] [data-testid=\"stImage\"] img')).map(e => e.src); "
                           "return s.length > 0 && s.join() !== prev.join(); }", arg=before, timeout=60_000)
    print(f"parameter change to updated preview: {time.time() - t0:.2f} s")
    wait_idle(page)
    assert "LPIPS" in page.locator('[data-testid="stMain"]').inner_text()
    page.screenshot(path=str(SHOTS / "augment.png"), full_page=True)

    go(page, server, "Train", "Train: teach a network")
    page.get_by_role("button", name="Start training").wait_for()
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "train.png"), full_page=True)

    go(page, server, "Explore", "Explore: which cells")
    page.locator('[data-testid="stSelectbox"]', has_text="Representation").first.click()
    page.get_by_role("option", name="baseline: hand-made features").click()
    page.locator('[data-testid="stRadio"] label', has_text="PCA").first.click()
    wait_idle(page)
    page.get_by_role("button", name="Embed", exact=True).click()
    page.get_by_role("heading", name="Map of the cells").wait_for()
    wait_idle(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    chart.locator("canvas, svg").first.wait_for()
    page.wait_for_timeout(300)  # let Vega finish drawing before we look for the points
    box = chart.bounding_box()
    tip = page.locator("#vg-tooltip-element")
    found = False
    for x, y in point_positions(chart.screenshot(), box)[:60]:
        page.mouse.move(x, y)
        for _ in range(10):
            page.wait_for_timeout(20)
            if tip.count() and tip.locator("img").count() and tip.is_visible():
                found = True
                break
        if found:
            break
    assert found, "no tooltip with a cell image appeared over the map"
    assert tip.locator("img").first.get_attribute("src").startswith("data:image/png;base64,")
    page.screenshot(path=str(SHOTS / "explore_hover.png"))
    page.mouse.click(x, y)  # pin this cell: its channels and metadata stay on screen
    page.get_by_text("Pinned: cell", exact=False).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_text("Pinned: cell", exact=False).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "explore_pinned.png"))
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)

    # label cells by hand: drag a box over the map, name the group, keep it
    page.get_by_text("Select cells by dragging a box", exact=False).first.click()
    wait_idle(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    box = None
    for _ in range(50):  # the map is drawn again (a new chart element) with the box selection
        try:
            chart.locator("canvas, svg").first.wait_for()
            chart.scroll_into_view_if_needed()
            page.wait_for_timeout(200)
            box = chart.bounding_box()
        except PlaywrightError as exc:  # replaced between two calls ("not attached to the DOM"): look again
            if isinstance(exc, PlaywrightTimeout):
                raise
            page.wait_for_timeout(200)
            continue
        if box:
            break
    assert box, "the map did not come back with the box selection"
    form = page.get_by_text("cells in the box", exact=False).first
    for attempt in range(4):  # Vega may not listen yet right after drawing: drag again until it answers
        page.wait_for_timeout(800)
        page.mouse.move(box["x"] + 0.05 * box["width"], box["y"] + (0.05 + 0.02 * attempt) * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.9 * box["height"], steps=15)
        page.mouse.up()
        try:
            form.wait_for(timeout=15_000)
            break
        except Exception:  # noqa: BLE001  (playwright's TimeoutError: try once more)
            continue
    form.wait_for(timeout=5_000)
    wait_idle(page)
    page.get_by_role("textbox", name="Label for these cells").fill("left group")
    page.get_by_role("button", name="Keep label").click()
    page.get_by_text("Kept:", exact=False).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "explore_labelled.png"), full_page=True)

    # compare with a second representation: two linked maps; a box on A greys the other cells on both
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("Drag a box on either map", exact=False).first.wait_for(timeout=120_000)
    wait_idle(page)
    linked = page.locator('[data-testid="stVegaLiteChart"]').last
    linked.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    lb = linked.bounding_box()
    before = linked.screenshot()
    page.mouse.move(lb["x"] + 0.05 * lb["width"], lb["y"] + 0.15 * lb["height"])
    page.mouse.down()
    page.mouse.move(lb["x"] + 0.25 * lb["width"], lb["y"] + 0.85 * lb["height"], steps=12)
    page.mouse.up()
    page.wait_for_timeout(800)
    assert linked.screenshot() != before  # the box changed how the maps are drawn
    (SHOTS / "explore_linked.png").write_bytes(linked.screenshot())

    go(page, server, "Bias", "Bias: what has the representation")
    page.locator('[data-testid="stSelectbox"]', has_text="Representation").first.click()
    page.get_by_role("option", name="baseline: hand-made features").click()
    wait_idle(page)
    page.get_by_role("button", name="Measure", exact=True).click()
    page.get_by_text("Black ticks: chance level", exact=False).wait_for()
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "bias.png"), full_page=True)
    log = Path(server["log"]).read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def point_positions(png: bytes, box: dict) -> list[tuple[float, float]]:
    """Page coordinates of the coloured scatter points in a screenshot of the chart.

    Axes, grid and text are grey; the points are saturated colours. Hovering those pixels
    (rather than a blind grid, which can miss 6-pixel points) makes the hover check reliable.
    """
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    ys, xs = np.nonzero(saturation > 60)
    scale = rgb.shape[1] / box["width"]
    order = np.random.default_rng(0).permutation(len(xs))
    return [(box["x"] + xs[i] / scale, box["y"] + ys[i] / scale) for i in order]

