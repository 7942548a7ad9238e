"""Background training: a queue, executors that train the runs, cancel and recovery.

The app holds one `JobManager` per server (`st.cache_resource`). `submit`
writes a queued run into the store and returns at once; a scheduler thread
hands queued runs to an `Executor` as it has room, and polls it.

`LocalExecutor` (the default) starts at most `max_parallel` worker processes
(multiprocessing's spawn context: a clean interpreter, no forked Streamlit
state) and reaps them. The store is the only channel between them: the worker
writes progress and a heartbeat, the page polls it, a cancel is a flag the
worker polls. `ae_core.runs.ray_executor.RayExecutor` (`AE_EXECUTOR=ray`)
trains each run as a Ray task instead, and writes what the task sends home.

Recovery: a run marked running whose process is gone, or whose heartbeat is
older than `STALE_SECONDS`, becomes 'interrupted'. Queued runs survive a
server restart and are started by the next manager.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import os
import threading
import time

from ae_core.errors import InputError
from ae_core.logs import setup_logging
from ae_core.processes import lower_this_thread, pid_alive
from ae_core.runs.store import RunRecord, RunStore, interrupted_reason

log = logging.getLogger(__name__)

STALE_SECONDS = 30.0  # a running run silent for longer than this has lost its process
HEARTBEAT_SECONDS = 2.0
CANCEL_GRACE_SECONDS = 5.0  # after a cancel, a worker that has not stopped is terminated


def _heartbeat(store: RunStore, run_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            store.update(run_id, pid=os.getpid())  # bumps `updated`
        except Exception:  # noqa: BLE001 - a missed beat is not worth killing the run
            log.warning("run %s: a heartbeat could not be written", run_id, exc_info=True)


def worker_main(root: str, run_id: str, threads: int | None = None) -> None:
    """Entry point of a worker process: claim the run, train it, exit."""
    setup_logging(root)
    import torch

    from ae_core.runs.execute import execute_run

    if threads:
        torch.set_num_threads(threads)
    store = RunStore(root)
    # The manager claims the run with this pid right after starting us; whichever
    # of the two claims first wins, the other finds the row already ours.
    if not store.claim(run_id, os.getpid()):
        rec = store.get(run_id)
        if rec.status != "running" or rec.pid != os.getpid():
            return  # cancelled while queued, or claimed by another worker
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store, run_id, stop), daemon=True)
    beat.start()
    log.info("run %s: training in worker %d", run_id, os.getpid())
    try:
        status = execute_run(store, run_id)
    finally:
        stop.set()
    log.info("run %s: %s", run_id, status)


def _preload() -> None:
    """What every run needs before its first batch, in a low-priority thread, so that the standby's
    seconds of imports give way to the server and the browser drawing a page."""
    lower_this_thread()
    import torch

    from ae_core.runs import execute as pipeline
    pipeline.preload()  # scikit-learn: 1.4 s of a digits run's 2.7 s when the run imported it itself
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)], fused=True)  # its first use imports more of torch (~1.5 s)


def standby_main(root: str, conn, threads: int | None = None) -> None:
    """A worker started before it is needed: it imports torch, the pipeline and scikit-learn and pays
    the optimizer's one-time set-up (in a low-priority thread), then waits for a run id. Handing a run
    to it skips seconds of start-up, which is most of a small run's wait. The run trains in the main
    thread, at normal priority."""
    setup_logging(root)
    loading = threading.Thread(target=_preload, name="ae-standby-imports", daemon=True)
    loading.start()
    try:
        run_id = conn.recv()
    except (EOFError, OSError):
        return  # the server went away
    loading.join()  # a run handed over early waits for the rest of the imports
    if run_id:
        worker_main(root, run_id, threads)


class Executor:
    """Where runs train. The job manager's scheduler thread calls these, one call at a time; another
    kind of executor (Kubernetes jobs, ...) is one more subclass.

    Attributes
    ----------
    name : str
        'local', 'ray', ...: what `AE_EXECUTOR` names.
    closing : threading.Event
        Set when the manager shuts down: start nothing new.
    """

    name = "executor"

    def __init__(self):
        self.closing = threading.Event()

    def capacity(self) -> int:
        """How many more runs it can start now."""
        raise NotImplementedError

    def submit(self, run_id: str) -> None:
        """Start the queued run `run_id` and claim it in the store (status 'running')."""
        raise NotImplementedError

    def progress(self) -> None:
        """Bring progress home, and record the runs that ended (done, failed, cancelled, interrupted)."""
        raise NotImplementedError

    def cancel(self, run_id: str) -> None:
        """Stop run `run_id` if it trains here; the store's cancel flag is already set."""
        raise NotImplementedError

    def recover(self) -> list[str]:
        """Mark runs left 'running' with nothing training them as interrupted; returns their ids."""
        raise NotImplementedError

    def running(self) -> list[str]:
        raise NotImplementedError

    def idle(self) -> None:
        """Called on every scheduler poll: work ahead of need (the local standby worker)."""

    def shutdown(self, kill: bool = True, timeout: float = 5.0) -> None:
        """Stop; with kill, stop the runs too (they become interrupted)."""
        raise NotImplementedError


