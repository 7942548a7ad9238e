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
`apply()` is idempotent; app.py calls it at start-up.
"""

from __future__ import annotations

_APPLIED = "_ae_keeps_page_switches"


def _is_full_rerun(data) -> bool:
    return not (data.fragment_id or data.fragment_id_queue or getattr(data, "is_fragment_scoped_rerun", False))


def stale_fragment_rerun(pending, new) -> bool:
    """Whether `new` (a fragment's rerun) is for a page that the pending whole-app rerun `pending` leaves."""
    return (pending is not None and _is_full_rerun(pending) and not _is_full_rerun(new)
            and bool(pending.page_script_hash) and new.page_script_hash != pending.page_script_hash)


def apply() -> bool:
    """Install the fix in this process; False if this Streamlit has no such code to fix (nothing changed)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequests, ScriptRequestType
    except ImportError:  # pragma: no cover - another Streamlit layout: leave it alone
        return False
    if getattr(ScriptRequests, _APPLIED, False):
        return True

    def pending_of(requests):
        return requests._rerun_data if requests._state == ScriptRequestType.RERUN else None

    if hasattr(ScriptRequests, "_request_rerun_locked"):  # Streamlit >= 1.5x: every request passes here, lock held
        folded = ScriptRequests._request_rerun_locked

        def _request_rerun_locked(self, new_data):
            if stale_fragment_rerun(pending_of(self), new_data):
                return True
            return folded(self, new_data)

        ScriptRequests._request_rerun_locked = _request_rerun_locked
    else:  # pragma: no cover - older Streamlit
        request = ScriptRequests.request_rerun

        def request_rerun(self, new_data):
            with self._lock:
                if stale_fragment_rerun(pending_of(self), new_data):
                    return True
            return request(self, new_data)

        ScriptRequests.request_rerun = request_rerun
    setattr(ScriptRequests, _APPLIED, True)
    return True
