"""A shared server's settings, checked: XSRF protection and CORS stay on in the effective configuration,
error details are hidden where viewers can be, and a viewer-mode server starts no job manager or worker."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

EFFECTIVE = """
import json
from streamlit import config
config.get_config_options(force_reparse=True)
print(json.dumps({k: config.get_option(k) for k in
                  ("server.enableXsrfProtection", "server.enableCORS", "server.address", "client.showErrorDetails")}))
"""


def _effective(*args: str) -> dict:
    """The options Streamlit would run with from the project folder (its .streamlit/config.toml)."""
    out = subprocess.run([sys.executable, "-c", EFFECTIVE, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_xsrf_and_cors_are_on_in_the_effective_config():
    got = _effective()
    assert got["server.enableXsrfProtection"] is True
    assert got["server.enableCORS"] is True
    assert got["server.address"] == "127.0.0.1"  # sharing on a network is a choice made at start-up


def test_the_project_config_never_turns_the_protections_off():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()).get("server", {})
    assert server.get("enableXsrfProtection", True) is True and server.get("enableCORS", True) is True


def test_viewer_script_hides_error_details():
    """scripts/app.sh --viewer exports AE_MODE=viewer and passes --client.showErrorDetails none to streamlit."""
    script = ROOT / "scripts" / "app.sh"
    # The script as written, with its set-up step skipped and streamlit replaced by an echo of what it gets.
    text = script.read_text().replace("bash scripts/setup.sh", ":").replace(
        "exec .venv/bin/streamlit run app.py", 'echo "AE_MODE=$AE_MODE"; echo')
    out = subprocess.run(["bash", "-c", text, str(script), "--viewer", "--server.port", "8799"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split("\n")[:2] == ["AE_MODE=viewer", "--client.showErrorDetails none --server.port 8799"]


@pytest.fixture
def error_details():
    """st.set_option is process-wide: put the option back for the tests after this one."""
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    yield
    config.set_option("client.showErrorDetails", before)


@pytest.mark.parametrize("mode, secrets, shown", [("viewer", {}, "none"), ("editor", {"access": {"editor_password": "pw"}}, "none"),
                                                  ("editor", {}, "full")],
                         ids=["viewer-mode", "password", "laptop"])
def test_error_details_are_hidden_where_viewers_can_be(store, monkeypatch, error_details, mode, secrets, shown):
    from streamlit import config

    from tests.conftest import page_app

    config.set_option("client.showErrorDetails", "full")
    monkeypatch.setenv("AE_MODE", mode)
    at = page_app("home.py")
    for k, v in secrets.items():
        at.secrets[k] = v
    at.run()
    assert config.get_option("client.showErrorDetails") == shown


@pytest.mark.parametrize("mode, started", [("viewer", False), ("editor", True)])
def test_a_viewer_server_starts_no_job_manager(store, monkeypatch, mode, started):
    import ui.state
    from tests.conftest import page_app

    made = []
    monkeypatch.setenv("AE_MODE", mode)
    monkeypatch.setenv("AE_WARM_UP", "1")  # helpers on, as on a real server
    monkeypatch.setattr(ui.state, "_manager", lambda *a: made.append(a))
    monkeypatch.setattr(ui.state, "_projector", lambda: None)  # no UMAP helper process in this test
    at = page_app("home.py").run()
    assert not at.exception
    assert bool(made) is started
