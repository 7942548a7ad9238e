"""The latent page's WebGL scatter (ui/scatter.js) in a real browser: hover, box selection,
legend toggles, zoom, a click on the decoded plane, a selection that survives a new projection, and no console errors."""

import re

import pytest
from playwright.sync_api import expect

from ae_core.runs.store import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import app_server, choose, no_exception, serve_app, wait_idle

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


# Two classes far apart, many points: enough for gesture frames to draw a subset when full frames are slow.
LOD_APP = """
import numpy as np
from ui.scatter import scatter

n = 30_000
side = np.where(np.arange(n) % 2 == 0, "left", "right")
rng = np.random.default_rng(0)
xy = np.c_[np.where(side == "left", -1.0, 1.0) + rng.normal(0, 0.04, n), rng.normal(0, 0.04, n)]
scatter(xy, side, key="lat_points_lod")
"""

# Records the point count of every frame the chart draws; then the colour drawn at each cluster's centre.
RECORD = """() => { const v = document.querySelector("[class*='st-key-lat_points_'] .aes-root").aesView;
    v.counts = []; const draw = v.drawNow.bind(v); v.drawNow = (c) => { v.counts.push(c ?? v.n); return draw(c); }; }"""
COUNTS = "() => document.querySelector(\"[class*='st-key-lat_points_'] .aes-root\").aesView.counts"
SLOW = "(ms) => { document.querySelector(\"[class*='st-key-lat_points_'] .aes-root\").aesView.fullMs = ms; }"
CENTRE_COLOURS = """() => {
    const v = document.querySelector("[class*='st-key-lat_points_'] .aes-root").aesView, gl = v.gl;
    v.drawNow(); const dpr = window.devicePixelRatio || 1, out = {};
    for (const [name, x] of [["left", -1], ["right", 1]]) {
        const [px, py] = v.toPx(x, 0), px4 = new Uint8Array(4);
        gl.readPixels(Math.round(px * dpr), Math.round(v.glCanvas.height - py * dpr), 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px4);
        out[name] = Array.from(px4.slice(0, 3)).map((c) => Math.round(c * 255 / Math.max(1, px4[3])));
    }
    out.legend = v.meta.colour.names.map((nm, k) => [nm, v.meta.colour.colours[k]]);
    return out;
}"""


def test_scatter_gesture_frames_draw_a_subset_when_slow(tmp_path, browser):
    """On a machine where a full frame is slow (software WebGL), a pan or zoom draws a random subset while it
    moves and every point once it rests; each point keeps its own colour in the shuffled draw order."""
    app = tmp_path / "lod_app.py"
    app.write_text(LOD_APP)
    with app_server(tmp_path / "runs", tmp_path / "server.log", app=app) as (url, _proc):
        ctx = browser.new_context(viewport={"width": 1000, "height": 800})
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            page.goto(url)
            page.locator(f"{SCATTER}[data-drawn]").wait_for(timeout=60_000)
            assert page.locator(SCATTER).get_attribute("data-points") == "30000"

            # Points are drawn in their own class's colour (positions and colours shuffled alike).
            got = page.evaluate(CENTRE_COLOURS)
            legend = {name: tuple(int(hex_[i:i + 2], 16) for i in (1, 3, 5)) for name, hex_ in got["legend"]}
            for name in ("left", "right"):
                assert max(abs(a - b) for a, b in zip(got[name], legend[name])) <= 3, (name, got, legend)

            b = page.locator(f"{SCATTER} .aes-front").bounding_box()
            cx, cy = b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
            page.locator(SCATTER).get_by_role("button", name="Pan", exact=True).click()

            # A full frame "costs" 4 frames' time: gesture frames draw 30,000 x 16 / 64 -> the 10,000 floor,
            # then all 30,000 once the gesture rests.
            page.evaluate(RECORD)
            page.evaluate(SLOW, 64)
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + 60, cy + 30, steps=6)
            page.wait_for_timeout(600)  # resting, button still down: the full set is drawn
            page.mouse.up()
            counts = page.evaluate(COUNTS)
            k = counts.index(30_000)  # gesture frames first, then (at rest) one full frame, and no more on release
            assert k >= 3 and set(counts[:k]) == {10_000} and counts[k:] == [30_000], counts

            page.evaluate(RECORD)
            page.evaluate(SLOW, 64)
            page.keyboard.down("Control")
            page.mouse.wheel(0, -200)
            page.keyboard.up("Control")
            page.wait_for_timeout(600)
            counts = page.evaluate(COUNTS)
            assert counts[0] == 10_000 and counts[-1] == 30_000, counts

            # Where a full frame is fast (a GPU), gesture frames draw everything.
            page.evaluate(RECORD)
            page.evaluate(SLOW, 5)
            page.keyboard.down("Control")
            page.mouse.wheel(0, 200)
            page.keyboard.up("Control")
            page.wait_for_timeout(600)
            assert set(page.evaluate(COUNTS)) == {30_000}
            assert not problems, problems
        finally:
            ctx.close()
