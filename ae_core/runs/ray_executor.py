"""Training runs as Ray tasks, on a Ray cluster or a local Ray instance (`AE_EXECUTOR=ray`).

The worker needs none of the server's disk. Its task carries the run's config, the bytes of any file the
dataset is read from (an uploaded CSV, a zip of images) and, for a resumed run, the last checkpoint the
server received. It trains with `execute_run` against a run store in a temporary folder of its own
(`_RelayStore`), which also sends every progress write and every checkpoint to an inbox actor, without
waiting for it. The server drains the inbox into its run store; the weights and artifacts come back as the
task's result.

Cancel is `ray.cancel` (a KeyboardInterrupt in the task; the task is killed if it has not stopped after
CANCEL_GRACE_SECONDS). A task whose worker or node dies ends with a Ray error: the run is `interrupted`,
resumable from the last checkpoint that reached the server. Tasks are not retried by Ray (max_retries=0):
a retry would start the run over behind the server's back.

Ray is optional (requirements-ray.txt) and imported only here.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from ae_core.errors import InputError
from ae_core.model.device import check_device_name
from ae_core.runs.executor import CANCEL_GRACE_SECONDS, STALE_SECONDS, Executor
from ae_core.runs.store import RunStore, atomic_write_bytes, interrupted_reason

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # ae_core, shipped to the cluster with every job
CHECKPOINT_FILES = ("checkpoint.json", "evolution_partial.npy", "evolution_partial_epochs.npy")
RESOURCES_SECONDS = 10.0  # how often the cluster's size is asked again (nodes join and leave)


def import_ray():
    """The `ray` module, or an InputError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("the Ray executor needs Ray, which is not installed here: "
                         "`.venv/bin/pip install -r requirements-ray.txt` (or unset AE_EXECUTOR for local training).") from None
    return ray


def connect(address: str | None = None, **init_kwargs) -> None:
    """Join the Ray cluster at `address` ('ray://head:10001', 'auto', 'host:6379'), or start a local Ray
    instance when `address` is empty; nothing if this process is connected already (a test's ray.init).

    ae_core travels with the job (runtime_env py_modules), so the cluster's nodes need only the
    libraries it imports (requirements.txt), not this checkout.
    """
    ray = import_ray()
    if ray.is_initialized():
        return
    if not address:
        # Ray runs its workers at nice 15; a local instance shares the machine with the server's other
        # work, and at nice 15 a run trained 1.5x slower than in the local executor's nice-0 worker on a
        # busy machine (benchmarks/FINDINGS.md). A cluster's own `ray start` settings are left alone.
        os.environ.setdefault("RAY_worker_niceness", "0")
    def init():
        ray.init(address=address or None, namespace="autoencoder-explorer", log_to_driver=False,
                 runtime_env={"py_modules": [str(PACKAGE_DIR)], "excludes": ["__pycache__"]},
                 **({} if address else {"include_dashboard": False}), **init_kwargs)

    try:
        if address or threading.current_thread() is threading.main_thread():
            init()
        else:
            _in_lasting_thread(init)
    except ConnectionError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address!r}: {exc}. Start it with `ray start --head` "
                         "and check AE_RAY_ADDRESS (ray://HEAD:10001 from another machine, auto on the head).") from None


def _in_lasting_thread(fn) -> None:
    """Run `fn` in a thread that then lives as long as the process, and re-raise what it raised.

    A local Ray instance's processes (GCS, raylet) are started with PR_SET_PDEATHSIG: Linux kills them
    when the *thread* that started them ends. Streamlit runs each page run in a thread of its own, so a
    server that started Ray from a page lost its cluster seconds later, when that run ended.
    """
    started, box = threading.Event(), {}

    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc
        started.set()
        if "error" not in box:
            threading.Event().wait()  # never set: the owner of Ray's processes must not end

    threading.Thread(target=run, name="ae-ray-owner", daemon=True).start()
    started.wait()
    if "error" in box:
        raise box["error"]


# ---- files that travel with a task --------------------------------------------------------------------------


