"""The shared page helpers of ui/state.py, through the pages that use them (Streamlit's AppTest)."""

from __future__ import annotations

import pytest

from tests.conftest import page_app, train_tiny

EXPLORE_PAGES = ["latent.py", "reconstructions.py", "denoising.py", "anomalies.py"]


@pytest.mark.parametrize("page", EXPLORE_PAGES + ["compare.py"])
def test_a_page_without_finished_runs_says_so_and_links_to_train(store, page):
    at = page_app(page).run()
    assert not at.exception
    assert at.info, "the page explains that there is nothing to show yet"
    links = [e for e in at.get("page_link") if "train" in e.proto.page.lower()]
    assert links, "and links to the Train page"


@pytest.mark.parametrize("page", EXPLORE_PAGES)
def test_a_damaged_run_shows_the_clear_message_not_a_traceback(store, page):
    run_id = train_tiny(store)
    (store.folder(run_id) / "weights.safetensors").write_bytes(b"not a safetensors file")
    at = page_app(page)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    assert any("weights" in e.value for e in at.error), [e.value for e in at.error]
