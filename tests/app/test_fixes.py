"""ui/fixes.py: a page switch survives a live panel's timer (Streamlit folds pending reruns into one), and a
Streamlit without the patched code is left alone with a warning."""

import logging

import pytest
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

from ui.fixes import apply, stale_fragment_rerun


def folded(*requests) -> RerunData:
    """The rerun Streamlit will run after these requests arrived before the script reached a yield point."""
    assert apply()
    r = ScriptRequests()
    for data in requests:
        assert r.request_rerun(data)
    return r._rerun_data


def test_a_page_switch_survives_the_old_pages_timer():
    got = folded(RerunData(query_string="run=abc", page_script_hash="LATENT"),
                 RerunData(query_string="", page_script_hash="HOME", fragment_id="home_table", is_auto_rerun=True))
    assert got.page_script_hash == "LATENT" and got.query_string == "run=abc"
    assert not got.fragment_id_queue  # still the whole (new) page


def test_timers_on_the_same_page_still_fold_as_streamlit_does():
    # A widget click on the page, then that page's own timer: one whole-page rerun (Streamlit's rule).
    got = folded(RerunData(query_string="", page_script_hash="HOME"),
                 RerunData(query_string="", page_script_hash="HOME", fragment_id="home_table", is_auto_rerun=True))
    assert got.page_script_hash == "HOME" and not got.fragment_id_queue
    # A timer alone reruns its fragment only.
    got = folded(RerunData(query_string="", page_script_hash="HOME", fragment_id="home_table", is_auto_rerun=True))
    assert got.fragment_id_queue == ["home_table"]
    # Two timers of one page: both fragments.
    got = folded(RerunData(query_string="", page_script_hash="TRAIN", fragment_id="a", is_auto_rerun=True),
                 RerunData(query_string="", page_script_hash="TRAIN", fragment_id="b", is_auto_rerun=True))
    assert got.fragment_id_queue == ["a", "b"]


def test_only_a_fragment_rerun_of_another_page_is_dropped():
    switch = RerunData(query_string="", page_script_hash="LATENT")
    assert stale_fragment_rerun(switch, RerunData(query_string="", page_script_hash="HOME", fragment_id="f"))
    assert not stale_fragment_rerun(switch, RerunData(query_string="", page_script_hash="LATENT", fragment_id="f"))
    assert not stale_fragment_rerun(switch, RerunData(query_string="", page_script_hash="HOME"))  # a whole-app rerun
    assert not stale_fragment_rerun(None, RerunData(query_string="", page_script_hash="HOME", fragment_id="f"))
    fragment = RerunData(query_string="", page_script_hash="HOME", fragment_id_queue=["g"])
    assert not stale_fragment_rerun(fragment, RerunData(query_string="", page_script_hash="LATENT", fragment_id="f"))
    assert apply() and apply()  # idempotent


class _NoSuchMethod:
    """A Streamlit whose ScriptRequests lacks the method the fix patches."""

    def __init__(self):
        self._state, self._rerun_data = None, None


class _NoAttributes:
    def __init__(self):
        pass

    def _request_rerun_locked(self, data):
        return True


@pytest.mark.parametrize("fake, missing", [(_NoSuchMethod, "ScriptRequests._request_rerun_locked"),
                                           (_NoAttributes, "ScriptRequests()._state")])
def test_a_streamlit_without_the_patched_code_is_left_alone_with_a_warning(monkeypatch, caplog, fake, missing):
    from streamlit.runtime.scriptrunner_utils import script_requests

    monkeypatch.setattr(script_requests, "ScriptRequests", fake)
    before = dict(vars(fake))
    with caplog.at_level(logging.WARNING, logger="ui.fixes"):
        monkeypatch.setattr(logging.getLogger("ui"), "propagate", True)
        assert apply() is False
    assert vars(fake) == before  # nothing patched
    assert any(missing in r.getMessage() and "not applied" in r.getMessage() for r in caplog.records)

