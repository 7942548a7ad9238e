"""The job manager's executors: the Ray executor against a local Ray instance this module starts
(submit -> progress -> done, cancel, a killed worker -> interrupted -> resume, two runs at once), and the
Ray executor's errors and payloads without a cluster. The local executor is tests/runs/test_jobs.py's."""

import os
import signal
import sys
import time

import numpy as np
import pytest

from ae_core.errors import InputError
from ae_core.runs.jobs import JobManager, executor_from_env
from ae_core.runs.loaded import load_run
from ae_core.runs.local_executor import LocalExecutor
from ae_core.runs.spec import make_config
from ae_core.runs.store import RunStore
from tests.conftest import LONG, wait_until

# ---- without a cluster -----------------------------------------------------------------------------------


def test_asking_for_ray_without_ray_installed_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setenv("AE_EXECUTOR", "ray")
    with pytest.raises(InputError, match="needs Ray, which is not installed.*requirements-ray.txt"):
        executor_from_env(RunStore(tmp_path))


def test_unknown_executor_is_an_input_error(monkeypatch, tmp_path):
    monkeypatch.setenv("AE_EXECUTOR", "kubernetes")
    with pytest.raises(InputError, match="AE_EXECUTOR must be 'local' or 'ray'"):
        executor_from_env(RunStore(tmp_path))


def test_local_is_the_default_executor(monkeypatch, tmp_path):
    monkeypatch.delenv("AE_EXECUTOR", raising=False)
    ex = executor_from_env(RunStore(tmp_path), standby=False)
    assert isinstance(ex, LocalExecutor) and ex.name == "local"


def test_a_csv_dataset_travels_as_bytes_and_the_worker_needs_no_server_path(tmp_path):
    from ae_core.runs.ray_executor import dataset_payload

    csv = tmp_path / "upload.csv"
    csv.write_text("a,b,c\n" + "\n".join(f"{i},{i * 2},{i % 3}" for i in range(40)))
    config = make_config("csv", "vanilla", {"path": str(csv)})
    sent, files = dataset_payload(config)
    assert sent["dataset"]["options"]["path"] == "upload.csv" and files == {"upload.csv": csv.read_bytes()}
    assert config["dataset"]["options"]["path"] == str(csv)  # the server's config is left as it was
    builtin, none = dataset_payload(make_config("wine", "vanilla"))
    assert none == {} and builtin["dataset"]["options"] == {}


def test_a_local_ray_is_started_from_a_thread_that_outlives_the_page_run_that_asked():
    """Ray's local processes die with the thread that started them (PR_SET_PDEATHSIG); Streamlit ends its
    script thread after every page run, which killed a server's cluster seconds after its first page."""
    import threading

    from ae_core.runs.ray_executor import _in_lasting_thread

    owner = {}
    page_run = threading.Thread(target=_in_lasting_thread, args=(lambda: owner.update(t=threading.current_thread()),))
    page_run.start()
    page_run.join()
    assert not page_run.is_alive() and owner["t"].is_alive()

    def fails():
        raise ConnectionError("no cluster there")

    with pytest.raises(ConnectionError, match="no cluster there"):
        _in_lasting_thread(fails)


# ---- against a local Ray instance ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    from ae_core.runs.ray_executor import connect

    connect(None, num_cpus=2)  # ray.init(num_cpus=2, include_dashboard=False), with ae_core shipped to workers
    yield ray
    ray.shutdown()


@pytest.fixture
def ray_manager(ray_local, tmp_path):
    from ae_core.runs.ray_executor import RayExecutor

    store = RunStore(tmp_path / "runs")
    m = JobManager(store, executor=RayExecutor(store, warm_up=False), poll_seconds=0.1)
    yield m
    m.shutdown()


