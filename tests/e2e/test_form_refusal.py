"""In the browser, an out-of-range setting is kept as typed, named with its range,
and Start stays disabled until it is fixed (the browser's own range check would
keep the old value and let Start train with a number the form does not show);
the form's settings survive a visit to another page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import choose, nav, wait_idle

pytestmark = pytest.mark.e2e


def test_out_of_range_latent_size_blocks_start_until_fixed(app_url, page, shot):
    page.goto(f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train an autoencoder")).to_be_visible(timeout=60_000)
    page.get_by_text("Advanced settings").click()
    start = page.get_by_role("button", name="Start training")
    expect(start).to_be_enabled()
    box = page.get_by_role("spinbutton", name="Latent size (code dimensions)", exact=True)
    box.fill("5000")
    box.press("Enter")
    expect(page.get_by_text("Cannot start: latent size must be between 1 and 1024, got 5000.")).to_be_visible()
    expect(box).to_have_value("5000")
    expect(start).to_be_disabled()
    shot(page, "form-refusal-latent")
    box.fill("8")
    box.press("Enter")
    expect(page.get_by_text("Cannot start:")).to_have_count(0)
    expect(start).to_be_enabled()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_settings_survive_a_visit_to_another_page(app_url, page):
    """Streamlit drops a widget's state when a page without it runs; the Train form keeps what was chosen."""
    page.goto(f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train an autoencoder")).to_be_visible(timeout=60_000)
    choose(page, "Dataset", re.compile(r"^Wine"), pick="first")
    expect(page.get_by_text("features: 13")).to_be_visible()
    page.get_by_text("Advanced settings").click()
    seed = page.get_by_role("spinbutton", name="Seed", exact=True)
    seed.fill("7")
    seed.press("Enter")
    wait_idle(page)
    nav(page, "Home")
    expect(page.get_by_role("heading", name="Autoencoder Explorer")).to_be_visible()
    nav(page, "Train")
    expect(page.get_by_text("features: 13")).to_be_visible()
    page.get_by_text("Advanced settings").click()
    expect(seed).to_have_value("7")
