"""A shared link (`/latent?run=<id>`) opened first thing on a fresh server shows
the app's own navigation and that run's latent space: what a stakeholder sees."""

import re

import pytest

from ae_core.runs.store import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import serve_app

pytestmark = pytest.mark.e2e


def test_deep_link_on_fresh_server_opens_the_run(tmp_path, browser, shot):
    runs = tmp_path / "runs"
    run_id = train_tiny(RunStore(runs), "digits", "vanilla")
    with serve_app(runs, tmp_path) as url:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        try:
            page.goto(f"{url}/latent?run={run_id}")
            nav = page.get_by_test_id("stSidebarNav")
            nav.get_by_text("Latent space", exact=True).wait_for(timeout=60_000)
            assert nav.get_by_text("Upload data", exact=True).is_visible()
            # The page's own files are never listed as an auto-discovered multipage app.
            assert not nav.get_by_text(re.compile(r"^(app|latent|anomalies)$")).count()
            page.locator("[class*='st-key-lat_points_'] .aes-root[data-drawn]").wait_for(timeout=60_000)
            assert run_id in page.url
            shot(page, "deep-link-latent")
        finally:
            ctx.close()
