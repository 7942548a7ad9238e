"""The run store: records, statuses, artifacts, safety."""

import sqlite3

import numpy as np
import pytest

from ae_core.errors import InputError
from ae_core.runs.store import RunStore


def _config():
    return {"dataset": {"name": "digits", "options": {}, "display": "digits"}, "variant": "vanilla",
            "model": {"latent_dim": 2}, "train": {"epochs": 1}}


def test_create_lists_newest_first_and_survives_reopening(tmp_path):
    s = RunStore(tmp_path)
    a, b = s.create(_config()), s.create(_config())
    assert [r.id for r in s.list()] == [b.id, a.id]
    assert [r.id for r in RunStore(tmp_path).list()] == [b.id, a.id]
    assert s.get(a.id).status == "queued"


def test_database_is_in_wal_mode(tmp_path):
    RunStore(tmp_path)
    con = sqlite3.connect(tmp_path / "runs.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_update_roundtrips_json_fields(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    s.update(rid, status="running", progress={"epoch": 3, "history": [{"val_loss": 1.5}]}, metrics={"test_mse": 0.1})
    rec = s.get(rid)
    assert rec.status == "running" and rec.progress["epoch"] == 3 and rec.metrics["test_mse"] == 0.1


def test_cancel_of_queued_run_is_immediate(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    s.request_cancel(rid)
    assert s.get(rid).status == "cancelled"
    assert not s.claim(rid, 123)


@pytest.mark.parametrize("bad", ["../etc/passwd", "0123456789ab/..", "ABCDEF012345", "", None, "x" * 12])
def test_run_ids_are_validated_against_path_traversal(tmp_path, bad):
    s = RunStore(tmp_path)
    with pytest.raises(InputError, match="is not a run id"):
        s.folder(bad)


def test_artifact_names_are_validated(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    with pytest.raises(InputError, match="bad artifact name"):
        s.path(rid, "../../runs.db")


def test_arrays_roundtrip_without_pickle(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    s.write_array(rid, "latent.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
    assert s.read_array(rid, "latent.npy").tolist() == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(ValueError):
        s.write_array(rid, "bad.npy", np.array([object()]))


def test_atomic_writes_leave_no_temp_files(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    s.write_json(rid, "metrics.json", {"a": 1})
    assert sorted(p.name for p in s.folder(rid).iterdir()) == ["metrics.json"]


def test_orphaned_running_runs_become_interrupted(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    s.claim(rid, 999_999)
    assert s.mark_orphans(lambda pid: False) == [rid]
    rec = s.get(rid)
    assert rec.status == "interrupted" and "stopped unexpectedly" in rec.error


def test_delete_removes_row_and_folder(tmp_path):
    s = RunStore(tmp_path)
    rid = s.create(_config()).id
    s.delete(rid)
    assert not s.exists(rid) and not (tmp_path / rid).exists()


def test_missing_run_has_actionable_message(tmp_path):
    with pytest.raises(InputError, match="no run with id"):
        RunStore(tmp_path).get("0123456789ab")