def dataset_payload(config: dict) -> tuple[dict, dict[str, bytes]]:
    """The config with any local dataset path replaced by a file name, and those files' bytes.

    A folder of images travels as a zip (load_image_dataset reads both)."""
    spec = dict(config["dataset"])
    options = dict(spec.get("options") or {})
    files: dict[str, bytes] = {}
    path = options.get("path")
    if path:
        p = Path(path)
        if p.is_dir():
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
                for f in sorted(p.rglob("*")):
                    if f.is_file():
                        z.write(f, f.relative_to(p))
            name = f"{p.name or 'images'}.zip"
            files[name] = buf.getvalue()
        elif p.is_file():
            name = p.name
            files[name] = p.read_bytes()
        else:
            raise InputError(f"the dataset file {path} is gone; upload it again or start a new run.")
        options["path"] = name
    spec["options"] = options
    return {**config, "dataset": spec}, files


def checkpoint_payload(store: RunStore, run_id: str) -> dict[str, bytes]:
    """The run's last checkpoint as received by the server (empty for a fresh run)."""
    meta = store.read_json(run_id, "checkpoint.json")
    if meta is None or not store.has(run_id, meta.get("file", "")):
        return {}
    names = ["checkpoint.json", meta["file"], *(n for n in CHECKPOINT_FILES[1:] if store.has(run_id, n))]
    return {n: store.path(run_id, n).read_bytes() for n in names}


# ---- the worker's side --------------------------------------------------------------------------------------


class Inbox:
    """The server's mailbox on the cluster (a Ray actor): tasks put (kind, run id, payload) messages,
    the server drains them. One caller's calls run in order, so a run's messages arrive in order."""

    def __init__(self):
        self._items: list = []

    def put(self, item) -> None:
        self._items.append(item)

    def drain(self) -> list:
        items, self._items = self._items, []
        return items


class _RelayStore(RunStore):
    """A run store in the worker's temp folder that also sends the run's progress and checkpoints home.

    Sends do not wait (a round trip per progress write cost a digits run 0.3 s); `flush` waits for the
    last one, and so for all before it."""

    def __init__(self, root, inbox, info: dict):
        super().__init__(root)
        self.inbox, self.info = inbox, info
        self._last = None

    def _send(self, item) -> None:
        self._last = self.inbox.put.remote(item)

    def flush(self) -> None:
        if self._last is not None:
            import ray

            ray.get(self._last)

    def adopt(self, run_id: str, config: dict) -> None:
        """The server's run, under its id, running here."""
        import json

        now = time.time()
        with self._connect() as con:
            con.execute("INSERT INTO runs (id, created, updated, dataset, variant, config, status, started) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        (run_id, now, now, "", config.get("variant", ""), json.dumps(config), "running", now))
        self.folder(run_id).mkdir(parents=True, exist_ok=True)

    def update(self, run_id: str, **fields) -> None:
        super().update(run_id, **fields)
        if "progress" in fields and fields.get("status") is None:  # the final status travels with the result
            self._send(("progress", run_id, {**fields["progress"], **self.info}))

    def write_json(self, run_id: str, name: str, obj) -> None:
        super().write_json(run_id, name, obj)
        if name == "checkpoint.json":  # written last, after the tensors it names (execute.StoreProgress)
            names = [obj["file"], *(n for n in CHECKPOINT_FILES[1:] if self.has(run_id, n)), "checkpoint.json"]
            self._send(("checkpoint", run_id, {n: self.path(run_id, n).read_bytes() for n in names}))


def train_task(run_id: str, config: dict, files: dict[str, bytes], checkpoint: dict[str, bytes], inbox,
               threads: int) -> dict:
    """Body of the Ray task: train `run_id` in a temp folder, relay progress, return the outcome and files."""
    import ray
    import torch

    from ae_core.runs.execute import execute_run

    torch.set_num_threads(max(1, threads))
    gpus = ray.get_runtime_context().get_accelerator_ids().get("GPU") or []
    where = f"ray {ray.util.get_node_ip_address()}" + (f" GPU {','.join(map(str, gpus))}" if gpus else "")
    root = Path(tempfile.mkdtemp(prefix="ae-ray-"))
    try:
        store = _RelayStore(root, inbox, {"where": where, "worker_pid": os.getpid()})
        inputs = root / "inputs"
        inputs.mkdir()
        for name, data in files.items():
            (inputs / name).write_bytes(data)
        if files:
            options = config["dataset"]["options"]
            config = {**config, "dataset": {**config["dataset"], "options": {**options, "path": str(inputs / options["path"])}}}
        store.adopt(run_id, config)
        for name, data in checkpoint.items():
            store.path(run_id, name).write_bytes(data)
        status = execute_run(store, run_id, where=where)
        store.flush()  # the last progress and checkpoint are home before the result
        rec = store.get(run_id)
        folder = store.folder(run_id)
        out = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()
               and not p.name.startswith(("checkpoint", "evolution_partial", "."))}
        return {"status": status, "error": rec.error, "metrics": rec.metrics, "progress": rec.progress,
                "finished": rec.finished, "files": out}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def warm_task() -> None:
    """Imports what a run needs (torch, the pipeline, scikit-learn) in a pooled Ray worker ahead of the first run."""
    from ae_core.runs import execute as pipeline

    pipeline.preload()


