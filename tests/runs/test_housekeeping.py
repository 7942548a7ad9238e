"""Deleting runs: all or nothing, active runs refused, uploads removed with the last run that used them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ae_core.errors import InputError
from ae_core.runs.housekeeping import delete_runs
from ae_core.runs.store import RunStore
from ae_core.runs.upload import save_upload

ROOT = Path(__file__).resolve().parents[2]


def _run(store: RunStore, status: str = "done", csv: Path | None = None) -> str:
    options = {"path": str(csv)} if csv else {}
    rec = store.create({"dataset": {"name": "csv" if csv else "digits", "options": options}, "variant": "vanilla",
                        "model": {"latent_dim": 2}, "train": {"epochs": 1}})
    store.write_array(rec.id, "latent.npy", np.zeros((1000, 2), np.float32))  # 8 kB of artifacts
    store.update(rec.id, status=status)
    return rec.id


def test_deletes_rows_and_folders_and_counts_the_bytes(tmp_path):
    store = RunStore(tmp_path)
    a, b, keep = _run(store), _run(store, "cancelled"), _run(store)
    done = delete_runs(store, [a, b, a])  # a repeated id counts once
    assert done.run_ids == (a, b) and done.files == ()
    assert done.bytes_freed >= 2 * 8000
    assert [r.id for r in store.list()] == [keep]
    assert not store.folder(a).exists() and not store.folder(b).exists() and store.folder(keep).exists()
    assert done.summary().startswith("Deleted 2 runs (")


@pytest.mark.parametrize("status", ["queued", "running"])
def test_an_active_run_refuses_the_whole_request(tmp_path, status):
    store = RunStore(tmp_path)
    finished, busy = _run(store), _run(store, status)
    with pytest.raises(InputError, match=f"cannot delete a run that is {status}.*cancel it first.*Nothing was deleted"):
        delete_runs(store, [finished, busy])
    assert {r.id for r in store.list()} == {finished, busy}
    assert store.has(finished, "latent.npy")


def test_unknown_or_malformed_ids_delete_nothing(tmp_path):
    store = RunStore(tmp_path)
    a = _run(store)
    with pytest.raises(InputError, match="no run with id"):
        delete_runs(store, [a, "0123456789ab"])
    with pytest.raises(InputError, match="is not a run id"):
        delete_runs(store, ["../../etc"])
    with pytest.raises(InputError, match="no runs chosen"):
        delete_runs(store, [])
    assert store.exists(a)


def test_an_upload_goes_with_the_last_run_that_used_it(tmp_path):
    store = RunStore(tmp_path)
    csv = save_upload(store.root, "sales.csv", b"a,b,c\n1,2,3\n4,5,6\n")
    first, second = _run(store, csv=csv), _run(store, csv=csv)
    assert delete_runs(store, [first]).files == ()  # the second run still uses it
    assert csv.exists()
    done = delete_runs(store, [second])
    assert done.files == (csv.name,) and "1 uploaded file" in done.summary()
    assert not csv.exists() and not csv.with_suffix(".json").exists()


def test_a_csv_outside_the_store_is_never_touched(tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b,c\n1,2,3\n")
    store = RunStore(tmp_path / "runs")
    delete_runs(store, [_run(store, csv=mine)])
    assert mine.read_text() == "a,b,c\n1,2,3\n"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ae_core", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_cli_deletes_several_and_refuses_a_running_one(tmp_path):
    store = RunStore(tmp_path)
    a, b, busy = _run(store), _run(store), _run(store, "running")
    out = _cli("runs", "--runs-dir", str(tmp_path), "--delete", a, b, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["deleted"] == [a, b]
    out = _cli("runs", "--runs-dir", str(tmp_path), "--delete", busy)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: cannot delete a run that is running") and store.exists(busy)


def test_uploads_nobody_trained_on_go_after_a_day(tmp_path):
    import os
    import time

    store = RunStore(tmp_path)
    day_old = time.time() - 25 * 3600
    stale = save_upload(store.root, "old.csv", b"a,b\n1,2\n")
    used = save_upload(store.root, "used.csv", b"a,b\n3,4\n")
    fresh = save_upload(store.root, "new.csv", b"a,b\n5,6\n")
    _run(store, csv=used)
    for p in (stale, used):
        os.utime(p, (day_old, day_old))
    kept = save_upload(store.root, "again.csv", b"a,b\n7,8\n")  # every upload prunes the folder
    assert not stale.exists() and not stale.with_suffix(".json").exists()
    assert used.exists() and fresh.exists() and kept.exists()
    os.utime(kept, (day_old, day_old))
    assert save_upload(store.root, "again.csv", b"a,b\n7,8\n") == kept and kept.exists()  # the file being saved stays
