"""app.py, the entry point: what it does in the processes the server spawns."""

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
    monkeypatch.setattr(st, "navigation", lambda pages, **_: types.SimpleNamespace(run=lambda: started.append("pages")))
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
