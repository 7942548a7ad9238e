"""Faults: the server is killed (SIGKILL, its whole process group: server,
training worker, standby) while a run trains, then started again on the same
store. Every run is listed again with a truthful status (the killed one
'interrupted', not 'running'), the finished run still draws, the store is not
corrupt, and the interrupted run resumes from its last checkpoint."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ae_core.processes import pid_alive
from ae_core.runs.store import RunStore
from tests.conftest import train_tiny
from tests.e2e.conftest import TRAIN_TIMEOUT, app_server, no_exception, start_long_run

pytestmark = pytest.mark.e2e



def _kill_group(proc) -> None:
    """SIGKILL the server and everything it started: no handler, no cleanup, no last write."""
    os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
    proc.wait(timeout=10)


def _integrity(runs: Path) -> str:
    con = sqlite3.connect(runs / "runs.db")
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def _wait_for(predicate, timeout: float, what: str):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_server_killed_while_training_lists_runs_truthfully_after_restart(tmp_path, page, shot):
    runs = tmp_path / "runs"
    store = RunStore(runs)
    done_id = train_tiny(store, "digits", "vanilla")

    # 1. A long run (batch size 1, 500 epochs) trains on the first server.
    with app_server(runs, tmp_path / "server-1.log") as (url, proc):
        page.goto(url)
        expect(page.get_by_role("heading", name="Autoencoder Explorer")).to_be_visible()
        start_long_run(page)
        killed_id = page.url.split("run=")[-1][:12]
        assert store.get(killed_id).status == "running"
        # A checkpoint to resume from (the first epoch's is always written).
        _wait_for(lambda: store.has(killed_id, "checkpoint.json"), 60, "the first checkpoint")
        worker_pid = store.get(killed_id).pid
        assert pid_alive(worker_pid)
        shot(page, "restart-01-training")

        # 2. Kill it all, mid-epoch.
        _kill_group(proc)
        _wait_for(lambda: not pid_alive(worker_pid), 10, "the worker to die with its process group")

    # Nobody has looked yet: the store still says running (only a live manager can tell otherwise).
    assert store.get(killed_id).status == "running"
    assert _integrity(runs) == "ok"
    ckpt_epoch = store.read_json(killed_id, "checkpoint.json")["epoch"]
    killed_at_epoch = int(store.get(killed_id).progress.get("epoch", 0))

    # 3. A new server on the same store: Home lists both runs, the killed one as interrupted.
    with app_server(runs, tmp_path / "server-2.log") as (url, proc):
        page.goto(url)
        expect(page.get_by_role("heading", name="Autoencoder Explorer")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"^1 done · 1 interrupted$"))).to_be_visible(timeout=10_000)
        no_exception(page)
        shot(page, "restart-02-home-after-restart")
        killed = store.get(killed_id)
        assert killed.status == "interrupted", (killed.status, killed.error)
        assert "stopped unexpectedly" in killed.error
        assert killed.finished is not None
        assert store.get(done_id).status == "done"
        assert {r.id for r in store.list()} == {done_id, killed_id}
        assert _integrity(runs) == "ok"

        # 4. The finished run is whole: its latent space draws.
        page.goto(f"{url}/latent?run={done_id}")
        expect(page.get_by_role("heading", name="Latent space")).to_be_visible(timeout=60_000)
        page.locator("[class*='st-key-lat_points_'] .aes-root[data-drawn]").wait_for(timeout=60_000)
        no_exception(page)
        shot(page, "restart-03-latent-finished-run")

        # 5. The interrupted run says why, and resumes from its last checkpoint.
        page.goto(f"{url}/train?run={killed_id}")
        expect(page.get_by_text("This run was interrupted:")).to_be_visible(timeout=60_000)
        resume = page.get_by_role("button", name=f"Resume from epoch {ckpt_epoch}")
        expect(resume).to_be_visible()
        shot(page, "restart-04-train-interrupted")
        resume.click()
        expect(page.get_by_text(re.compile(r"^(Training|Queued) — digits"))).to_be_visible(timeout=30_000)
        expect(page.get_by_text(re.compile(r"Epoch \d+ of 500"))).to_be_visible(timeout=TRAIN_TIMEOUT)
        # It really trains again, past the epoch it was killed in, keeping the earlier epochs' history.
        resumed = _wait_for(lambda: (r := store.get(killed_id)).status == "running"
                            and int(r.progress.get("epoch", 0)) > killed_at_epoch and r, 120,
                            f"the resumed run to pass epoch {killed_at_epoch}")
        assert resumed.error == ""
        assert [h["epoch"] for h in resumed.progress["history"][:ckpt_epoch]] == list(range(1, ckpt_epoch + 1))
        no_exception(page)
        shot(page, "restart-05-train-resumed")
        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_text("This run was cancelled")).to_be_visible(timeout=30_000)

    assert _integrity(runs) == "ok"
    for name in ("server-1.log", "server-2.log"):
        text = (tmp_path / name).read_text(errors="replace")
        assert "Traceback" not in text and "database is locked" not in text, f"{name}:\n{text[-3000:]}"
