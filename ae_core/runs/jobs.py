"""Background training: a queue, executors that train the runs, cancel and recovery.

The app holds one `JobManager` per server (`st.cache_resource`). `submit`
writes a queued run into the store and returns at once; a scheduler thread
hands queued runs to an `Executor` as it has room, and polls it.

`ae_core.runs.local_executor.LocalExecutor` (the default) trains in worker
processes of this machine; `ae_core.runs.ray_executor.RayExecutor`
(`AE_EXECUTOR=ray`) trains each run as a Ray task instead, and writes what the
task sends home. Both implement `ae_core.runs.executor.Executor`.

Recovery: a run marked running whose process is gone, or whose heartbeat is
older than `STALE_SECONDS`, becomes 'interrupted'. Queued runs survive a
server restart and are started by the next manager.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from ae_core.errors import InputError
from ae_core.runs.executor import Executor
from ae_core.runs.local_executor import LocalExecutor
from ae_core.runs.store import RunRecord, RunStore

log = logging.getLogger(__name__)


def executor_from_env(store: RunStore, max_parallel: int | None = None, kind: str | None = None,
                      **local_options) -> Executor:
    """The executor `kind` or else `AE_EXECUTOR` names: 'local' (the default; `AE_MAX_JOBS` runs at once) or
    'ray' (`AE_RAY_ADDRESS`, e.g. ray://head:10001 or auto; empty: a local Ray instance; `AE_RAY_CPUS` per run)."""
    kind = (kind or os.environ.get("AE_EXECUTOR", "local")).strip().lower() or "local"
    if kind == "local":
        jobs = max_parallel if max_parallel is not None else int(os.environ.get("AE_MAX_JOBS", "1"))
        return LocalExecutor(store, max_parallel=jobs, **local_options)
    if kind == "ray":
        from ae_core.runs.ray_executor import RayExecutor  # imports ray, or says how to install it

        return RayExecutor(store, address=os.environ.get("AE_RAY_ADDRESS") or None,
                           cpus_per_run=int(os.environ.get("AE_RAY_CPUS", "1")))
    raise InputError(f"AE_EXECUTOR must be 'local' or 'ray', got {kind!r}.")


class JobManager:
    """Queues runs and hands them to an executor (worker processes here, by default, or Ray tasks) as it
    has room; cancel, resume and recovery of runs whose worker is gone.

    Parameters
    ----------
    store : RunStore
    max_parallel, threads, standby, standby_delay
        The default `LocalExecutor`'s settings (see there); ignored when `executor` is given.
    poll_seconds : float
        How often the scheduler looks at the queue and the executor's runs.
    executor : Executor or None
        Where runs train; None: a `LocalExecutor`.
    """

    def __init__(self, store: RunStore, max_parallel: int = 1, poll_seconds: float = 0.3, threads: int | None = None,
                 standby: bool = True, standby_delay: float = 0.0, executor: Executor | None = None):
        self.store = store
        self.poll_seconds = poll_seconds
        self.executor = executor if executor is not None else LocalExecutor(
            store, max_parallel=max_parallel, threads=threads, standby=standby, standby_delay=standby_delay)
        self._lock = threading.RLock()  # one executor call at a time: the scheduler's and the pages'
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="ae-job-scheduler", daemon=True)
        self._thread.start()
        # A server stopping (SIGTERM, Ctrl+C) exits with the scheduler perhaps inside a worker's spawn:
        # the child, started but not yet handed its start-up data, would print a traceback.
        # Registered after multiprocessing's own exit hook, so it runs before it.
        atexit.register(self.shutdown)

    @property
    def _standby(self):
        """The local executor's standby worker (process, pipe end), or None."""
        return getattr(self.executor, "_standby", None)

    # ---- public --------------------------------------------------------------

    def submit(self, config: dict, title: str = "") -> RunRecord:
        rec = self.store.create(config, title=title)
        log.info("run %s: queued (%s, %s)", rec.id, rec.dataset, rec.variant)
        self._wake.set()
        return rec

    def cancel(self, run_id: str) -> None:
        self.store.request_cancel(run_id)
        log.info("run %s: cancel requested", run_id)
        with self._lock:
            self.executor.cancel(run_id)
        self._wake.set()

    def resume(self, run_id: str) -> RunRecord:
        """Queue an interrupted/failed/cancelled run again; it continues from its
        last epoch's checkpoint with the same history."""
        if not self.store.resumable(run_id):
            rec = self.store.get(run_id)
            raise InputError(f"run {run_id} is {rec.status} and has no checkpoint to resume from; start a new run instead.")
        self.store.requeue(run_id)
        log.info("run %s: queued again to resume", run_id)
        self._wake.set()
        return self.store.get(run_id)

    def running(self) -> list[str]:
        with self._lock:
            return self.executor.running()

    def queue_position(self, run_id: str) -> int | None:
        """1-based place in the queue of a queued run, else None."""
        queued = sorted(self.store.list(status="queued"), key=lambda r: r.created)
        for i, rec in enumerate(queued, 1):
            if rec.id == run_id:
                return i
        return None

    def recover(self) -> list[str]:
        """Mark runs whose worker is gone (or silent too long) as interrupted."""
        with self._lock:
            return self.executor.recover()

    def shutdown(self, kill: bool = True, timeout: float = 5.0) -> None:
        """Stop the scheduler; with kill, stop the runs too (they become interrupted).
        Also called at interpreter exit; a second call is harmless."""
        atexit.unregister(self.shutdown)
        self.executor.closing.set()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with self._lock:
            self.executor.shutdown(kill=kill, timeout=timeout)

    def wait(self, run_id: str, timeout: float = 120.0) -> RunRecord:
        """Block until the run leaves queued/running (tests and scripts)."""
        end = time.time() + timeout
        while time.time() < end:
            rec = self.store.get(run_id)
            if not rec.active:
                return rec
            time.sleep(0.1)
        raise TimeoutError(f"run {run_id} still {self.store.get(run_id).status} after {timeout} s")

    # ---- scheduler -----------------------------------------------------------

    def _loop(self) -> None:
        last_recover = 0.0
        while not self._stop.is_set():
            try:
                with self._lock:
                    self.executor.progress()
                    self._start_queued()
                    if not self._stop.is_set():
                        self.executor.idle()
                    if time.time() - last_recover > 5.0:
                        self.executor.recover()
                        last_recover = time.time()
            except Exception:  # noqa: BLE001 - the scheduler must outlive a bad poll (db briefly locked, ...)
                log.exception("scheduler: a poll failed; the next one is in %.1f s", self.poll_seconds)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _start_queued(self) -> None:
        free = self.executor.capacity()
        if free <= 0:
            return
        queued = sorted(self.store.list(status="queued"), key=lambda r: r.created)
        for rec in queued[:free]:
            try:
                self.executor.submit(rec.id)
            except InputError as exc:  # the run's own problem (its uploaded file is gone, ...)
                log.warning("run %s: could not start: %s", rec.id, exc)
                self.store.update(rec.id, status="failed", finished=time.time(), error=str(exc))
            except Exception as exc:  # noqa: BLE001 - a run that cannot start must not stay queued for ever
                log.exception("run %s: could not start a worker", rec.id)
                self.store.update(rec.id, status="failed", finished=time.time(),
                                  error=f"the run could not start: {type(exc).__name__}: {exc}")
