"""ui/fixes.py: a page switch survives a live panel's timer (Streamlit folds pending reruns into one), and a
Streamlit without the patched code is left alone with a warning."""

import logging
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

from ui.fixes import apply, fragment_of_left_page, stale_fragment_rerun


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



def _page_that_stops_or_draws_a_panel():
    """A page with a live panel (a fragment with a timer), or, once `stop` is set, a page that stops before it
    (as Latent space does while a run trains); `forget` runs what app.py runs after every page."""
    import streamlit as st
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from ui.fixes import forget_undrawn_fragments

    ctx = get_script_run_ctx()
    drawn = st.session_state.setdefault("drawn", set())
    st.markdown(f"panel still registered: {any(ctx.fragment_storage.contains(i) for i in drawn)}")
    forget, stop = st.session_state.get("forget"), st.session_state.get("stop")
    try:
        if stop:
            st.stop()
        st.fragment(run_every=60)(lambda: st.write("live"))()
        drawn |= set(ctx.shared.new_fragment_ids.snapshot())
    finally:
        if forget:  # first: after st.stop() any Streamlit call stops again
            forget_undrawn_fragments()


@pytest.mark.parametrize("forget", [False, True])
def test_a_page_that_stops_early_leaves_no_panel_of_the_page_before(monkeypatch, forget):
    from streamlit.testing.v1 import AppTest

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    at = AppTest.from_function(_page_that_stops_or_draws_a_panel)
    at.session_state["forget"] = forget
    at.run()
    assert at.session_state["drawn"] and not at.exception
    at.session_state["stop"] = True
    at.run()  # the page stops before its panel; the next run looks
    at.run()
    # Plain Streamlit keeps the panel of the run before (the bug: its timer redraws it into another page).
    assert at.markdown[0].value == f"panel still registered: {not forget}"


def test_a_fragment_rerun_of_a_page_the_session_has_left_is_dropped():
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.runtime.app_session import AppSession

    assert fragment_of_left_page("f", "HOME", "LATENT")
    assert not fragment_of_left_page("f", "LATENT", "LATENT")
    assert not fragment_of_left_page("", "HOME", "LATENT")  # a whole-page rerun: a page switch
    assert not fragment_of_left_page("f", "", "LATENT") and not fragment_of_left_page("f", "HOME", "")

    class Session:  # the patched method reads only the page; anything else would fail here
        page_script_hash = "LATENT"

    assert apply()
    AppSession.request_rerun(Session(), ClientState(fragment_id="home_table", page_script_hash="HOME",
                                                    is_auto_rerun=True))
    with pytest.raises(AttributeError):  # the same page's timer goes on to Streamlit
        AppSession.request_rerun(Session(), ClientState(fragment_id="panel", page_script_hash="LATENT"))
