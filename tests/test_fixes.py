"""ui/fixes.py: a page switch survives a live panel's timer (Streamlit folds pending reruns into one); the
server log says when the UMAP warm-up is done."""

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



def test_a_process_the_server_spawns_does_not_run_the_app(monkeypatch):
    """multiprocessing's spawn re-runs the parent's main script (under Streamlit: app.py) in every child as
    "__mp_main__". There it must do nothing: no page, no UMAP helper of its own (which would fail at bootstrap)."""
    import runpy
    import types

    import streamlit as st

    from tests.conftest import APP
    from ui import state

    started = []
    monkeypatch.setattr(state, "start_projector", lambda: started.append("helper"))
    monkeypatch.setattr(st, "navigation", lambda pages: types.SimpleNamespace(run=lambda: started.append("pages")))
    runpy.run_path(APP, run_name="__mp_main__")
    assert started == []
    runpy.run_path(APP, run_name="__main__")  # as Streamlit runs it
    assert started == ["helper", "pages"]


def test_a_spawned_process_does_not_import_streamlit_for_the_app_file():
    """What a training worker or the UMAP helper pays for app.py, run as "__mp_main__" in a fresh
    interpreter (as multiprocessing's spawn does): no Streamlit, no page code; only its own work."""
    import json
    import subprocess
    import sys

    from tests.conftest import APP

    code = ("import json, runpy, sys; runpy.run_path(sys.argv[1], run_name='__mp_main__'); "
            "print(json.dumps(sorted(m for m in ('streamlit', 'ui', 'ae_core', 'pandas', 'numpy') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, APP], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []
