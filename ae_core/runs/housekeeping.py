"""Deleting runs, and the uploaded files only they used.

The app's Home page and ``python -m ae_core runs --delete`` both call
:func:`delete_runs`. Deleting is all or nothing: an unknown id or a run that
is still queued or training refuses the whole request before anything is
removed, because a worker writing into a folder that vanishes fails in
confusing ways (cancel the run first; a cancelled run can be deleted).
:func:`prune_uploads` removes uploaded CSVs that were looked at but never
trained on, once they are a day old.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ae_core.errors import InputError
from ae_core.runs.store import RunRecord, RunStore, validate_run_id


@dataclass(frozen=True)
class Deletion:
    """What :func:`delete_runs` removed."""

    run_ids: tuple[str, ...]
    files: tuple[str, ...]  # other files removed with them (uploaded CSVs no remaining run uses)
    bytes_freed: int

    def summary(self) -> str:
        """'Deleted 2 runs and 1 uploaded file (3.4 MB freed).'"""
        n = len(self.run_ids)
        extra = f" and {len(self.files)} uploaded file{'s' if len(self.files) != 1 else ''}" if self.files else ""
        return f"Deleted {n} run{'s' if n != 1 else ''}{extra} ({_size(self.bytes_freed)} freed)."


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _owned_file(store: RunStore, rec: RunRecord) -> Path | None:
    """The data file inside the store (an uploaded CSV) that a run's config points at, if any.

    Files outside the store's root (a CSV given to the CLI by path) are the user's and never touched.
    """
    path = ((rec.config or {}).get("dataset", {}).get("options") or {}).get("path")
    if not path:
        return None
    try:
        resolved = Path(path).resolve()
        resolved.relative_to(store.root.resolve())
    except (OSError, ValueError):
        return None
    return resolved


def orphaned_files(store: RunStore, run_ids) -> list[Path]:
    """The uploaded files that deleting `run_ids` would remove: used by them and by no other run."""
    ids = set(run_ids)
    used_by = {r.id: _owned_file(store, r) for r in store.list()}
    keep = {f for rid, f in used_by.items() if rid not in ids}
    return sorted({f for rid, f in used_by.items() if rid in ids and f is not None} - keep)


def delete_runs(store: RunStore, run_ids) -> Deletion:
    """Delete runs `run_ids` (rows, folders) and uploaded files no remaining run uses.

    Raises
    ------
    InputError
        If no id is given, an id is not a run id or names no run, or a run is
        queued or running. Nothing is deleted then.
    """
    ids = list(dict.fromkeys(validate_run_id(r) for r in run_ids))
    if not ids:
        raise InputError("no runs chosen to delete.")
    records = [store.get(r) for r in ids]  # InputError names an unknown id
    active = [r for r in records if r.active]
    if active:
        names = ", ".join(r.label() for r in active)
        raise InputError(f"cannot delete a run that is {active[0].status} ({names}): cancel it first, then delete it. "
                         "Nothing was deleted.")
    orphans = orphaned_files(store, ids)
    freed = sum(_folder_bytes(store.folder(r)) for r in ids)
    for run_id in ids:
        store.delete(run_id)
    removed = []
    for path in orphans:
        for f in (path, path.with_suffix(".json")):  # an upload's display-name file sits beside it
            if f.is_file():
                freed += f.stat().st_size
                f.unlink()
        removed.append(path.name)
    return Deletion(run_ids=tuple(ids), files=tuple(removed), bytes_freed=freed)


UPLOAD_MAX_AGE = 24 * 3600.0  # seconds an uploaded CSV no run uses is kept (someone may still be looking at it)


def prune_uploads(store: RunStore, folder: Path, keep: Path | None = None, max_age: float = UPLOAD_MAX_AGE) -> list[str]:
    """Remove the CSVs and zips in `folder` (the store's uploads) that no run uses and that are older than
    `max_age` seconds, with their display-name files; never `keep`. Returns the names removed."""
    if not folder.is_dir():
        return []
    used = {_owned_file(store, r) for r in store.list()}
    keep = Path(keep).resolve() if keep else None
    cutoff = time.time() - max_age
    removed = []
    for csv in sorted([*folder.glob("*.csv"), *folder.glob("*.parquet"), *folder.glob("*.zip")]):  # tables, images
        path = csv.resolve()
        if path == keep or path in used:
            continue
        try:
            if csv.stat().st_mtime >= cutoff:
                continue
            csv.unlink()
            csv.with_suffix(".json").unlink(missing_ok=True)
        except FileNotFoundError:  # another session pruned it first
            continue
        removed.append(csv.name)
    return removed
