"""Viewer mode, the editor password and the server-side refusals (Streamlit AppTest through app.py).

The job manager is a FakeManager behind `ui.state._jobs`, so `ui.state.manager()`'s checks (role, run-start
limit) are the real ones and no training process starts."""

from __future__ import annotations

import pytest

from ae_core.runs.spec import make_config
from tests.conftest import FakeManager, app_errors, app_text, page_app, page_on_run

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _error_details():
    """app.py hides error details (st.set_option, process-wide) where viewers can be: restore the option."""
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    yield
    config.set_option("client.showErrorDetails", before)


@pytest.fixture
def jobs(store, monkeypatch):
    import ui.state

    fake = FakeManager(store)
    monkeypatch.setattr(ui.state, "_jobs", lambda: fake)
    return fake


@pytest.fixture
def viewer(monkeypatch):
    monkeypatch.setenv("AE_MODE", "viewer")


def _pages(at) -> set[str]:
    """The pages st.navigation offered in the last run (what the sidebar lists)."""
    return {p["page_name"] for p in at._registered_pages.values()}


def _submit_from_a_script():
    """What a crafted request would reach: the run-start call itself, with no page around it."""
    import streamlit as st

    from ae_core.errors import InputError
    from ae_core.runs.spec import make_config
    from ui import state

    try:
        rec = state.manager().submit(make_config("digits", "vanilla"))
    except InputError as exc:
        st.error(str(exc))
    else:
        st.success(f"started {rec.id}")


def test_viewer_navigation_has_no_train_or_upload(viewer, trained_store):
    at = page_app("home.py").run()
    assert not app_errors(at)
    assert _pages(at) == {"Home", "Latent space", "Reconstructions", "Denoising", "Anomalies", "Compare runs"}
    assert not at.main.button  # no Try it, no Delete, no Pin
    assert [b.key for b in at.sidebar.button] == ["present_enter"]
    assert "View-only demo" in " ".join(c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("page", ["train.py", "upload.py"])
def test_a_viewer_asking_for_train_or_upload_gets_home(viewer, trained_store, page):
    at = page_app(page).run()
    assert [t.value for t in at.title] == ["Autoencoder Explorer"]
    assert not at.file_uploader and not at.main.button


def test_viewer_sees_finished_runs_only(viewer, trained_store):
    store, ids = trained_store
    failed = store.create(make_config("digits", "vanilla"))
    store.update(failed.id, status="failed", error="boom")
    try:
        at = page_app("home.py").run()
        shown = at.dataframe[0].value
        assert len(shown) == len(ids) and "failed" not in set(shown["status"])
        at = page_on_run("latent.py", failed.id)
        assert not app_errors(at)
        assert at.sidebar.selectbox[0].value in ids.values()  # the link to an unfinished run shows a finished one
    finally:
        store.delete(failed.id)


def test_viewer_run_panel_has_no_cancel_or_resume(viewer, store, jobs):
    """Even a viewer who reaches an unfinished run's panel (the Train page's) gets no control."""
    from streamlit.testing.v1 import AppTest

    rec = store.create(make_config("digits", "vanilla"))
    store.update(rec.id, status="interrupted", error="the server stopped")
    store.write_json(rec.id, "checkpoint.json", {"epoch": 3})  # resumable: an editor would see "Resume from epoch 3"
    assert store.resumable(rec.id)

    def panel():
        from ui.run_panel import run_progress_panel
        from ui.state import store

        run_progress_panel(store().list()[0].id)

    at = AppTest.from_function(panel).run()
    assert not at.button and "interrupted" in app_text(at)  # no Resume


def test_viewer_run_start_is_refused_server_side(viewer, store, jobs):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_submit_from_a_script).run()
    assert "view-only session: starting a training run is not allowed" in at.error[0].value
    assert jobs.configs == [] and store.list() == []


def test_viewer_cannot_delete_upload_or_pin(viewer, trained_store):
    from streamlit.testing.v1 import AppTest

    store, ids = trained_store

    def crafted():
        import streamlit as st

        from ae_core.errors import InputError
        from ui import state

        for action in (lambda: state.delete_runs([state.store().list()[0].id]),
                       lambda: state.save_upload("x.csv", b"a,b\n1,2\n"),
                       lambda: state.set_pinned([state.store().list()[0].id], True)):
            try:
                action()
            except InputError as exc:
                st.error(str(exc))

    at = AppTest.from_function(crafted).run()
    assert [e.value.split(": ")[1].split(" is")[0] for e in at.error] == ["deleting runs", "uploading a file",
                                                                          "pinning runs for the demo"]
    assert len(store.list()) == len(ids) and not (store.root / "uploads").exists()


