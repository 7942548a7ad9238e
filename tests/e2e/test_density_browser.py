"""The scatter of a big set (ui/scatter.js) in a real browser: 200,000 points draw as a density, zooming in draws
the points themselves (with hover), the legend hides a class from the density, and a box selects every row."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import app_server

pytestmark = pytest.mark.e2e

N = 200_000
APP = f"""
import numpy as np
import streamlit as st
from ui.scatter import scatter

rng = np.random.default_rng(0)
k = rng.integers(0, 4, {N})
xy = np.array([[-3, 0], [3, 0], [0, 3], [0, -3]])[k] + rng.normal(size=({N}, 2))
rows = scatter(xy, np.array(["a", "b", "c", "d"], dtype=object)[k], key="big_points", rows=np.arange({N}) * 5,
               n_rows=5 * {N}, hover_columns={{"row": np.arange({N}) * 5}}, title="big", cache_key="big")
st.markdown(f"**selected: {{len(rows):,}}**")
"""
CHART = "[class*='st-key-big_points'] .aes-root"
# Bins of the density canvas that hold a colour (alpha > 0), and the view's state.
PAINTED = f"""() => {{
    const v = document.querySelector("{CHART}").aesView, c = v.densCanvas;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return {{painted: n, view: v.root.dataset.view, drawn: +v.root.dataset.lastCount}};
}}"""


def test_a_big_set_draws_a_density_and_points_when_zoomed_in(tmp_path, browser, shot):
    (tmp_path / "big_app.py").write_text(APP)
    with app_server(tmp_path / "runs", tmp_path / "server.log", app=tmp_path / "big_app.py") as (url, _proc):
        ctx = browser.new_context(viewport={"width": 1200, "height": 900})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(url)
            page.locator(f"{CHART}[data-drawn]").wait_for()
            chart = page.locator(CHART)
            assert chart.get_attribute("data-points") == str(N) and chart.get_attribute("data-view") == "density"
            whole = page.evaluate(PAINTED)
            assert whole["painted"] > 5_000 and whole["drawn"] == 0  # a density, no single points
            expect(chart.locator(".aes-note")).to_contain_text("200,000 points")
            shot(page, "density-01-all")

            # Hover in the density: how many points lie under the pointer.
            front = chart.locator(".aes-front")
            b = front.bounding_box()
            centre = page.evaluate(f"""() => {{ const v = document.querySelector("{CHART}").aesView,
                b = v.front.getBoundingClientRect(), [px, py] = v.toPx(3, 0); return [b.left + px, b.top + py]; }}""")
            page.mouse.move(*centre)
            expect(chart.locator(".aes-tip")).to_contain_text(re.compile(r"\d+ points? here"))

            # Hide class "a" in the legend: its cluster leaves the density.
            chart.locator(".aes-item", has_text="a").first.click()
            page.wait_for_timeout(600)  # the legend waits out a double-click
            assert page.evaluate(PAINTED)["painted"] < 0.9 * whole["painted"]
            chart.locator(".aes-item", has_text="a").first.click()
            page.wait_for_timeout(600)

            # Zoom in on the cluster at (3, 0) with the wheel: the points of the view, one by one.
            page.mouse.click(*centre)  # a click arms the wheel (and picks the nearest point: cleared below)
            for _ in range(20):  # each step zooms in 1.8x, about the pointer
                page.mouse.wheel(0, -400)
                page.wait_for_timeout(100)
                if chart.get_attribute("data-view") == "points":
                    break
            expect(chart).to_have_attribute("data-view", "points")
            page.wait_for_timeout(400)  # the gesture rests
            zoomed = page.evaluate(PAINTED)
            assert zoomed["painted"] == 0 and 0 < zoomed["drawn"] <= 15_000
            # Hover on a drawn point names its row.
            near = page.evaluate(f"""() => {{ const v = document.querySelector("{CHART}").aesView,
                b = v.front.getBoundingClientRect(), [cx, cy] = v.toPx(3, 0), i = v.nearest(cx, cy);
                const [px, py] = v.toPx(v.cols.x[i], v.cols.y[i]); return [b.left + px, b.top + py]; }}""")
            page.mouse.move(near[0] + 40, near[1] + 40)
            page.mouse.move(*near, steps=3)
            expect(chart.locator(".aes-tip")).to_contain_text(re.compile(r"row: \d+"))
            shot(page, "density-02-zoomed-in")

            # Reset, then a box around everything selects every row, and the page gets all of them.
            page.mouse.dblclick(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
            expect(chart).to_have_attribute("data-view", "density")
            chart.get_by_role("button", name="Box", exact=True).click()
            page.mouse.move(b["x"] + 2, b["y"] + 2)
            page.mouse.down()
            page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=4)
            page.mouse.move(b["x"] + b["width"] - 2, b["y"] + b["height"] - 2, steps=4)
            page.mouse.up()
            expect(chart).to_have_attribute("data-selected", str(N))
            expect(page.get_by_text(f"selected: {N:,}")).to_be_visible(timeout=60_000)
            assert not errors, errors
        finally:
            ctx.close()
