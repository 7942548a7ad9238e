"""Small facts about OS processes and threads, shared by the job manager and the UMAP helper."""

from __future__ import annotations

import os
import threading


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); /proc tells it apart on Linux.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def lower_this_thread(nice: int = 10) -> None:
    """Background work gives way: the calling thread only (Linux), the process's other threads keep theirs.
    Used by the standby worker's imports and the UMAP helper's warm-up; elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):
        pass
