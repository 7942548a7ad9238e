"""The run store: an SQLite index plus one artifact folder per run.

Every training is a Run. Its row (config, status, progress, metrics, error,
timings) lives in `runs.db` (WAL mode, so the app reads while a worker writes);
its artifacts live in `<root>/<run_id>/`: weights in safetensors, everything
else JSON or NPY. Files are written to a temporary name and renamed, so a crash
never leaves half a file behind. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ae_core.errors import InputError

DB_NAME = "runs.db"
WEIGHTS = "weights.safetensors"  # a finished run's trained weights, in its folder
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
_RUN_ID = re.compile(r"^[0-9a-f]{12}$")
_ARTIFACT = re.compile(r"^[A-Za-z0-9_.-]+$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    dataset TEXT NOT NULL,
    variant TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    progress TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    started REAL,
    finished REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created);
"""


def default_root() -> Path:
    """`$AE_RUNS_DIR`, else `data/runs` in the repository."""
    env = os.environ.get("AE_RUNS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "data" / "runs"


def validate_run_id(run_id) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InputError(f"{str(run_id)[:40]!r} is not a run id (12 lowercase hex characters, as in the runs table).")
    return run_id


@dataclass
class RunRecord:
    id: str
    created: float
    updated: float
    dataset: str
    variant: str
    title: str
    config: dict
    status: str
    progress: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    error: str = ""
    pid: int | None = None
    started: float | None = None
    finished: float | None = None
    cancel_requested: bool = False

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def latent_dim(self) -> int:
        return int(self.config.get("model", {}).get("latent_dim", 0))

    def label(self) -> str:
        """A short human name for pickers: 'digits · vanilla · 2-D · 3f2a9c'."""
        when = time.strftime("%H:%M", time.localtime(self.created))
        return f"{self.dataset} · {self.variant} · {self.latent_dim}-D · {when} · {self.id[:6]}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def interrupted_reason(why: str) -> str:
    """The error text of a run whose training process died without a word."""
    return f"the training process stopped unexpectedly ({why}); resume it from its last checkpoint, or start a new run"


class RunStore:
    """All runs under one root folder. Safe to use from several processes."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the run folder {self.root}: {exc.strerror}. Set AE_RUNS_DIR to a writable folder.") from exc
        self.db_path = self.root / DB_NAME
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self):
        # A connection per operation: cheap for SQLite, and safe across threads and processes.
        con = sqlite3.connect(self.db_path, timeout=30.0)
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA busy_timeout=30000")
            with con:
                yield con
        finally:
            con.close()

    # ---- index -------------------------------------------------------------

    def create(self, config: dict, title: str = "") -> RunRecord:
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        dataset = config.get("dataset", {}).get("display") or config.get("dataset", {}).get("name", "?")
        with self._connect() as con:
            con.execute(
                "INSERT INTO runs (id, created, updated, dataset, variant, title, config, status) VALUES (?,?,?,?,?,?,?,?)",
                (run_id, now, now, dataset, config.get("variant", "?"), title, json.dumps(config), "queued"),
            )
        self.folder(run_id).mkdir(parents=True, exist_ok=True)
        return self.get(run_id)

    def get(self, run_id: str) -> RunRecord:
        validate_run_id(run_id)
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise InputError(f"no run with id {run_id!r}; it may have been deleted. Pick one from the runs list.")
        return self._record(row)

    def exists(self, run_id: str) -> bool:
        try:
            self.get(run_id)
            return True
        except InputError:
            return False

    def list(self, status: str | None = None, dataset: str | None = None, limit: int | None = None) -> list[RunRecord]:
        query, args = "SELECT * FROM runs WHERE 1=1", []
        if status:
            query += " AND status = ?"
            args.append(status)
        if dataset:
            query += " AND dataset = ?"
            args.append(dataset)
        query += " ORDER BY created DESC, rowid DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._connect() as con:
            return [self._record(r) for r in con.execute(query, args).fetchall()]

    def update(self, run_id: str, **fields) -> None:
        validate_run_id(run_id)
        allowed = {"status", "progress", "metrics", "error", "pid", "started", "finished", "title"}
        if set(fields) - allowed:
            raise ValueError(f"cannot update {set(fields) - allowed}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"bad status {fields['status']!r}")
        values = {k: json.dumps(v) if k in ("progress", "metrics") else v for k, v in fields.items()}
        values["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._connect() as con:
            con.execute(f"UPDATE runs SET {cols} WHERE id = ?", (*values.values(), run_id))

    def claim(self, run_id: str, pid: int) -> bool:
        """Mark a queued run running by `pid`; False if it is no longer queued (cancelled)."""
        now = time.time()
        with self._connect() as con:
            cur = con.execute(
                "UPDATE runs SET status='running', pid=?, started=?, updated=? WHERE id=? AND status='queued'",
                (pid, now, now, run_id),
            )
            return cur.rowcount == 1

    def request_cancel(self, run_id: str) -> None:
        """Ask a run to stop; a queued run is cancelled at once."""
        validate_run_id(run_id)
        now = time.time()
        with self._connect() as con:
            con.execute("UPDATE runs SET cancel_requested=1, updated=? WHERE id=?", (now, run_id))
            con.execute(
                "UPDATE runs SET status='cancelled', finished=?, error='cancelled before it started' WHERE id=? AND status='queued'",
                (now, run_id),
            )

    def resumable(self, run_id: str) -> bool:
        """An ended-early run with a checkpoint to continue from."""
        rec = self.get(run_id)
        return rec.status in ("interrupted", "failed", "cancelled") and self.has(run_id, "checkpoint.json")

    def requeue(self, run_id: str) -> None:
        """Put an ended run back in the queue (resume after an interruption)."""
        validate_run_id(run_id)
        with self._connect() as con:
            con.execute(
                "UPDATE runs SET status='queued', error='', finished=NULL, pid=NULL, cancel_requested=0, updated=? "
                "WHERE id=? AND status IN ('interrupted', 'failed', 'cancelled')",
                (time.time(), run_id),
            )

    def cancel_requested(self, run_id: str) -> bool:
        with self._connect() as con:
            row = con.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row[0])

    def delete(self, run_id: str) -> None:
        validate_run_id(run_id)
        with self._connect() as con:
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))
        shutil.rmtree(self.folder(run_id), ignore_errors=True)

    def mark_orphans(self, is_alive) -> list[str]:
        """Runs marked running whose process is gone become 'interrupted'.

        `is_alive(pid) -> bool`. Returns the ids that changed.
        """
        changed = []
        for rec in self.list(status="running"):
            if rec.pid is None or not is_alive(rec.pid):
                self.update(rec.id, status="interrupted", finished=time.time(),
                            error=rec.error or interrupted_reason("killed or crashed"))
                changed.append(rec.id)
        return changed

    @staticmethod
    def _record(row: sqlite3.Row) -> RunRecord:
        d = dict(row)
        for key in ("config", "progress", "metrics"):
            d[key] = json.loads(d[key]) if d[key] else {}
        d["cancel_requested"] = bool(d["cancel_requested"])
        return RunRecord(**d)

    # ---- artifacts ---------------------------------------------------------

    def folder(self, run_id: str) -> Path:
        return self.root / validate_run_id(run_id)

    def path(self, run_id: str, name: str) -> Path:
        if not _ARTIFACT.match(name) or name.startswith("."):
            raise InputError(f"bad artifact name {name!r}.")
        return self.folder(run_id) / name

    def weights_signature(self, run_id: str) -> str:
        """Names a run's trained weights (size and time of the file): a run trained again gets a new one."""
        st = self.path(run_id, WEIGHTS).stat()
        return f"{st.st_size}-{st.st_mtime_ns}"

    def write_bytes(self, run_id: str, name: str, data: bytes) -> None:
        atomic_write_bytes(self.path(run_id, name), data)

    def write_json(self, run_id: str, name: str, obj) -> None:
        atomic_write_bytes(self.path(run_id, name), json.dumps(obj, indent=1, default=_json_default).encode())

    def read_json(self, run_id: str, name: str, default=None):
        p = self.path(run_id, name)
        if not p.exists():
            return default
        return json.loads(p.read_text())

    def write_array(self, run_id: str, name: str, array: np.ndarray) -> None:
        import io

        buf = io.BytesIO()
        np.save(buf, np.asarray(array), allow_pickle=False)
        atomic_write_bytes(self.path(run_id, name), buf.getvalue())

    def read_array(self, run_id: str, name: str) -> np.ndarray | None:
        p = self.path(run_id, name)
        if not p.exists():
            return None
        return np.load(p, allow_pickle=False)

    def has(self, run_id: str, name: str) -> bool:
        return self.path(run_id, name).exists()


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
