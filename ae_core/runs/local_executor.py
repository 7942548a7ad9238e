"""Training in worker processes of this machine (the default executor).

`LocalExecutor` starts at most `max_parallel` worker processes (multiprocessing's spawn context: a clean
interpreter, no forked Streamlit state) and reaps them. The store is the only channel between them: the
worker writes progress and a heartbeat, the page polls it, a cancel is a flag the worker polls. One
worker waits ready ahead of need (torch and scikit-learn imported), so a new run starts at once.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import threading
import time

from ae_core.errors import InputError
from ae_core.logs import setup_logging
from ae_core.processes import lower_this_thread, pid_alive
from ae_core.runs.executor import CANCEL_GRACE_SECONDS, HEARTBEAT_SECONDS, STALE_SECONDS, Executor
from ae_core.runs.store import RunStore, interrupted_reason

log = logging.getLogger(__name__)


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
