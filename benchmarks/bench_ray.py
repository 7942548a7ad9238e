"""What the Ray executor costs a run (issue 23).

Start-to-done of the same digits run (the Train page's default: vanilla, 2-D code, early stopping), from
`JobManager.submit` until the run is 'done' in the server's store, through:

- the local executor as the app runs it (a standby worker process started ahead, torch imported), and
- the Ray executor on a local Ray instance started here (its warm-up task has imported torch in a pooled
  worker): the task's dispatch, the config and results travelling through Ray's object store, progress
  and checkpoints through a Ray queue, the artifacts written by the server.

Interleaved (local, Ray, local, Ray, ...), one run at a time, after one untimed run each; medians. Ray's own
start (ray.init, the first task's worker and imports) is paid once per server and reported apart.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import finish, median, parse_args, row

TARGET = 1.5  # Ray's start-to-done against the local executor's


def _start_to_done(manager, config) -> float:
    t0 = time.perf_counter()
    rec = manager.submit(config)
    done = manager.wait(rec.id, timeout=600)
    seconds = time.perf_counter() - t0
    assert done.status == "done", done.error
    return seconds


def _wait_for_standby(manager, timeout: float = 60.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        standby = manager._standby
        if standby is not None and standby[0].is_alive():
            time.sleep(3.0)  # its imports run in a thread after the process starts
            return
        time.sleep(0.1)


def main():
    args = parse_args(__doc__)
    try:
        import ray  # noqa: F401
    except ImportError:
        print("Ray is not installed (pip install -r requirements-ray.txt): nothing to measure.")
        finish(args, "ray", "Ray executor overhead", [], notes=["Ray not installed: nothing measured"])
        return
    from ae_core.runs.jobs import JobManager
    from ae_core.runs.ray_executor import RayExecutor, connect
    from ae_core.runs.spec import make_config
    from ae_core.runs.store import RunStore

    repeats = 2 if args.quick else 5
    config = make_config("digits", "vanilla")
    with tempfile.TemporaryDirectory(prefix="aebench-ray-") as tmp:
        local = JobManager(RunStore(Path(tmp) / "local"), poll_seconds=0.1)
        t0 = time.perf_counter()
        connect(None)
        store = RunStore(Path(tmp) / "ray")
        ray_mgr = JobManager(store, executor=RayExecutor(store), poll_seconds=0.1)
        ray_init = time.perf_counter() - t0
        try:
            first_ray = _start_to_done(ray_mgr, config)  # the warm-up task may still be importing
            _wait_for_standby(local)
            _start_to_done(local, config)
            times: dict[str, list[float]] = {"local": [], "ray": []}
            for _ in range(repeats):
                _wait_for_standby(local)
                times["local"].append(_start_to_done(local, config))
                times["ray"].append(_start_to_done(ray_mgr, config))
        finally:
            ray_mgr.shutdown()
            local.shutdown()
    loc, ray_s = median(times["local"]), median(times["ray"])
    rows = [
        row("digits run, start to done, Ray executor (local Ray instance)", ray_s, "s", baseline=loc,
            baseline_name="local executor, standby worker", target=f"<= {TARGET:g}x", passed=ray_s / loc <= TARGET,
            note=f"medians of {repeats}, interleaved; 1 CPU per Ray task, 1 torch thread per local worker"),
        row("Ray's one-time start: ray.init + executor", ray_init, "s", note="once per server"),
        row("first Ray run after the start", first_ray, "s", baseline=loc, baseline_name="local executor, warm",
            note="the warm-up task and the first worker's imports"),
    ]
    finish(args, "ray", "Ray executor overhead", rows, extra={"times": times, "ray_init": ray_init,
                                                               "first_ray": first_ray})


if __name__ == "__main__":
    main()