@pytest.mark.slow
def test_ray_run_sends_progress_home_and_finishes_loadable(ray_manager):
    m = ray_manager
    rec = m.submit(make_config("digits", "vanilla", train={"epochs": 6}))
    seen = []
    assert wait_until(lambda: seen.append(m.store.get(rec.id).progress) or not m.store.get(rec.id).active, timeout=120)
    done = m.store.get(rec.id)
    assert done.status == "done", done.error
    assert any(p.get("epoch", 0) >= 1 and p.get("where", "").startswith("ray ") for p in seen)  # live, while it ran
    assert done.metrics["where"].startswith("ray ") and done.metrics["device"] == "cpu"
    assert done.pid == os.getpid()  # claimed by the server, its driver
    loaded = load_run(m.store, rec.id)
    assert loaded.latent.shape == (1797, 2) and np.isfinite(loaded.latent).all()
    assert not list(m.store.folder(rec.id).glob("checkpoint*"))
    from ae_core.runs.summary import runs_table

    assert runs_table(m.store.list())["trained_on"][0] == f"{done.metrics['where']} · cpu"  # Home's column


@pytest.mark.slow
def test_ray_cancel_stops_a_running_run(ray_manager):
    m = ray_manager
    rec = m.submit(make_config("digits", "vanilla", train=LONG))
    assert wait_until(lambda: m.store.get(rec.id).progress.get("epoch", 0) >= 1, timeout=120)
    t0 = time.time()
    m.cancel(rec.id)
    done = m.wait(rec.id, timeout=30)
    assert done.status == "cancelled" and time.time() - t0 < 15
    assert m.running() == []


@pytest.mark.slow
def test_a_killed_ray_worker_leaves_the_run_interrupted_and_it_resumes_from_the_last_checkpoint(ray_manager):
    m, store = ray_manager, ray_manager.store
    rec = m.submit(make_config("digits", "vanilla", train={"epochs": 400, "patience": 400, "batch_size": 32}))
    assert wait_until(lambda: (store.read_json(rec.id, "checkpoint.json") or {}).get("epoch", 0) >= 2, timeout=120)
    os.kill(store.get(rec.id).progress["worker_pid"], signal.SIGKILL)
    dead = m.wait(rec.id, timeout=60)
    assert dead.status == "interrupted" and "Ray worker was lost" in dead.error
    saved = store.read_json(rec.id, "checkpoint.json")
    assert store.resumable(rec.id) and saved["epoch"] >= 2

    # Resume: a shorter run from the server's checkpoint, which the new task carries to its worker.
    import json

    config = store.get(rec.id).config
    config["train"]["epochs"] = saved["epoch"] + 3
    with store._connect() as con:  # the test's shortcut to a short resumed run
        con.execute("UPDATE runs SET config=? WHERE id=?", (json.dumps(config), rec.id))
    m.resume(rec.id)
    done = m.wait(rec.id, timeout=120)
    assert done.status == "done", done.error
    history = store.read_json(rec.id, "history.json")
    assert [h["epoch"] for h in history] == list(range(1, saved["epoch"] + 4))
    assert history[: saved["epoch"]] == saved["history"]  # the epochs before the kill, as the server received them


@pytest.mark.slow
def test_two_ray_runs_train_at_once(ray_manager):
    m = ray_manager
    a = m.submit(make_config("digits", "vanilla", train={"epochs": 8}))
    b = m.submit(make_config("wine", "vanilla", train={"epochs": 40, "patience": 40}))
    assert wait_until(lambda: {m.store.get(a.id).status, m.store.get(b.id).status} == {"running"}, timeout=60)
    assert sorted(m.running()) == sorted([a.id, b.id])
    assert m.wait(a.id, timeout=120).status == "done"
    assert m.wait(b.id, timeout=120).status == "done"


@pytest.mark.slow
def test_cli_train_on_ray_prints_where_it_trained(ray_local, tmp_path, capsys):
    import json

    from ae_core.cli import main

    assert main(["train", "--dataset", "wine", "--epochs", "3", "--executor", "ray", "--runs-dir", str(tmp_path),
                 "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1])["where"].startswith("ray ")
    assert " on cpu " in out[0]