class LocalExecutor(Executor):
    """One spawned worker process per run on this machine, at most `max_parallel` at once.

    Parameters
    ----------
    store : RunStore
    max_parallel : int
        Concurrent trainings; 1 suits a 2-core machine (the server needs a core).
    threads : int or None
        torch threads per worker; default: all cores but one (the server's).
    standby : bool
        Keep one worker process started ahead of need (torch imported), so a
        new run starts training at once; it is spawned only while idle.
    standby_delay : float
        Seconds from the executor's start to its first standby worker. A server
        starts its manager with its first page; the delay keeps the worker's
        imports (seconds of a core) off the two cores that page is drawn with.
    """

    name = "local"

    def __init__(self, store: RunStore, max_parallel: int = 1, threads: int | None = None, standby: bool = True,
                 standby_delay: float = 0.0):
        super().__init__()
        self.store = store
        self.max_parallel = max(1, int(max_parallel))
        self.threads = threads if threads is not None else max(1, (os.cpu_count() or 2) - 1)
        self._ctx = mp.get_context("spawn")
        self._procs: dict[str, mp.process.BaseProcess] = {}
        self.standby = standby
        self._standby: tuple[mp.process.BaseProcess, object] | None = None  # (process, pipe end)
        self._standby_from = time.monotonic() + standby_delay
        self._cancel_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def capacity(self) -> int:
        with self._lock:
            return self.max_parallel - sum(p.is_alive() for p in self._procs.values())

    def submit(self, run_id: str) -> None:
        p = self._launch(run_id)
        with self._lock:
            self._procs[run_id] = p
        # Claim on the worker's behalf: the row shows 'running' (and its pid) at once.
        self.store.claim(run_id, p.pid)
        log.info("run %s: started in process %d", run_id, p.pid)

    def progress(self) -> None:
        # The workers write their progress into the store themselves; here, the ended ones are reaped.
        self._reap()
        self._enforce_cancels()

    def cancel(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._procs:
                self._cancel_at.setdefault(run_id, time.time())

    def running(self) -> list[str]:
        with self._lock:
            return [rid for rid, p in self._procs.items() if p.is_alive()]

    def recover(self) -> list[str]:
        """Mark runs whose process is gone (or silent too long) as interrupted."""
        now = time.time()
        with self._lock:
            mine = {rid for rid, p in self._procs.items() if p.is_alive()}
        return self.store.mark_orphans(
            lambda pid: any(self._procs[r].pid == pid for r in mine)
            or (pid_alive(pid) and not self._stale(pid, now))
        )

    def _stale(self, pid: int, now: float) -> bool:
        for rec in self.store.list(status="running"):
            if rec.pid == pid:
                return now - rec.updated > STALE_SECONDS
        return False

    def idle(self) -> None:
        self._ensure_standby()

    def shutdown(self, kill: bool = True, timeout: float = 5.0) -> None:
        with self._lock:
            procs = dict(self._procs)
        for rid, p in procs.items():
            if kill and p.is_alive():
                p.terminate()
            p.join(timeout)
        if self._standby is not None:
            proc, conn = self._standby
            self._standby = None
            conn.close()  # the standby sees EOF and exits
            proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
        self._reap()

    # ---- processes -----------------------------------------------------------

    def _take_standby(self, run_id: str):
        """The standby process, handed `run_id`, or None if there is none ready."""
        standby, self._standby = self._standby, None
        if standby is None:
            return None
        proc, conn = standby
        try:
            if proc.is_alive():
                conn.send(run_id)
                return proc
        except OSError:
            pass
        finally:
            conn.close()
        proc.join(0)
        return None

    def _ensure_standby(self) -> None:
        """Start a standby worker, only while nothing trains (it would steal a core)."""
        if not self.standby or self.closing.is_set() or time.monotonic() < self._standby_from:
            return
        if self._standby is not None:
            proc = self._standby[0]
            if proc.is_alive():
                return
            if proc.exitcode is not None and proc.exitcode < 0:
                # Killed by a signal: the whole process group is stopping (Ctrl+C, SIGTERM to the server).
                # A worker started now would outlive its parent's start-up handshake and print a traceback.
                # The next run takes the slow path (a fresh worker) and clears this.
                return
        with self._lock:
            if any(p.is_alive() for p in self._procs.values()):
                return
        ours, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(target=standby_main, args=(str(self.store.root), theirs, self.threads),
                                 name="ae-train-standby", daemon=True)
        proc.start()
        theirs.close()
        self._standby = (proc, ours)

    def _launch(self, run_id: str):
        """A started worker process for `run_id`: the standby if one is ready, else a new one."""
        p = self._take_standby(run_id)
        if p is None:
            p = self._ctx.Process(target=worker_main, args=(str(self.store.root), run_id, self.threads),
                                  name=f"ae-train-{run_id}", daemon=True)
            p.start()
        return p

    def _reap(self) -> None:
        with self._lock:
            finished = {rid: p for rid, p in self._procs.items() if not p.is_alive()}
            for rid in finished:
                del self._procs[rid]
                self._cancel_at.pop(rid, None)
        for rid, p in finished.items():
            p.join(0)
            try:
                rec = self.store.get(rid)
            except InputError:  # deleted meanwhile
                continue
            if rec.status == "running":
                if rec.cancel_requested:
                    self.store.update(rid, status="cancelled", finished=time.time(), error="cancelled by the user")
                else:
                    code = p.exitcode
                    why = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    log.warning("run %s: its worker ended without a result (%s)", rid, why)
                    self.store.update(rid, status="interrupted", finished=time.time(),
                                      error=interrupted_reason(why))

    def _enforce_cancels(self) -> None:
        now = time.time()
        with self._lock:
            late = [(rid, self._procs[rid]) for rid, t in self._cancel_at.items()
                    if now - t > CANCEL_GRACE_SECONDS and rid in self._procs]
        for rid, p in late:
            if p.is_alive():
                p.terminate()


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
