"""Fixes for Streamlit bugs that lose page switches, or the page, while live panels refresh.

Our live panels (run progress, the Home table) are fragments that rerun
themselves every second or two. Three ways a page switch goes wrong with them
under load (tests/test_load.py: ten sessions on two cores):

1. Streamlit folds a request that arrives while another is still pending into
   one rerun, and takes the page from the newer request. When a person clicks
   another page while the server is busy and the old page's timer fires before
   the switch has started, the folded rerun goes back to the old page: the click
   is lost (up to 6 of 80 page switches, each stuck for 30 s). Fix: drop a
   fragment rerun of another page while a whole-app rerun is pending.
2. A timer of the page left behind that fires after the switch has started
   sends a fragment rerun naming the old page. Streamlit runs it, announces the
   old page to the browser, which clears the new page, and then the fragment's
   elements arrive for positions that are not there: "Bad delta path index 5
   (should be between [0, 0])", a JavaScript error that left the tab dead.
   Fix: drop a fragment rerun that names another page than the session is on.
3. A full run forgets the fragments it did not draw only when it ends
   normally, not when the page ends with st.stop() (Latent space, Reconstructions
   and Compare stop early while a run trains): the old page's panels stay
   registered and a late timer redraws them into the new page.
   Fix: `forget_undrawn_fragments()`, called by app.py after every page, does
   what Streamlit does at the end of a normal run.

Everything else goes through Streamlit unchanged. `apply()` is idempotent; app.py calls it at start-up. It
patches private code: requirements.txt bounds Streamlit to the versions it was checked on, and it checks what it
patches before patching.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_APPLIED = "_ae_keeps_page_switches"


def _is_full_rerun(data) -> bool:
    return not (data.fragment_id or data.fragment_id_queue or getattr(data, "is_fragment_scoped_rerun", False))


def stale_fragment_rerun(pending, new) -> bool:
    """Whether `new` (a fragment's rerun) is for a page that the pending whole-app rerun `pending` leaves (1)."""
    return (pending is not None and _is_full_rerun(pending) and not _is_full_rerun(new)
            and bool(pending.page_script_hash) and new.page_script_hash != pending.page_script_hash)


def fragment_of_left_page(fragment_id: str, request_page: str, session_page: str) -> bool:
    """Whether a rerun of fragment `fragment_id` that names page `request_page` comes from a page the session,
    now on `session_page`, has left (2). A request or a session that names no page yet is not judged."""
    return bool(fragment_id and request_page and session_page) and request_page != session_page


def forget_undrawn_fragments() -> None:
    """After a whole page ran, however it ended: forget the fragments this run did not draw (3), as Streamlit
    does after a run that ends normally, so a late timer of the page left behind finds nothing to redraw."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or ctx.fragment_ids_this_run:  # not in a script run, or a fragment's own rerun
        return
    storage, shared = getattr(ctx, "fragment_storage", None), getattr(ctx, "shared", None)
    drawn = getattr(shared, "new_fragment_ids", None)
    if storage is None or drawn is None:
        if not getattr(forget_undrawn_fragments, "_warned", False):
            forget_undrawn_fragments._warned = True
            log.warning("this Streamlit's script run context moved; stale fragments are not forgotten (ui/fixes.py)")
        return
    storage.clear(new_fragment_ids=frozenset(drawn.snapshot()))


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
    """Install fixes 1 and 2 in this process. False, with a logged warning, where this Streamlit lacks what a
    fix patches; that fix is then not installed (page switches behave as in plain Streamlit)."""
    return _keep_pending_switches() & _ignore_left_pages()


def _ignore_left_pages() -> bool:
    try:
        from streamlit.runtime.app_session import AppSession
    except ImportError:
        log.warning("Streamlit's app session moved; the left-page fix (ui/fixes.py) is not applied")
        return False
    if getattr(AppSession, _APPLIED, False):
        return True
    if not callable(getattr(AppSession, "request_rerun", None)) or not isinstance(
            getattr(AppSession, "page_script_hash", None), property):
        log.warning("this Streamlit lacks AppSession.request_rerun or .page_script_hash; the left-page fix "
                    "(ui/fixes.py) is not applied")
        return False
    requested = AppSession.request_rerun

    def request_rerun(self, client_state):
        if client_state is not None and fragment_of_left_page(
                client_state.fragment_id, client_state.page_script_hash, self.page_script_hash):
            log.info("dropped a rerun of fragment %s of a page this session has left", client_state.fragment_id)
            return None
        return requested(self, client_state)

    AppSession.request_rerun = request_rerun
    setattr(AppSession, _APPLIED, True)
    return True


def _keep_pending_switches() -> bool:
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