# ---- the server's side --------------------------------------------------------------------------------------


class RayExecutor(Executor):
    """Runs each started run as a Ray task, as many at once as the cluster has room for.

    Parameters
    ----------
    store : RunStore
    address : str or None
        The cluster (`AE_RAY_ADDRESS`); None starts a local Ray instance (or uses this process's).
    cpus_per_run : int
        CPUs a run's task asks for (its torch threads); with GPUs in the cluster a run also asks for one GPU.
    warm_up : bool
        Import torch and the pipeline in a pooled worker at once, so the first run skips it.
    """

    name = "ray"

    def __init__(self, store: RunStore, address: str | None = None, cpus_per_run: int = 1, warm_up: bool = True):
        super().__init__()
        self.store = store
        self.ray = import_ray()
        connect(address)
        self.cpus_per_run = max(1, int(cpus_per_run))
        self.inbox = self.ray.remote(Inbox).options(num_cpus=0).remote()
        self._task = self.ray.remote(max_retries=0)(train_task)
        self._tasks: dict[str, object] = {}  # run id -> ObjectRef
        self._cancel_at: dict[str, float] = {}
        self._slots, self._slots_at, self._gpus = 1, 0.0, 0
        if warm_up:
            self.ray.remote(warm_task).options(num_cpus=self.cpus_per_run, max_retries=0).remote()

    # ---- the interface -----------------------------------------------------------------

    def capacity(self) -> int:
        if time.monotonic() - self._slots_at > RESOURCES_SECONDS:
            total = self.ray.cluster_resources()
            self._gpus = int(total.get("GPU", 0))
            self._slots = self._gpus if self._gpus else max(1, int(total.get("CPU", 1)) // self.cpus_per_run)
            self._slots_at = time.monotonic()
        return self._slots - len(self._tasks)

    def submit(self, run_id: str) -> None:
        rec = self.store.get(run_id)
        config, files = dataset_payload(rec.config)
        checkpoint = checkpoint_payload(self.store, run_id)
        gpu = self._gpus > 0 and check_device_name(rec.config.get("device")) != "cpu"  # a CPU run holds no GPU
        options = {"num_cpus": self.cpus_per_run, "num_gpus": 1 if gpu else 0, "name": f"ae-train-{run_id}"}
        ref = self._task.options(**options).remote(run_id, config, files, checkpoint, self.inbox, self.cpus_per_run)
        self._tasks[run_id] = ref
        # The server's pid: the run is alive while this server (its driver) is; recover() tells ours apart.
        self.store.claim(run_id, os.getpid())
        log.info("run %s: submitted to Ray (%s)", run_id, "1 GPU" if gpu else f"{self.cpus_per_run} CPU")

    def progress(self) -> None:
        self._drain()
        if not self._tasks:
            return
        refs = list(self._tasks.values())
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        if ready:
            self._drain()  # the last progress and checkpoint come before the result
        ready = set(ready)
        for run_id, ref in list(self._tasks.items()):
            if ref in ready:
                del self._tasks[run_id]
                self._cancel_at.pop(run_id, None)
                self._finish(run_id, ref)
        self._enforce_cancels()

    def cancel(self, run_id: str) -> None:
        ref = self._tasks.get(run_id)
        if ref is not None:
            self.ray.cancel(ref)  # a KeyboardInterrupt in the task; forced after the grace period
            self._cancel_at.setdefault(run_id, time.time())

    def recover(self) -> list[str]:
        """Runs marked running that no task of ours trains become interrupted: those of a previous server
        (Ray ends a driver's tasks with it), and those this server lost. A local process's run (a CLI
        `train` beside the server) is left to its own heartbeat."""
        from ae_core.processes import pid_alive

        me, now = os.getpid(), time.time()
        changed = []
        for rec in self.store.list(status="running"):
            if rec.id in self._tasks:
                continue
            if rec.pid == me or not pid_alive(rec.pid) or now - rec.updated > STALE_SECONDS:
                self.store.update(rec.id, status="interrupted", finished=now,
                                  error=rec.error or interrupted_reason("its Ray task is gone"))
                changed.append(rec.id)
        return changed

    def running(self) -> list[str]:
        return list(self._tasks)

    def shutdown(self, kill: bool = True, timeout: float = 5.0) -> None:
        for run_id, ref in list(self._tasks.items()):
            if kill:
                self.ray.cancel(ref, force=True)
        end = time.time() + timeout
        while self._tasks and time.time() < end:
            self.progress()
            time.sleep(0.1)
        for run_id in list(self._tasks):
            del self._tasks[run_id]
            self.store.update(run_id, status="interrupted", finished=time.time(),
                              error=interrupted_reason("the server stopped"))
        try:
            self.ray.kill(self.inbox)
        except Exception:  # noqa: BLE001 - Ray itself may be shutting down
            log.debug("the inbox actor could not be stopped", exc_info=True)

    # ---- inside ------------------------------------------------------------------------

    def _drain(self) -> None:
        latest: dict[str, dict] = {}  # of several progress writes since the last poll, the last is enough
        for kind, run_id, payload in self.ray.get(self.inbox.drain.remote()):
            if run_id not in self._tasks:
                continue  # a late message from a run that has ended here (cancelled, interrupted)
            if kind == "progress":
                latest[run_id] = payload
            elif kind == "checkpoint":
                self._save_checkpoint(run_id, payload)
        for run_id, progress in latest.items():
            self.store.update(run_id, progress=progress)

    def _save_checkpoint(self, run_id: str, files: dict[str, bytes]) -> None:
        """The worker's checkpoint in the server's store, in the worker's order (the JSON that names the
        tensors last), then the previous tensors file removed: a crash leaves a complete checkpoint."""
        import json

        previous = self.store.read_json(run_id, "checkpoint.json")
        for name, data in files.items():
            atomic_write_bytes(self.store.path(run_id, name), data)
        new = json.loads(files["checkpoint.json"])
        if previous and previous.get("file") not in (None, new["file"]):
            self.store.path(run_id, previous["file"]).unlink(missing_ok=True)

    def _finish(self, run_id: str, ref) -> None:
        ray = self.ray
        now = time.time()
        try:
            result = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            self.store.update(run_id, status="cancelled", finished=now, error="cancelled by the user")
            return
        except ray.exceptions.RayTaskError as exc:  # our code failed on the worker: a bug, with its traceback
            log.error("run %s: the Ray task failed: %s", run_id, exc)
            self.store.update(run_id, status="failed", finished=now, error=f"internal error on the Ray worker: {exc}")
            return
        except ray.exceptions.RayError as exc:  # the worker process or its node died
            cancelled = self.store.cancel_requested(run_id)
            log.warning("run %s: its Ray worker ended without a result: %s", run_id, type(exc).__name__)
            if cancelled:
                self.store.update(run_id, status="cancelled", finished=now, error="cancelled by the user")
            else:
                self.store.update(run_id, status="interrupted", finished=now,
                                  error=interrupted_reason(f"the Ray worker was lost: {type(exc).__name__}"))
            return
        for name, data in result["files"].items():
            atomic_write_bytes(self.store.path(run_id, name), data)
        if result["status"] == "done":
            for path in self.store.folder(run_id).glob("checkpoint*"):
                path.unlink(missing_ok=True)
            for path in self.store.folder(run_id).glob("evolution_partial*"):
                path.unlink(missing_ok=True)
        self.store.update(run_id, status=result["status"], error=result["error"], metrics=result["metrics"],
                          progress=result["progress"], finished=result["finished"] or now)
        log.info("run %s: %s on Ray", run_id, result["status"])

    def _enforce_cancels(self) -> None:
        now = time.time()
        for run_id, t in list(self._cancel_at.items()):
            if now - t > CANCEL_GRACE_SECONDS and run_id in self._tasks:
                self.ray.cancel(self._tasks[run_id], force=True)
                self._cancel_at[run_id] = float("inf")  # once