def test_editor_run_starts_are_limited_per_session(store, jobs, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import ui.access

    ui.access._starts.clear()
    monkeypatch.setenv("AE_MAX_STARTS", "2")
    try:
        at = AppTest.from_function(_submit_from_a_script)
        for _ in range(2):
            at.run()
            assert at.success and not at.error
        at.run()
        assert "At most 2 runs may be started per 60 s" in at.error[0].value and "Try again in" in at.error[0].value
        assert len(jobs.configs) == 2
        assert AppTest.from_function(_submit_from_a_script).run().success  # another session has its own count
    finally:
        ui.access._starts.clear()


def _unlock(at, password: str):
    at.sidebar.text_input(key="access_password").input(password)
    at.sidebar.button[0].click()  # the form's submit button
    return at.run()


def test_password_unlocks_editing_for_the_session(trained_store):
    import ui.access

    ui.access._gate.clear()
    at = page_app("home.py")
    at.secrets["access"] = {"editor_password": PASSWORD}
    at.run()
    assert "Train" not in _pages(at) and not at.main.button  # a password protects editing, in editor mode too
    at = _unlock(at, "not it")
    assert [e.value for e in at.sidebar.error] == ["Wrong password."] and "Train" not in _pages(at)
    at = _unlock(at, PASSWORD)
    assert not at.sidebar.error and "Editing unlocked" in at.sidebar.caption[0].value
    assert {"Train", "Upload data"} <= _pages(at)
    assert at.button(key="home_delete")  # the store's controls are back
    assert "access_password" not in at.session_state  # the password is not kept in the session
    at.sidebar.button(key="access_lock").click().run()
    assert "Train" not in _pages(at)


def test_password_tries_are_rate_limited(trained_store):
    import ui.access

    ui.access._gate.clear()
    at = page_app("home.py")
    at.secrets["access"] = {"editor_password": PASSWORD}
    at.run()
    for _ in range(5):
        at = _unlock(at, "guess")
        assert [e.value for e in at.sidebar.error] == ["Wrong password."]
    at = _unlock(at, PASSWORD)  # refused before comparing: the right password does not help now
    assert "Too many wrong passwords. Try again in" in at.sidebar.error[0].value
    assert "Train" not in _pages(at)
    ui.access._gate.clear()


def test_oidc_editor_list_decides(trained_store):
    """With [auth], the signed-in user's e-mail decides (AppTest's at.user stands in for the provider)."""
    at = page_app("home.py")
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://example.com/.well-known/openid-configuration"}
    at.secrets["access"] = {"editors": ["ana@example.com"]}
    at.run()
    assert "Train" not in _pages(at) and at.sidebar.button(key="access_login").label == "Sign in"
    at.user = {"is_logged_in": True, "email": "bob@example.com"}  # AppTest's stand-in for the provider's answer
    at.run()
    assert "Train" not in _pages(at) and "viewer" in at.sidebar.caption[0].value
    at.user = {"is_logged_in": True, "email": "Ana@Example.com"}
    at.run()
    assert "Train" in _pages(at) and "editor" in at.sidebar.caption[0].value


def test_present_mode_from_a_link_hides_the_explanations_and_exits(trained_store):
    _, ids = trained_store
    at = page_app("reconstructions.py")
    at.query_params["run"] = ids["digits"]
    at.query_params["present"] = "1"
    at.run()
    assert not app_errors(at)
    assert not [e for e in at.expander if e.label == "How this works"]
    assert [e.proto.component_name for e in at.get("bidi_component")] == ["ae_present"]  # the style hiding sidebar, captions
    at.button(key="present_exit").click().run()
    assert "present" not in at.query_params
    assert [e for e in at.expander if e.label == "How this works"] and at.sidebar.button(key="present_enter")


def test_an_editor_pins_runs_and_home_opens_on_them(trained_store, monkeypatch):
    store, ids = trained_store
    from ae_core.runs import showcase

    try:
        at = page_app("home.py").run()
        shown = list(at.dataframe[0].value["dataset"])
        row = next(i for i, name in enumerate(shown) if name == "outliers")
        at.session_state[at.session_state["home_runs_table_key"]] = {"selection": {"rows": [row], "columns": []}}
        at.button(key="home_pin_True").click().run()
        assert showcase.read_pins(store) == [ids["outliers"]]
        # A viewer's fresh session: Home shows the pinned run and selects it for the explore pages.
        monkeypatch.setenv("AE_MODE", "viewer")
        at = page_app("home.py").run()
        assert "Demo runs" in [s.value for s in at.subheader]
        assert at.query_params["run"] in (ids["outliers"], [ids["outliers"]])
        assert [p.proto.query_string for p in at.get("page_link")][:1] == [f"run={ids['outliers']}"]
        # AE_SHOWCASE wins over the stored pins.
        monkeypatch.setenv("AE_SHOWCASE", ids["digits"])
        at = page_app("home.py").run()
        assert at.query_params["run"] in (ids["digits"], [ids["digits"]])
    finally:
        showcase.write_pins(store, [])


def test_a_broken_secrets_file_fails_closed(tmp_path, monkeypatch):
    """A password in a file Streamlit cannot parse must not leave the server open to everyone (AE_MODE=editor)."""
    import streamlit as st
    from streamlit import config

    import ui.access

    broken = tmp_path / "secrets.toml"
    broken.write_text('[access]\neditor_password = "unterminated\n')
    before = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(broken)])
    st.secrets._reset()
    try:
        monkeypatch.delenv("AE_MODE", raising=False)
        s = ui.access.settings()
        assert s.identity_provider and not s.editors  # nobody can be an editor
        from ae_core.access import VIEWER, decide_role

        assert decide_role("editor", None, s, unlocked=True) == VIEWER
    finally:
        config.set_option("secrets.files", before)
        st.secrets._reset()
