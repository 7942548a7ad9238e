"""The runs pinned for a demo: the Home page opens on them.

Two sources, the first that names any run wins: `AE_SHOWCASE=<id>,<id>` (set by whoever starts the
server, e.g. for a read-only demo), else the pins an editor chose with "Pin for demo", kept in the run
store as `showcase.json` (a list of run ids, written atomically). Ids of runs that are gone or not
finished are left out when read, so deleting a pinned run needs no clean-up here.
"""

from __future__ import annotations

import json

from ae_core.errors import InputError
from ae_core.runs.store import RunRecord, RunStore, atomic_write_bytes, validate_run_id

FILE = "showcase.json"
MAX_PINS = 12  # a demo's worth; the Home page shows one card per pin


def parse_ids(text: str | None) -> list[str]:
    """`AE_SHOWCASE`'s run ids, in order, without repeats.

    >>> parse_ids(" 3f2a9c0d1e2f, 3f2a9c0d1e2f,,0a1b2c3d4e5f ")
    ['3f2a9c0d1e2f', '0a1b2c3d4e5f']
    """
    ids = [p.strip() for p in (text or "").split(",") if p.strip()]
    try:
        return list(dict.fromkeys(validate_run_id(i) for i in ids))
    except InputError as exc:
        raise InputError(f"AE_SHOWCASE must list run ids separated by commas ({exc})") from exc


def read_pins(store: RunStore) -> list[str]:
    """The ids pinned in the store, in the order they were pinned (a damaged file reads as none)."""
    path = store.root / FILE
    if not path.is_file():
        return []
    try:
        ids = json.loads(path.read_text())
        return [validate_run_id(i) for i in ids if isinstance(i, str)][:MAX_PINS]
    except (ValueError, InputError, TypeError):
        return []


def write_pins(store: RunStore, run_ids) -> list[str]:
    """Replace the pins with `run_ids` (existing runs only; InputError otherwise); returns them."""
    ids = list(dict.fromkeys(validate_run_id(i) for i in run_ids))
    if len(ids) > MAX_PINS:
        raise InputError(f"at most {MAX_PINS} runs can be pinned for a demo; unpin some first.")
    for run_id in ids:
        store.get(run_id)  # InputError names a run that is gone
    atomic_write_bytes(store.root / FILE, json.dumps(ids).encode())
    return ids


def pin(store: RunStore, run_ids) -> list[str]:
    """Add finished runs `run_ids` to the pins (after the ones there); returns all pins."""
    recs = [store.get(validate_run_id(i)) for i in run_ids]
    unfinished = [r.label() for r in recs if r.status != "done"]
    if unfinished:
        raise InputError(f"only finished runs can be pinned for a demo ({', '.join(unfinished)} is not).")
    return write_pins(store, [*read_pins(store), *(r.id for r in recs)])


def unpin(store: RunStore, run_ids) -> list[str]:
    drop = {validate_run_id(i) for i in run_ids}
    return write_pins(store, [i for i in read_pins(store) if i not in drop and store.exists(i)])


def showcase(store: RunStore, env_value: str | None = None) -> list[RunRecord]:
    """The finished runs to open the demo on: AE_SHOWCASE's (`env_value`) if it names any that
    exist, else the stored pins."""
    for ids in (parse_ids(env_value), read_pins(store)):
        found = [r for r in (store.get(i) for i in ids if store.exists(i)) if r.status == "done"]
        if found:
            return found
    return []
