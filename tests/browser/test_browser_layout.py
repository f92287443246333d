"""Layouts that hold at a 1024-px projector and at 1400 px, checked from element boxes in Chromium.

For each width: the Augment page in Compare mode (every preview strip inside its own column, the
two recipes' strips never overlapping), the recipe editor's labels and buttons not cut, the Data
page's count chart readable (bars at least 12 px, labels horizontal), and the sidebar's dataset
name not cut. Then a refresh keeps the cell selection, and a stopped run reads as a normal end.
Screenshots go to artefacts/screenshots/layout_*.png.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_browser_app import CHROMIUM, CHROMIUM_ARGS, SHOTS, go, wait_idle, with_a_stopped_run

from app_support import cache_with_setup_weights

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]
WIDTHS = [(1024, 768), (1400, 900)]
TALL = 2200  # screenshots show most of a page (the width is what the layout depends on)


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_app):
    """The app on a free port: the tiny set as `demo_nuclei`, one stopped run in the runs folder."""
    base = with_a_stopped_run(tmp_path_factory.mktemp("layout"), epoch=3, epochs=5, progress=0.6, step=30,
                              total_steps=50, error="stopped by the stop file")
    with serve_app(base, SSRL_CACHE=cache_with_setup_weights(base / "cache")) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def choose_dataset(page, name: str) -> None:
    """Pick `name` in the sidebar's dataset box."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=name).first.click()
    wait_idle(page)


CUT = """els => els.filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
                  .map(e => e.innerText.slice(0, 40))"""
# Every visible text element of an area whose text is clipped (an ellipsis or hidden overflow):
# labels, button texts, selectbox values, metric values, tab names.
CLIPPED = """root => Array.from(root.querySelectorAll('*')).filter(e => {
    if (e.offsetParent === null || !e.innerText || !e.innerText.trim()) return false;
    if (e.closest('[data-testid="stDataFrame"], [data-testid="stVegaLiteChart"], pre, code, textarea')) return false;
    const cs = getComputedStyle(e);
    if (cs.overflowX === 'visible' && cs.textOverflow !== 'ellipsis') return false;
    if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') return false;
    return e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0;
}).map(e => e.innerText.trim().slice(0, 40))"""


def clipped(locator) -> list[str]:
    """Texts cut inside the element `locator` points at (deduplicated)."""
    return sorted(set(locator.evaluate(CLIPPED)))


def strips_inside_columns(page) -> list[str]:
    """Preview images that stick out of their column, or overlap an image of the other column."""
    return page.evaluate("""() => {
        const bad = [];
        const imgs = Array.from(document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img'));
        const boxes = imgs.map(img => {
            const col = img.closest('[data-testid="stColumn"]');
            return {img: img.getBoundingClientRect(), col: col ? col.getBoundingClientRect() : null, col_el: col};
        });
        boxes.forEach((b, i) => {
            if (b.col && (b.img.right > b.col.right + 1 || b.img.left < b.col.left - 1))
                bad.push(`image ${i} spills out of its column (${b.img.left.toFixed(0)}-${b.img.right.toFixed(0)} `
                         + `vs ${b.col.left.toFixed(0)}-${b.col.right.toFixed(0)})`);
            boxes.forEach((o, j) => {
                if (j <= i || !b.col || !o.col || o.col_el === b.col_el) return;
                const overlap = Math.min(b.img.right, o.img.right) - Math.max(b.img.left, o.img.left) > 1
                             && Math.min(b.img.bottom, o.img.bottom) - Math.max(b.img.top, o.img.top) > 1;
                if (overlap) bad.push(`image ${i} overlaps image ${j}`);
            });
        });
        if (document.documentElement.scrollWidth > window.innerWidth + 1) bad.push('the page scrolls sideways');
        return bad;
    }""")


