"""The main journey in a real browser: first run in one click, a second run
from the Train page, switching pages while it trains, cancelling it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TRAIN_TIMEOUT, choose, nav, no_exception, start_long_run

pytestmark = pytest.mark.e2e



@pytest.mark.timeout(900)
def test_journey(app_url, page, shot):
    # 1. Home, nothing trained yet.
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Autoencoder Explorer")).to_be_visible()
    expect(page.get_by_text("No runs yet")).to_be_visible()
    no_exception(page)
    shot(page, "01-home-empty")

    # 2. One click: a digits run starts and the latent page draws its scatter when it is done.
    page.get_by_role("button", name="Try it: train on digits").click()
    page.wait_for_url(re.compile(r"/latent\?run=[0-9a-f]{12}"))
    # The live panel draws a loss chart too: see the panel first, then wait until it has gone and a chart is drawn.
    expect(page.get_by_role("heading", name="Latent space")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^(Training|Queued) — digits"))).to_be_visible(timeout=30_000)
    page.wait_for_function(
        """() => document.querySelector("[class*='st-key-lat_points_'] .aes-root[data-drawn]") !== null
                 && !/(Training|Queued) — /.test(document.querySelector('[data-testid="stMain"]').innerText)""",
        timeout=TRAIN_TIMEOUT, polling=500,
    )
    expect(page.locator("[class*='st-key-lat_points_'] canvas.aes-gl")).to_be_visible()
    no_exception(page)
    shot(page, "02-latent-first-run")

    # 3. Train: a second, longer run (batch size 1 and many epochs keep it busy until we cancel).
    start_long_run(page)
    no_exception(page)
    shot(page, "03-train-running")

    # 4. Home while it trains: the table lists it as running, the first run as done.
    nav(page, "Home")
    expect(page.get_by_text(re.compile(r"1 running · 1 done"))).to_be_visible(timeout=15_000)
    no_exception(page)
    shot(page, "04-home-running")

    # 5. Back to Train: the run is still selected and still training; cancel it.
    nav(page, "Train")
    expect(page.get_by_text(re.compile(r"Epoch \d+ of 500"))).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_text("This run was cancelled")).to_be_visible(timeout=30_000)
    no_exception(page)
    shot(page, "05-train-cancelled")

    # 6. Home agrees.
    nav(page, "Home")
    expect(page.get_by_text(re.compile(r"1 done · 1 cancelled"))).to_be_visible(timeout=15_000)
    shot(page, "06-home-after-cancel")


def test_train_page_finished_run(app_url, page, shot):
    """The finished first run on the Train page: the AE-vs-PCA sentence and the loss curves."""
    page.goto(f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train an autoencoder")).to_be_visible()
    choose(page, "Run to show", "digits", pick="last")
    expect(page.get_by_text(re.compile(r"AE reconstruction error is [\d.]+x PCA's"))).to_be_visible(timeout=30_000)
    no_exception(page)
    shot(page, "07-train-finished")
