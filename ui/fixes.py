"""A fix for a Streamlit bug that loses page switches while live panels refresh.

Our live panels (run progress, the Home table) are fragments that rerun
themselves every second or two. Streamlit folds a request that arrives while
another is still pending into one rerun, and takes the page from the newer
request. So when a person clicks another page in the sidebar while the
server is busy, and the old page's timer fires before the switch has started,
the folded rerun goes back to the old page: the click is lost. Under load
(tests/test_load.py: ten sessions on two cores) that happened to up to 6 of 80
page switches, each one stuck on the old page for 30 s until clicked again.

The fix drops a fragment rerun of another page while a whole-app rerun is
pending: that rerun leaves the page, so there is nothing left for the
fragment to refresh. Everything else goes through Streamlit unchanged.
`apply()` is idempotent; app.py calls it at start-up. It patches private code: requirements.txt bounds
Streamlit to the versions it was checked on, and it checks what it patches before patching.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_APPLIED = "_ae_keeps_page_switches"


def _is_full_rerun(data) -> bool:
    return not (data.fragment_id or data.fragment_id_queue or getattr(data, "is_fragment_scoped_rerun", False))


def stale_fragment_rerun(pending, new) -> bool:
    """Whether `new` (a fragment's rerun) is for a page that the pending whole-app rerun `pending` leaves."""
    return (pending is not None and _is_full_rerun(pending) and not _is_full_rerun(new)
            and bool(pending.page_script_hash) and new.page_script_hash != pending.page_script_hash)


# What the patch relies on, checked before patching: ScriptRequests' method that every rerun request passes
# through with its lock held, the two attributes it reads, and the fields of a rerun request it compares.
# Verified on the Streamlit versions requirements.txt allows.
_METHOD = "_request_rerun_locked"
_ATTRIBUTES = ("_state", "_rerun_data")
_FIELDS = ("fragment_id", "fragment_id_queue", "page_script_hash")


def _missing(requests_cls, rerun_data_cls) -> list[str]:
    """The private names this Streamlit lacks (empty: the patch fits)."""
    import dataclasses

    missing = [] if callable(getattr(requests_cls, _METHOD, None)) else [f"ScriptRequests.{_METHOD}"]
    try:
        present = vars(requests_cls())
    except Exception:  # noqa: BLE001 - a constructor that changed is one more reason not to patch
        log.warning("could not create a ScriptRequests to inspect", exc_info=True)
        present = {}
    missing += [f"ScriptRequests().{a}" for a in _ATTRIBUTES if a not in present]
    fields = {f.name for f in dataclasses.fields(rerun_data_cls)} if dataclasses.is_dataclass(rerun_data_cls) else set()
    return missing + [f"RerunData.{f}" for f in _FIELDS if f not in fields]


def apply() -> bool:
    """Install the fix in this process. False, with a logged warning and nothing changed, where this
    Streamlit lacks what the fix patches (page switches then behave as in plain Streamlit)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_requests import (
            RerunData,
            ScriptRequests,
            ScriptRequestType,
        )
    except ImportError:
        log.warning("Streamlit's script requests moved; the page-switch fix (ui/fixes.py) is not applied")
        return False
    if getattr(ScriptRequests, _APPLIED, False):
        return True
    missing = _missing(ScriptRequests, RerunData)
    if missing or not hasattr(ScriptRequestType, "RERUN"):
        log.warning("this Streamlit lacks %s; the page-switch fix (ui/fixes.py) is not applied",
                    ", ".join(missing or ["ScriptRequestType.RERUN"]))
        return False

    def pending_of(requests):
        return requests._rerun_data if requests._state == ScriptRequestType.RERUN else None

    folded = getattr(ScriptRequests, _METHOD)

    def _request_rerun_locked(self, new_data):
        if stale_fragment_rerun(pending_of(self), new_data):
            return True
        return folded(self, new_data)

    setattr(ScriptRequests, _METHOD, _request_rerun_locked)
    setattr(ScriptRequests, _APPLIED, True)
    return True
