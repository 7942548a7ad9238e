"""Sharing a demo, in a real browser: a viewer-mode server with an editor password.

One server for the whole story (starting servers is the slow part): a viewer walks every page and finds no
control that changes the store, and asking for /train or /upload by hand opens Home; a shared link with a
selection opens with that selection; the dark theme and present mode are screenshotted; an editor unlocks
with the password and trains."""

import re

import pytest
from playwright.sync_api import expect

from ae_core.runs.store import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import TRAIN_TIMEOUT, app_server, nav, no_exception, wait_idle

pytestmark = pytest.mark.e2e

PASSWORD = "demo-pass-7"
EXPLORE = ["Latent space", "Reconstructions", "Denoising", "Anomalies", "Compare runs", "Home"]
# Buttons that would change the run store: none may be on a viewer's page.
CHANGES = re.compile(r"^(?!Help for).*\b(train|start training|delete|pin for demo|unpin|cancel|resume|upload)\b", re.I)
SCATTER = "[class*='st-key-lat_points_'] .aes-root"


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """A viewer-mode server (AE_MODE=viewer) with a finished digits run and an editor password in its secrets."""
    runs = tmp_path / "runs"
    run_id = train_tiny(RunStore(runs), "digits", "vanilla")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[access]\neditor_password = "{PASSWORD}"\n')
    monkeypatch.setenv("AE_MODE", "viewer")
    monkeypatch.setenv("STREAMLIT_SECRETS_FILES", str(secrets))  # streamlit run's --secrets.files
    with app_server(runs, tmp_path / "server.log") as (url, _proc):
        yield url, run_id


def _no_store_controls(page) -> None:
    names = [b.get_attribute("aria-label") or b.inner_text() for b in page.get_by_role("button").all()]
    assert not [n for n in names if CHANGES.search(n or "")], names
    expect(page.locator("input[type=file]")).to_have_count(0)


def test_viewer_walks_the_pages_shares_a_selection_and_an_editor_unlocks(demo, browser, shot):
    url, run_id = demo
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    page = ctx.new_page()
    page.set_default_timeout(30_000)
    try:
        # 1. A viewer: the pages that explore, nothing that changes the store.
        page.goto(f"{url}/?run={run_id}")
        expect(page.get_by_role("heading", name="Autoencoder Explorer")).to_be_visible(timeout=60_000)
        links = page.get_by_test_id("stSidebarNav").get_by_role("link")
        expect(links).to_have_count(len(EXPLORE))
        assert sorted(t.split("\n")[-1] for t in links.all_inner_texts()) == sorted(EXPLORE)  # (after the icon's name)
        for title in EXPLORE:
            nav(page, title)
            wait_idle(page, timeout=90_000)
            no_exception(page)
            _no_store_controls(page)
        # A crafted request for a page that changes the store opens Home instead.
        for path in ("train", "upload"):
            page.goto(f"{url}/{path}?run={run_id}")
            expect(page.get_by_role("heading", name="Autoencoder Explorer")).to_be_visible()
            wait_idle(page)
            expect(page.get_by_role("button", name="Start training")).to_have_count(0)
            _no_store_controls(page)

        # 2. A shared link with a selection opens with it: listed, and drawn as selected.
        page.goto(f"{url}/latent?run={run_id}&proj=pca&colour=split&sel=3-5.40")
        expect(page.get_by_role("heading", name="4 selected")).to_be_visible(timeout=60_000)
        expect(page.locator(f"{SCATTER}[data-drawn]")).to_have_count(1, timeout=30_000)
        expect(page.locator(SCATTER)).to_have_attribute("data-selected", "4")
        expect(page.get_by_role("combobox", name="Projection")).to_have_value("PCA")
        wait_idle(page)
        shot(page, "sharing-01-link-dark")  # the browser asks for dark: the app and the chart follow

        # 3. Present mode: no sidebar, no captions, pages in the top bar; Exit brings them back.
        page.get_by_role("button", name="Present").click()
        expect(page.get_by_role("button", name="Exit presentation")).to_be_visible()
        expect(page.get_by_test_id("stSidebar")).to_be_hidden()
        expect(page.locator(f"{SCATTER}[data-drawn]")).to_have_count(1, timeout=30_000)
        assert "present=1" in page.url
        wait_idle(page)
        shot(page, "sharing-02-present-dark")
        page.get_by_role("button", name="Exit presentation").click()
        expect(page.get_by_test_id("stSidebar")).to_be_visible()

        # 4. An editor unlocks with the password (a wrong one first) and trains.
        page.get_by_text("Editor sign-in").click()
        box = page.get_by_label("Editor password")
        box.fill("wrong")
        page.get_by_role("button", name="Unlock editing").click()
        expect(page.get_by_text("Wrong password.")).to_be_visible()
        page.get_by_label("Editor password").fill(PASSWORD)
        page.get_by_role("button", name="Unlock editing").click()
        expect(page.get_by_text("Editing unlocked for this browser tab.")).to_be_visible()
        nav(page, "Train")
        expect(page.get_by_role("heading", name="Train an autoencoder")).to_be_visible()
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text(re.compile(r"^Finished — digits"))).to_be_visible(timeout=TRAIN_TIMEOUT)
        no_exception(page)
        shot(page, "sharing-03-editor-trained")
    finally:
        ctx.close()
