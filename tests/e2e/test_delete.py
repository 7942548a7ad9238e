"""Deleting runs from the Home page in a real browser: tick rows in the table, confirm in the
dialog, and the runs, their folders and the table rows are gone; the others stay."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ae_core.runs.store import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import app_server, nav, no_exception, start_long_run, wait_idle

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


@pytest.mark.timeout(600)
def test_delete_while_a_run_trains_keeps_the_training_run(tmp_path, page, shot):
    """While a run trains the table refreshes itself every two seconds; ticks survive that, and
    the training run is named in the dialog and left alone."""
    runs = tmp_path / "runs"
    store = RunStore(runs)
    finished = train_tiny(store, "digits", "vanilla")
    with app_server(runs, tmp_path / "server.log") as (url, _proc):
        page.goto(url)
        start_long_run(page)
        nav(page, "Home")
        expect(page.get_by_text(re.compile(r"1 running · 1 done"))).to_be_visible(timeout=15_000)
        table = page.get_by_test_id("stDataFrame")
        page.wait_for_timeout(1000)
        _tick(page, table, 0)  # the training run (newest)
        wait_idle(page)
        _tick(page, table, 1)
        wait_idle(page)
        page.wait_for_timeout(2500)  # a refresh of the table in between
        page.get_by_role("button", name="Delete selected runs…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("cancel it on the Train page first")).to_be_visible()
        shot(page, "delete-03-training-run-refused")
        dialog.get_by_role("button", name="Delete 1 run").click()
        expect(page.get_by_text(re.compile(r"Deleted 1 run \("))).to_be_visible(timeout=15_000)
        busy = [r for r in store.list()]
        assert [r.status for r in busy] == ["running"] and not store.exists(finished)
        store.request_cancel(busy[0].id)
