"""A zip of images from upload to pictures in the latent space, in a real headless Chromium: the report, Train
in the background, then on the Latent space page a hovered point shows its picture and reconstruction (cut from
the run's atlas), and a zoomed-in view draws pictures instead of dots."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import no_exception, serve_app, wait_idle
from tests.image_samples import shapes_zip

pytestmark = pytest.mark.e2e

TRAIN_TIMEOUT = 180_000  # ms: a worker that imports torch, then up to 40 epochs of a small conv model
SCATTER = "[class*='st-key-lat_points_'] .aes-root"


def test_image_zip_upload_to_hover_picture(tmp_path, browser, shot):
    z = shapes_zip(tmp_path / "shapes.zip", n=60, side=24)
    with serve_app(tmp_path / "runs", tmp_path) as base:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        problems = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error"
                and "Failed to load resource" not in m.text else None)  # Streamlit's own probes
        page.goto(base + "/")
        expect(page.get_by_test_id("stSidebarNav")).to_be_visible(timeout=30_000)
        page.goto(base + "/upload")
        page.locator("input[type=file]").set_input_files(str(z))
        expect(page.get_by_role("heading", name="What preparation did")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stMetric").filter(has_text="Images read")).to_contain_text("120")
        expect(page.get_by_test_id("stMetric").filter(has_text="Colour")).to_contain_text("RGB")
        no_exception(page)
        shot(page, "images-01-report")

        page.get_by_role("button", name="Train").click()
        expect(page.get_by_role("button", name="Download coordinates with your rows (CSV)")).to_be_visible(
            timeout=TRAIN_TIMEOUT)
        run_id = page.evaluate("() => new URLSearchParams(location.search).get('run')")
        assert run_id

        page.goto(f"{base}/latent?run={run_id}")
        scatter = page.locator(f"{SCATTER}[data-drawn]")
        scatter.wait_for(timeout=60_000)
        page.locator(f"{SCATTER}[data-atlas='ready']").wait_for(timeout=30_000)
        wait_idle(page)
        b = page.locator(f"{SCATTER} .aes-front").bounding_box()
        # Hover the first point: its picture and its reconstruction appear in the tooltip.
        x, y = page.evaluate("""(sel) => { const v = document.querySelector(sel).aesView;
            const b = v.front.getBoundingClientRect(); const [px, py] = v.toPx(v.cols.x[0], v.cols.y[0]);
            return [b.left + px, b.top + py]; }""", SCATTER)
        page.mouse.move(x + 30, y + 30)
        page.mouse.move(x, y, steps=3)
        tip = page.locator(f"{SCATTER} .aes-tip")
        expect(tip).to_be_visible()
        expect(tip.locator(".aes-tip-pic canvas")).to_have_count(2)
        expect(tip).to_contain_text("reconstruction")
        expect(tip).to_contain_text("file: set/")
        # The picture is the hovered row's disc: its tooltip canvas holds pixels of its class's colour.
        label = "blue" if "label: blue" in tip.inner_text() else "red"
        expect(tip).to_contain_text(f"file: set/{label}/")
        hue = page.evaluate("""([sel, blue]) => { const c = document.querySelector(sel + " .aes-tip-pic canvas");
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let k = 0; k < d.length; k += 4) {
              const [main, other] = blue ? [d[k + 2], d[k]] : [d[k], d[k + 2]];
              if (main > 150 && other < 100) n++;
            }
            return n; }""", [SCATTER, label == "blue"])
        assert hue > 50, hue
        shot(page, "images-02-hover")

        # Zoom in around that point, a notch at a time as a person would, until the view holds few points spread
        # far enough apart: pictures replace the dots. How many notches that takes depends on the trained layout.
        page.mouse.move(x, y)
        page.keyboard.down("Control")  # Ctrl + wheel zooms about the pointer
        thumbs = "(sel) => Number(document.querySelector(sel).dataset.thumbs)"
        for _ in range(14):  # 0.64x the view's width a notch: down to 1/500 of it
            page.mouse.wheel(0, -300)
            page.wait_for_timeout(400)
            if page.evaluate(thumbs, SCATTER) > 0:
                break
        page.keyboard.up("Control")
        page.wait_for_function(f"(sel) => ({thumbs})(sel) > 0", arg=SCATTER, timeout=5_000)
        page.mouse.move(b["x"] + 5, b["y"] + 5)
        shot(page, "images-03-zoomed")
        no_exception(page)
        assert not problems, problems
