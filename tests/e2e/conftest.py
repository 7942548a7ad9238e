"""Fixtures for the browser tests: a real `streamlit run` server on a free port
with its own run store, and headless Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("AE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's Chromium. Without it they are skipped, except in
    CI (CI=true), where a missing browser is a failure: .ci/run installs it."""
    if Path(CHROMIUM).exists() or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server and everything it started (training workers), then kill what is left."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)  # workers that outlived the server
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@contextlib.contextmanager
def app_server(runs: Path, log_path: Path, app: str | Path = "app.py"):
    """`streamlit run app.py` (or another script, which can import the project) on a free 127.0.0.1
    port with its own run store (offline), in a process group of its own, with the project's server
    config; yields (url, Popen); stops the server and its training workers."""
    port = _free_port()
    env = {**os.environ, "AE_RUNS_DIR": str(runs), "AE_OFFLINE": "1", "AE_MAX_JOBS": "1",
           "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONPATH": str(ROOT)}
    log = open(log_path, "w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read().decode(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("streamlit did not answer /_stcore/health within 60 s")
            time.sleep(0.3)
        yield url, proc
    finally:
        _stop(proc)
        log.close()


@contextlib.contextmanager
def serve_app(runs: Path, log_dir: Path):
    """app_server, yielding only the URL; its log is log_dir/server.log."""
    with app_server(runs, log_dir / "server.log") as (url, _proc):
        yield url


TRAIN_TIMEOUT = 180_000  # ms: a digits run, including spawning a worker that imports torch (slow on a busy 2-core box)


def nav(page, title: str) -> None:
    """Click a page's link in the sidebar."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()


def no_exception(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)


def wait_idle(page, timeout: int = 30_000) -> None:
    """Until the rerun a click started has finished, as a person waits to see it take effect
    (a click that lands while that rerun is still running can be lost)."""
    page.wait_for_timeout(300)  # the rerun starts a moment after the click
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout, polling=100)


def choose(page, box_label: str, option, pick: str = "last", tries: int = 3) -> None:
    """Open the selectbox labelled `box_label` and click an option matching `option` (text or
    regex). A rerun that lands while the list is open re-draws the box and closes the list (the
    page's own start-up reruns, on a busy machine, can take seconds), so open it again, a few
    times, before failing."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.get_by_test_id("stSelectbox").filter(has_text=box_label)
    for attempt in range(tries):
        box.click()
        target = getattr(page.get_by_role("option").filter(has_text=option), pick)
        try:
            target.click(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")


def start_long_run(page) -> None:
    """From any page: start a digits run on the Train page that keeps training until stopped
    (batch size 1, 500 epochs), and wait until its first epoch shows."""
    import re

    from playwright.sync_api import expect

    nav(page, "Train")
    expect(page.get_by_role("heading", name="Train an autoencoder")).to_be_visible()
    page.get_by_text("Advanced settings").click()
    for label, value in (("Epochs (at most)", "500"), ("Batch size", "1")):
        box = page.get_by_role("spinbutton", name=label, exact=True)
        box.fill(value)
        box.press("Enter")
    expect(page.get_by_role("spinbutton", name="Batch size", exact=True)).to_have_value("1")
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text(re.compile(r"^(Training|Queued) — digits"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"Epoch \d+ of 500"))).to_be_visible(timeout=TRAIN_TIMEOUT)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """A running app with an empty run store, shared by the journey tests."""
    with serve_app(tmp_path_factory.mktemp("e2e") / "runs", tmp_path_factory.mktemp("e2e-log")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None and not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def shot():
    """shot(page, name): a full-page screenshot in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        # Streamlit scrolls inside stMain, so a "full page" screenshot is the viewport:
        # grow the viewport to the content's height for the shot, then put it back.
        page.wait_for_timeout(1500)  # dataframes and charts draw a moment after they appear
        size = page.viewport_size
        height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0")
        path = ARTIFACTS / f"{name}.png"
        try:
            page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height))})
            page.wait_for_timeout(500)
            page.screenshot(path=str(path), full_page=True)
        finally:
            page.set_viewport_size(size)
        return path

    return take
