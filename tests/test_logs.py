"""Logging (ae_core.logs) and what the job manager logs when something unexpected happens."""

from __future__ import annotations

import logging
import time

import pytest

from ae_core.logs import FILE_NAME, LOGGERS, log_dir, setup_logging
from ae_core.runs.jobs import JobManager
from ae_core.runs.local_executor import LocalExecutor
from ae_core.runs.spec import make_config
from ae_core.runs.store import RunStore


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def jobs_log():
    handler = Collect()
    logger = logging.getLogger("ae_core.runs")  # the job manager and its executors
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


@pytest.fixture
def clean_loggers():
    """Leave the process's loggers as they were (setup_logging changes them for good)."""
    saved = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in LOGGERS}
    yield
    for name, (handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            if h not in handlers:
                logger.removeHandler(h)
                h.close()
        logger.propagate = propagate


def _wait(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_setup_logging_writes_beside_the_runs_once_and_follows_a_new_root(tmp_path, clean_loggers):
    setup_logging(tmp_path / "a", stderr=False)
    setup_logging(tmp_path / "a", stderr=False)
    logger = logging.getLogger("ae_core.something")
    logger.info("hello %s", "there")
    assert sum(getattr(h, "_ae_handler", None) == "file" for h in logging.getLogger("ae_core").handlers) == 1
    text = (log_dir(tmp_path / "a") / FILE_NAME).read_text()
    assert text.count("hello there") == 1 and "INFO" in text and "ae_core.something" in text
    setup_logging(tmp_path / "b", stderr=False)
    logger.warning("moved")
    assert "moved" in (log_dir(tmp_path / "b") / FILE_NAME).read_text()
    assert "moved" not in (log_dir(tmp_path / "a") / FILE_NAME).read_text()


def test_an_error_in_the_scheduler_is_logged_with_its_traceback_and_the_loop_goes_on(tmp_path, monkeypatch, jobs_log):
    calls = {"n": 0}
    real = JobManager._start_queued

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected: database briefly locked")
        return real(self)

    monkeypatch.setattr(JobManager, "_start_queued", flaky)
    manager = JobManager(RunStore(tmp_path), standby=False, poll_seconds=0.05)
    try:
        _wait(lambda: calls["n"] >= 3)  # polled again after the failure
        failures = [r for r in jobs_log if "poll failed" in r.getMessage()]
        assert len(failures) == 1 and failures[0].levelno == logging.ERROR
        assert failures[0].exc_info and "injected: database briefly locked" in str(failures[0].exc_info[1])
    finally:
        manager.shutdown()


def test_a_run_whose_worker_cannot_start_is_failed_with_the_reason_not_left_queued(tmp_path, monkeypatch, jobs_log):
    def no_process(self, run_id):
        raise OSError("[Errno 11] Resource temporarily unavailable")

    monkeypatch.setattr(LocalExecutor, "_launch", no_process)
    store = RunStore(tmp_path)
    manager = JobManager(store, standby=False, poll_seconds=0.05)
    try:
        rec = manager.submit(make_config("digits", "vanilla"))
        _wait(lambda: store.get(rec.id).status == "failed")
        assert "could not start" in store.get(rec.id).error and "Resource temporarily unavailable" in store.get(rec.id).error
        assert any("could not start a worker" in r.getMessage() and r.exc_info for r in jobs_log)
        second = manager.submit(make_config("digits", "vanilla"))  # the scheduler is still there
        _wait(lambda: store.get(second.id).status == "failed")
    finally:
        manager.shutdown()
