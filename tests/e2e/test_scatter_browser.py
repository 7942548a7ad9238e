"""The latent page's WebGL scatter (ui/scatter.js) in a real browser: hover, box selection,
legend toggles, zoom, a click on the decoded plane, a selection that survives a new projection, and no console errors."""

import re

import pytest
from playwright.sync_api import expect

from ae_core.runs import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import choose, no_exception, serve_app, wait_idle

pytestmark = pytest.mark.e2e

SCATTER = "[class*='st-key-lat_points_'] .aes-root"  # the latent scatter (the decoded plane is lat_pick_)
WIDTH = f"() => {{ const r = document.querySelector(\"{SCATTER}\").aesView.range; return r.x1 - r.x0; }}"


def point_px(page, i: int) -> tuple[float, float]:
    """Where point i is drawn, in page pixels."""
    return tuple(page.evaluate("""(i) => {
        const v = document.querySelector("[class*='st-key-lat_points_'] .aes-root").aesView;
        const b = v.front.getBoundingClientRect();
        const [px, py] = v.toPx(v.cols.x[i], v.cols.y[i]);
        return [b.left + px, b.top + py];
    }""", i))


def box_select_everything(page) -> None:
    page.locator(SCATTER).get_by_role("button", name="Box", exact=True).click()
    b = page.locator(f"{SCATTER} .aes-front").bounding_box()
    page.mouse.move(b["x"] + 2, b["y"] + 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=4)
    page.mouse.move(b["x"] + b["width"] - 2, b["y"] + b["height"] - 2, steps=4)
    page.mouse.up()


def test_scatter_hover_select_hide_zoom(tmp_path, browser, shot):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    run_id = train_tiny(store, "digits", "vanilla")
    with serve_app(runs, tmp_path) as url:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text
                else None)
        # (Streamlit's front end probes /latent/_stcore/... before the root path: those 404s are its own.)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400
                and "/_stcore/" not in r.url else None)
        try:
            page.goto(f"{url}/latent?run={run_id}")
            page.locator(f"{SCATTER}[data-drawn]").wait_for(timeout=60_000)
            assert page.locator(SCATTER).get_attribute("data-points") == "1797"
            wait_idle(page)

            # Hover: the tooltip names the row, its class and its reconstruction error.
            x, y = point_px(page, 0)
            page.mouse.move(x, y)
            tip = page.locator(f"{SCATTER} .aes-tip")
            expect(tip).to_be_visible()
            expect(tip).to_contain_text(re.compile(r"row: \d+"))
            expect(tip).to_contain_text(re.compile(r"label: \d"))
            expect(tip).to_contain_text(re.compile(r"reconstruction error: [\d.e-]+"))
            shot(page, "scatter-01-hover")

            # A click on the decoded plane decodes that point: the sliders and the picture follow it.
            page.locator("[class*='st-key-lat_pick_'] .aes-root").scroll_into_view_if_needed()
            target = page.evaluate("""() => {
                const v = document.querySelector("[class*='st-key-lat_pick_'] .aes-root").aesView, im = v.meta.image;
                const x = im.x0 + 0.25 * (im.x1 - im.x0), y = im.y0 + 0.75 * (im.y1 - im.y0);
                const b = v.front.getBoundingClientRect(), [px, py] = v.toPx(x, y);
                return {x, y, px: b.left + px, py: b.top + py};
            }""")
            page.mouse.click(target["px"], target["py"])
            decoded = page.get_by_text(re.compile(r"^Decoded at \("))
            expect(decoded).to_have_text(f"Decoded at ({target['x']:.2f}, {target['y']:.2f})", timeout=30_000)
            wait_idle(page)
            shot(page, "scatter-02-plane-clicked")
            page.locator(SCATTER).scroll_into_view_if_needed()

            # Box around everything: all 1,797 samples are selected, the first 32 drawn.
            box_select_everything(page)
            expect(page.get_by_role("heading", name="1,797 selected (first 32 shown)")).to_be_visible()
            no_exception(page)
            shot(page, "scatter-03-selected")

            # A hidden class is left out of the next selection.
            page.locator(SCATTER).get_by_role("button", name="Clear selection").click()
            expect(page.get_by_text(re.compile(r"selected \(first"))).to_have_count(0)
            wait_idle(page)
            page.locator(f"{SCATTER} .aes-item", has_text=re.compile(r"^0$")).click()
            expect(page.locator(f"{SCATTER} .aes-item.aes-off")).to_have_count(1)
            box_select_everything(page)
            expect(page.get_by_role("heading", name="1,619 selected (first 32 shown)")).to_be_visible()  # 178 zeros
            wait_idle(page)

            # The selection stays when the projection changes (same rows, new coordinates).
            choose(page, "Projection", "PCA")
            expect(page.locator(SCATTER)).to_have_attribute("data-selected", "1619", timeout=30_000)
            expect(page.get_by_role("heading", name="1,619 selected (first 32 shown)")).to_be_visible()

            # The wheel scrolls the page past the chart (and says how to zoom); with Ctrl it zooms about the pointer.
            wait_idle(page)
            before = page.evaluate(WIDTH)
            b = page.locator(f"{SCATTER} .aes-front").bounding_box()
            page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
            page.mouse.wheel(0, -400)
            expect(page.locator(f"{SCATTER} .aes-hint-zoom.aes-show")).to_be_visible()
            assert page.evaluate(WIDTH) > before * 0.9  # not zoomed (a wheel step zooms by about 0.55)
            before = page.evaluate(WIDTH)
            page.keyboard.down("Control")
            page.mouse.wheel(0, -400)
            page.keyboard.up("Control")
            page.wait_for_timeout(300)
            after = page.evaluate(WIDTH)
            assert after < before * 0.7
            shot(page, "scatter-04-pca-zoomed")
            no_exception(page)
            assert not problems, problems
        finally:
            ctx.close()