@pytest.mark.parametrize("width,height", WIDTHS)
def test_layouts_hold(server, browser, width, height):
    page = browser.new_page(viewport={"width": width, "height": TALL})
    page.set_default_timeout(90_000)
    page.goto(server["url"])
    page.get_by_role("heading", name="Which augmentations decide").wait_for()
    wait_idle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    name_cut = clipped(sidebar)
    assert not name_cut, name_cut
    page.screenshot(path=str(SHOTS / f"layout_home_{width}.png"))
    choose_dataset(page, "demo_nuclei")

    go(page, server, "Data", "Data: your cells")
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    chart.locator("canvas, svg").first.wait_for()
    page.wait_for_timeout(500)
    box = chart.bounding_box()
    assert box["width"] >= 300 and box["height"] >= 4 * 16 + 30, box  # 4 labels: rows of at least 16 px
    page.screenshot(path=str(SHOTS / f"layout_data_{width}.png"), full_page=True)

    go(page, server, "Augment", "Augment: what should two views")
    page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(3).wait_for()
    page.get_by_text("Compare two recipes side by side").first.click()
    page.get_by_text("Recipe B", exact=False).first.wait_for()
    wait_idle(page)
    page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(7).wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / f"layout_augment_compare_{width}.png"), full_page=True)
    bad = strips_inside_columns(page)
    assert not bad, bad
    page.get_by_role("heading", name="Preview").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"layout_augment_compare_preview_{width}.png"))
    main = page.locator('[data-testid="stMain"]')
    cut = clipped(main)
    assert not cut, cut  # e.g. "1. Rot…", "Apply p…"
    page.get_by_text("Compare two recipes side by side").first.click()
    page.get_by_role("heading", name="Recipe B").wait_for(state="detached")
    wait_idle(page)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / f"layout_augment_{width}.png"), full_page=True)
    cut = clipped(main)
    assert not cut, cut

    go(page, server, "Data", "Data: your cells")
    assert not clipped(main), clipped(main)  # metric values ("24 × 2…"), tab names

    go(page, server, "Train", "Train: teach a network")
    page.screenshot(path=str(SHOTS / f"layout_train_{width}.png"), full_page=True)
    cut = clipped(main)
    assert not cut, cut
    page.close()
    log = Path(server["log"]).read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_refresh_keeps_the_selection_and_a_stop_is_a_normal_end(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(90_000)
    page.goto(server["url"])
    page.get_by_role("heading", name="Which augmentations decide").wait_for()
    wait_idle(page)
    choose_dataset(page, "demo_nuclei")
    go(page, server, "Data", "Data: your cells")
    panel = page.locator('[data-testid="stExpander"]', has_text="Choose the cells").first
    box = panel.get_by_role("combobox", name="plate").first
    if not box.is_visible():  # open the panel only if it is closed (a click would close an open one)
        panel.get_by_text("Choose the cells", exact=False).first.click()
    sidebar = page.locator('[data-testid="stSidebar"]')
    chosen = sidebar.get_by_text("32 of 64 cells", exact=False).first
    for attempt in range(5):  # on a busy machine the list can be drawn again under the click: retry until it took
        box.click()
        box.press_sequentially("P1")  # typing filters the options, so the choice never depends on the list opening
        try:
            page.get_by_role("option", name="P1").first.click(timeout=15_000)
        except Exception:  # noqa: BLE001  (playwright's TimeoutError)
            pass
        page.keyboard.press("Escape")
        wait_idle(page)
        try:
            chosen.wait_for(timeout=20_000)
            break
        except Exception:  # noqa: BLE001  (the click landed on a list being drawn again: not chosen)
            continue
    chosen.wait_for()
    time.sleep(0.5)
    assert "s=" in page.url, page.url
    page.reload()
    page.get_by_role("heading", name="Data: your cells").wait_for()
    wait_idle(page)
    sidebar.get_by_text("32 of 64 cells", exact=False).first.wait_for(timeout=30_000)
    page.screenshot(path=str(SHOTS / "layout_after_refresh.png"))

    go(page, server, "Train", "Train: teach a network")
    box = page.locator('[data-testid="stSelectbox"]', has_text="Run in focus").first
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_role("option", name="stopped-demo", exact=True).first.click()
    wait_idle(page)
    page.get_by_text("Stopped after step 30 of 50 (epoch 3 of 5); the last checkpoint is usable.").first.wait_for()
    assert "The run failed" not in page.locator('[data-testid="stMain"]').inner_text()
    page.screenshot(path=str(SHOTS / "layout_stopped_run.png"), full_page=True)
    page.close()
