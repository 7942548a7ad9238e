"""Deleting runs from the Home page in a real browser: tick rows in the table, confirm in the
dialog, and the runs, their folders and the table rows are gone; the others stay."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ae_core.runs import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import app_server, no_exception, wait_idle

pytestmark = pytest.mark.e2e

ROW_PX = 35  # Streamlit's dataframe: header and rows are 35 px high; the tick boxes are the first column


def _tick(page, table, row: int) -> None:
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + ROW_PX * (row + 1) + ROW_PX / 2)


@pytest.mark.timeout(600)
def test_delete_two_of_three_runs_from_home(tmp_path, page, shot):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    ids = [train_tiny(store, "digits", "vanilla", train={"seed": s}) for s in (1, 2, 3)]
    newest, middle, oldest = ids[::-1]
    with app_server(runs, tmp_path / "server.log") as (url, _proc):
        page.goto(url)
        table = page.get_by_test_id("stDataFrame")
        expect(table).to_be_visible()
        page.wait_for_timeout(1000)  # the grid draws on a canvas a moment after it appears
        table.hover()
        _tick(page, table, 0)
        wait_idle(page)
        _tick(page, table, 2)
        wait_idle(page)
        page.get_by_role("button", name="Delete selected runs…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("removed for good")).to_be_visible()
        expect(dialog.get_by_text(store.get(newest).label(), exact=False)).to_be_visible()
        expect(dialog.get_by_text(store.get(oldest).label(), exact=False)).to_be_visible()
        shot(page, "delete-01-confirm")
        assert len(store.list()) == 3  # nothing goes before the answer
        dialog.get_by_role("button", name="Delete 2 runs").click()
        expect(page.get_by_text(re.compile(r"Deleted 2 runs \(.* freed\)"))).to_be_visible(timeout=15_000)
        expect(page.get_by_role("dialog")).to_have_count(0)
        expect(page.get_by_text("1 done")).to_be_visible()
        no_exception(page)
        shot(page, "delete-02-done")
    assert [r.id for r in store.list()] == [middle]
    assert not store.folder(newest).exists() and not store.folder(oldest).exists() and store.folder(middle).exists()
