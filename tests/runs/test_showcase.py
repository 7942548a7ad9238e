"""Runs pinned for a demo (ae_core.runs.showcase): AE_SHOWCASE, the stored pins, and what is left out."""

from __future__ import annotations

import pytest

from ae_core.errors import InputError
from ae_core.runs import showcase
from ae_core.runs.spec import make_config
from ae_core.runs.store import RunStore


@pytest.fixture
def runs(tmp_path):
    store = RunStore(tmp_path / "runs")
    ids = []
    for status in ("done", "done", "failed"):
        rec = store.create(make_config("digits", "vanilla"))
        store.update(rec.id, status=status)
        ids.append(rec.id)
    return store, ids


def test_parse_ids_keeps_order_and_drops_repeats():
    assert showcase.parse_ids("") == [] and showcase.parse_ids(None) == []
    assert showcase.parse_ids("aaaaaaaaaaaa, bbbbbbbbbbbb,aaaaaaaaaaaa") == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]


def test_parse_ids_rejects_what_is_not_a_run_id():
    with pytest.raises(InputError, match="AE_SHOWCASE must list run ids"):
        showcase.parse_ids("aaaaaaaaaaaa,../../etc")


def test_pins_round_trip_and_survive_a_new_store_object(runs):
    store, (a, b, _) = runs
    assert showcase.pin(store, [b]) == [b]
    assert showcase.pin(store, [a, b]) == [b, a]
    assert showcase.read_pins(RunStore(store.root)) == [b, a]
    assert showcase.unpin(store, [b]) == [a]


def test_only_finished_runs_can_be_pinned(runs):
    store, (_, _, failed) = runs
    with pytest.raises(InputError, match="only finished runs"):
        showcase.pin(store, [failed])
    assert showcase.read_pins(store) == []


def test_showcase_prefers_the_environment_and_skips_runs_that_are_gone(runs):
    store, (a, b, failed) = runs
    showcase.pin(store, [a])
    assert [r.id for r in showcase.showcase(store)] == [a]
    assert [r.id for r in showcase.showcase(store, f"{b},{failed},ffffffffffff")] == [b]  # unfinished, unknown: out
    assert [r.id for r in showcase.showcase(store, "ffffffffffff")] == [a]  # names nothing here: the pins
    store.delete(a)
    assert showcase.showcase(store) == []


def test_a_damaged_pin_file_reads_as_no_pins(runs):
    store, _ = runs
    (store.root / showcase.FILE).write_text("{not json")
    assert showcase.read_pins(store) == []
    (store.root / showcase.FILE).write_text('["../../x", 3]')
    assert showcase.read_pins(store) == []


def test_too_many_pins_are_refused(runs):
    store, (a, _, _) = runs
    with pytest.raises(InputError, match="at most 12 runs"):
        showcase.write_pins(store, [a] + [f"{i:012x}" for i in range(12)])
