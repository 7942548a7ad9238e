"""Where runs train: the interface the job manager's scheduler drives (`Executor`), and the timings every
executor shares. `ae_core.runs.local_executor.LocalExecutor` trains in processes of this machine,
`ae_core.runs.ray_executor.RayExecutor` as Ray tasks; another kind is one more subclass."""

from __future__ import annotations

import threading

STALE_SECONDS = 30.0  # a running run silent for longer than this has lost its process


HEARTBEAT_SECONDS = 2.0


CANCEL_GRACE_SECONDS = 5.0  # after a cancel, a worker that has not stopped is terminated


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
