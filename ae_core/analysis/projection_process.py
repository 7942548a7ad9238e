"""UMAP in a long-lived helper process, so that the server never runs numba's compiler.

numba compiles UMAP's code on first use, for half a minute or more with the GIL held much of the time;
in a thread of the server that slowed every page of every session (benchmarks/FINDINGS.md §5). The
helper compiles in an interpreter of its own, in a low-priority thread, and then serves the server's
UMAP requests: the compiled code stays in the helper for the life of the server.

    projector = Projector().start()      # the app holds one per server
    Y = projector.fit(Z, 2, seed=0)      # what projection.project(..., umap=projector.fit) calls

A request during the warm-up waits for the compiler (as it would in-process) and costs the server
nothing meanwhile. If the helper dies, the next request starts a new one.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import threading
import time

import numpy as np

from ae_core.logs import setup_logging
from ae_core.processes import lower_this_thread

log = logging.getLogger(__name__)

WARM_UP_DONE = "UMAP compiled in the background"  # the server log's line when the warm-up is done
FIT, WARM_UP = "ae_core.analysis.projection:_umap", "ae_core.analysis.projection:warm_up"


def _function(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def _warm_up(path: str) -> None:
    lower_this_thread()  # requests, in the main thread, keep their priority
    started = time.perf_counter()
    try:
        _function(path)()
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first UMAP is slower
        log.exception("UMAP warm-up failed; the first UMAP view will compile it")
        return
    log.info("%s in %.1f s", WARM_UP_DONE, time.perf_counter() - started)


def helper_main(conn, fit: str, warm_up: str | None, log_root: str | None = None) -> None:
    """The helper process: warm up in a background thread, answer (Z, k, seed) requests until the
    server goes away. Answers are ("ok", coordinates) or ("error", the exception)."""
    setup_logging(log_root)
    if warm_up:
        threading.Thread(target=_warm_up, args=(warm_up,), name="ae-umap-warm-up", daemon=True).start()
    while True:
        try:
            Z, k, seed = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        try:
            answer = ("ok", np.asarray(_function(fit)(Z, k, seed), dtype=np.float32))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller, who raises it
            log.exception("UMAP of %s points failed", len(Z))
            answer = ("error", exc)
        try:
            conn.send(answer)
        except Exception:  # noqa: BLE001 - an exception that does not pickle: send its text
            conn.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))


class Projector:
    """One UMAP helper process (multiprocessing's spawn context), started `delay` seconds after `start`.

    The delay keeps the helper off the two cores while the server draws its first page: spawning it
    (a fresh interpreter importing numpy) and compiling UMAP both wait until then. A request that
    comes sooner starts the helper at once, without the warm-up (the request compiles what it needs).

    Parameters
    ----------
    warm_up : bool
        Compile UMAP in the helper as soon as it is up, and say so in the log.
    delay : seconds from `start` to the helper's start; 0 starts it at once.
    fit, warm_up_fn : "module:function" paths the helper imports (tests swap in cheap ones).
    log_root : path or None
        The runs root whose ``logs/`` folder receives the helper's log as well as stderr.
    """

    def __init__(self, warm_up: bool = True, delay: float = 5.0, fit: str = FIT, warm_up_fn: str = WARM_UP,
                 log_root=None):
        self.warm_up, self.delay, self.fit_path, self.warm_up_path = warm_up, delay, fit, warm_up_fn
        self.log_root = log_root  # the helper's log file goes beside the runs (ae_core.logs); None: stderr only
        self._lock = threading.Lock()  # one request at a time: the helper runs one fit at a time anyway
        self._process = self._conn = None
        self._closed = False

    def start(self) -> Projector:
        if self.delay > 0:
            timer = threading.Timer(self.delay, self._start_if_none)
            timer.daemon, timer.name = True, "ae-projector-start"
            timer.start()
        else:
            self._start_if_none()
        return self

    def _start_if_none(self) -> None:
        with self._lock:
            if self._process is None and not self._closed:  # not started by a request, not closed meanwhile
                self._start(self.warm_up)

    def _start(self, warm_up: bool) -> None:
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        self._process = ctx.Process(target=helper_main, name="ae-projector", daemon=True,
                                    args=(theirs, self.fit_path, self.warm_up_path if warm_up else None,
                                          None if self.log_root is None else str(self.log_root)))
        self._process.start()
        theirs.close()
        self._conn = ours

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def fit(self, Z, n_components: int, seed: int) -> np.ndarray:
        """UMAP coordinates of shape (n_samples, n_components), computed in the helper."""
        with self._lock:
            for attempt in (1, 2):
                if self._process is None or not self._process.is_alive():
                    self._start(warm_up=False)  # died (killed, out of memory): a fresh one for this request
                try:
                    self._conn.send((np.ascontiguousarray(Z, dtype=np.float32), int(n_components), int(seed)))
                    status, value = self._conn.recv()
                    break
                except (EOFError, OSError):
                    self._process.join(timeout=1.0)
                    if attempt == 2:
                        raise RuntimeError(f"the UMAP helper process stopped twice (exit code "
                                           f"{self._process.exitcode}); see the server log.") from None
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()  # the helper's recv ends: it exits
            if self._process is not None:
                self._process.join(timeout=2.0)
                if self._process.is_alive():
                    self._process.terminate()
            self._process = self._conn = None
