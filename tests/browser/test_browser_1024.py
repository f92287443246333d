"""Every page at a 1024x768 projector in Chromium: nothing clipped (issue 25 item 2).

One server and one browser session walk Home (and its one-click demo), Data, Augment (one recipe,
then two), Train (a run in focus), Explore (embed, map, compare two representations) and Bias (factor probe). On each, from
the element boxes: no text cut by an ellipsis or hidden overflow (titles, buttons, labels, sidebar
names), no chart, table, button, image or heading past the right edge of the main area, no chart
drawn wider than its box or squeezed under 200 px, no table that scrolls sideways, and the page
never scrolls sideways. Screenshots of each page go to artefacts/screenshots/w1024_*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_browser_app import CHROMIUM, CHROMIUM_ARGS, SHOTS, go, wait_idle, with_a_stopped_run

from app_support import cache_with_setup_weights

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")]

# What is clipped on the page, as a list of short descriptions (empty: nothing).
PROBLEMS = r"""() => {
  const out = [];
  const main = document.querySelector('[data-testid="stMain"] [data-testid="stMainBlockContainer"]')
            || document.querySelector('[data-testid="stMain"]');
  const mr = main.getBoundingClientRect();
  const vis = e => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
  const txt = e => (e.innerText || e.getAttribute('aria-label') || e.tagName).trim().slice(0, 40);
  for (const root of [main, document.querySelector('[data-testid="stSidebar"]')]) {
    if (!root) continue;
    for (const e of root.querySelectorAll('*')) {
      if (!vis(e) || !e.innerText || !e.innerText.trim()) continue;
      if (e.closest('[data-testid="stDataFrame"], [data-testid="stVegaLiteChart"], pre, code, textarea')) continue;
      const cs = getComputedStyle(e);
      if (cs.overflowX === 'visible' && cs.textOverflow !== 'ellipsis') continue;
      if (cs.overflowX === 'auto' || cs.overflowX === 'scroll') continue;
      if (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0) out.push('text cut: ' + txt(e));
    }
  }
  const sel = '[data-testid="stVegaLiteChart"], [data-testid="stDataFrame"], [data-testid="stButton"] button, ' +
              '[data-testid="stImage"] img, h1, h2, h3, [data-testid="stPageLink"] a';
  for (const e of main.querySelectorAll(sel)) {
    if (!vis(e)) continue;
    const r = e.getBoundingClientRect();
    if (r.right > mr.right + 1) out.push(`past the right edge (${Math.round(r.right)} > ${Math.round(mr.right)}): ` + txt(e));
  }
  for (const c of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    const g = c.querySelector('canvas, svg.marks');
    if (!g || !vis(c)) continue;
    const cr = c.getBoundingClientRect(), gr = g.getBoundingClientRect();
    if (gr.right > cr.right + 2 || gr.width > cr.width + 2)
      out.push(`chart wider than its box (${Math.round(gr.width)} > ${Math.round(cr.width)})`);
    if (gr.width < 200 && cr.width >= 200) out.push(`chart squeezed to ${Math.round(gr.width)} px`);
  }
  for (const t of main.querySelectorAll('[data-testid="stDataFrame"]')) {
    const s = t.querySelector('.dvn-scroller');
    if (s && vis(t) && s.scrollWidth > s.clientWidth + 2)
      out.push(`table scrolls sideways (${s.scrollWidth} > ${s.clientWidth}): ` + (t.innerText || '').slice(0, 30));
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push('the page scrolls sideways');
  return out;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, serve_app):
    """The app on a free port: the tiny set as `demo_nuclei`, one stopped run in the runs folder."""
    base = with_a_stopped_run(tmp_path_factory.mktemp("w1024"), epoch=1, epochs=2, progress=0.1, step=1,
                              total_steps=10)
    with serve_app(base, SSRL_CACHE=cache_with_setup_weights(base / "cache")) as running:
        yield running


def pick(page, label: str, option: str) -> None:
    """Choose `option` in the select box labelled `label` (typing filters the list; retried when a
    busy machine redraws the list under the click)."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.scroll_into_view_if_needed()
    for attempt in range(4):
        box.locator("input").first.click()
        box.locator("input").first.press_sequentially(option[:12])
        try:
            page.get_by_role("option", name=option).first.click(timeout=15_000)
            break
        except Exception:  # noqa: BLE001  (playwright's TimeoutError)
            page.keyboard.press("Escape")
            wait_idle(page)
    else:
        raise AssertionError(f"could not choose {option!r} in {label!r}")
    wait_idle(page)


def check(page, name: str) -> None:
    """No clipped element on the page now; a tall screenshot of it (the width is what counts)."""
    page.wait_for_timeout(800)  # charts finish their first draw
    found = page.evaluate(PROBLEMS)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1024, "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / f"w1024_{name}.png"))
    found += [f"(tall view) {p}" for p in page.evaluate(PROBLEMS) if p.startswith(("chart", "table"))]
    page.set_viewport_size({"width": 1024, "height": 768})
    assert not found, f"{name}: {found}"


def follow_a_real_run(page) -> None:
    """Start a tiny real run from the form: from its first steps the progress bar names the step and
    the time left, the sidebar names the step, nothing is clipped; then stop it."""
    pick(page, "Network (backbone)", "tiny CNN")
    pick(page, "Device", "cpu")
    for label, value in (("Passes over the cells (epochs)", "200"), ("Cells per step (batch)", "8"),
                         ("Image size (px)", "16"), ("Time budget (minutes, 0 = no limit)", "0")):
        page.get_by_role("spinbutton", name=label, exact=True).fill(value)
    page.get_by_role("button", name="Start training").click()
    bar = page.locator('[data-testid="stProgress"]').first
    page.wait_for_function("""() => { const b = document.querySelector('[data-testid="stProgress"]');
        return b && /step \\d+ of \\d+ .* left/.test(b.innerText); }""", timeout=150_000)
    text = bar.inner_text()
    assert re.search(r"epoch \d+ of 200", text), text  # a quiet machine may already be in epoch 2
    page.locator('[data-testid="stSidebar"]').get_by_text(re.compile(r"step \d+ of 1600 \(epoch \d+ of 200\)")) \
        .first.wait_for(timeout=30_000)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()  # the loss curve, from the first points
    check(page, "train_running")
    page.get_by_role("button", name="Stop this run").click()
    page.get_by_text("Stopped after step").first.wait_for(timeout=120_000)


def test_every_page_fits_a_1024_projector(server):
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        page.set_default_timeout(120_000)
        page.goto(server["url"])
        page.get_by_role("heading", name="Which augmentations decide").wait_for()
        wait_idle(page)
        check(page, "home")
        page.get_by_role("button", name="Run the demo").click()  # the one-click demo: preview + two maps
        page.locator('[data-testid="stVegaLiteChart"]').nth(2).wait_for()
        wait_idle(page)
        assert page.get_by_text("differ in one step").count() > 0
        check(page, "home_demo")
        pick(page, "Dataset", "demo_nuclei")

        go(page, server, "Data", "Data: your cells")
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
        check(page, "data")

        go(page, server, "Augment", "Augment: what should two views")
        page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(3).wait_for()
        preview_top = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first.bounding_box()["y"]
        assert preview_top < 768 - 60, preview_top  # the preview is on the first screen, beside the editor
        check(page, "augment")
        page.get_by_text("Compare two recipes side by side").first.click()
        page.get_by_role("heading", name="Recipe B").wait_for()
        wait_idle(page)
        page.locator('[data-testid="stMain"] [data-testid="stImage"] img').nth(7).wait_for()
        preview_top = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').first.bounding_box()["y"]
        assert preview_top < 1500, preview_top  # right under the two editors (it was about 2,900 px down)
        check(page, "augment_compare")
        page.get_by_text("Compare two recipes side by side").first.click()
        wait_idle(page)

        go(page, server, "Train", "Train: teach a network")
        pick(page, "Run in focus", "stopped-demo")
        page.get_by_text("Stopped after step 1 of 10 (epoch 1 of 2)").first.wait_for()
        check(page, "train")
        follow_a_real_run(page)

        go(page, server, "Explore", "Explore: which cells")
        pick(page, "Representation", "baseline: hand-made features")
        page.get_by_text("PCA", exact=True).first.click()
        wait_idle(page)
        page.get_by_role("button", name="Embed", exact=True).click()
        page.get_by_role("heading", name="Map of the cells").wait_for()
        wait_idle(page)
        pick(page, "Second representation", "baseline: random ResNet-18 (no training)")
        page.get_by_role("button", name="Compare", exact=True).click()
        try:
            page.get_by_text("Drag a box on either map").first.wait_for()
        except Exception:
            page.set_viewport_size({"width": 1024, "height": 6000})
            page.screenshot(path=str(SHOTS / "w1024_explore_failed.png"))
            raise
        wait_idle(page)
        check(page, "explore")

        go(page, server, "Bias", "Bias: what has the representation")
        pick(page, "Representation", "baseline: hand-made features")
        page.get_by_role("button", name="Measure", exact=True).first.click()
        page.get_by_text("Black ticks").first.wait_for()
        wait_idle(page)
        check(page, "bias")
        browser.close()
    log = Path(server["log"]).read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
