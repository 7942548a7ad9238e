"""Shared app state: one run store and one job manager per server, and the
run the user is looking at, kept in `st.session_state` and in the URL
(`?run=<id>`) so that a link opens the same view."""

from __future__ import annotations

import logging
import os
import threading
import time

import streamlit as st

from ae_core.analysis.projection_process import Projector
from ae_core.errors import InputError
from ae_core.logs import setup_logging
from ae_core.runs.store import RunRecord, RunStore, default_root, validate_run_id
from ui import access

log = logging.getLogger(__name__)

RUN_KEY = "run"


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    return RunStore(root)


def store() -> RunStore:
    return _store(str(default_root()))


@st.cache_resource(show_spinner=False)
def _manager(root: str, max_parallel: int, executor: str, address: str):
    from ae_core.runs.jobs import JobManager, executor_from_env  # no torch here: the worker imports it

    # The standby worker (torch and scikit-learn imported, waiting for a run) starts 3 s after the manager, so
    # its imports do not share the two cores with the server's first page (app.py starts the manager there).
    # AE_EXECUTOR=ray (executor, address: the cache's key) trains on a Ray cluster instead.
    return JobManager(_store(root), executor=executor_from_env(_store(root), max_parallel, standby_delay=STANDBY_DELAY))


STANDBY_DELAY = 3.0


def _helpers_on() -> bool:
    """Start the server's helpers (job manager with its standby worker, UMAP helper) with its first page;
    `AE_WARM_UP=0` (tests) leaves them to first use."""
    return os.environ.get("AE_WARM_UP", "1") != "0"


def start_logging() -> None:
    """The server's log: stderr and <runs root>/logs/explorer.log (ae_core.logs). Cheap to call on every run."""
    setup_logging(default_root())


def start_jobs() -> None:
    """Once per server, with its first page: the job manager, which marks runs left 'running' by a
    previous server as interrupted, starts queued runs, and (3 s later) a standby worker, so that the
    first run a visitor starts, "Try it" included, skips the worker's imports. `AE_WARM_UP=0` (tests)
    leaves it to the first page that needs it. In viewer mode (AE_MODE=viewer) nothing
    starts: a read-only demo runs no training process; an editor who signs in starts it on first use."""
    if _helpers_on() and access.mode() != access.VIEWER:
        try:
            _jobs()
        except InputError as exc:  # AE_EXECUTOR=ray and its cluster unreachable: say so on every page
            st.error(f"**Training is unavailable:** {exc}", icon=":material/error:")


RETRY_SECONDS = 60.0  # after the executor could not start (a Ray cluster unreachable), try again after this long
_failed: dict[tuple, tuple[float, InputError]] = {}  # the manager's key -> (when, why) of its last failed start
_failed_lock = threading.Lock()


def _jobs():
    """The server's job manager itself (created on first use; recovers orphaned runs). An executor that could
    not start (AE_EXECUTOR=ray, its cluster unreachable: Ray's connect waits half a minute) is not tried again
    for RETRY_SECONDS: until then every page says why at once."""
    key = (str(default_root()), int(os.environ.get("AE_MAX_JOBS", "1")), os.environ.get("AE_EXECUTOR", "local"),
           os.environ.get("AE_RAY_ADDRESS", ""))
    with _failed_lock:
        when, why = _failed.get(key, (None, None))
    if when is not None and time.monotonic() - when < RETRY_SECONDS:
        raise why
    try:
        return _manager(*key)
    except InputError as exc:
        log.warning("training is unavailable: %s (next try in %.0f s)", exc, RETRY_SECONDS)
        with _failed_lock:
            _failed[key] = (time.monotonic(), exc)
        raise


class SessionJobs:
    """The job manager as one browser session may use it: submit, cancel and resume check the session's
    role (`ui.access.require_editor`) and submit its run-start limit, here on the server, so a request
    for a control the page never drew is refused as well; everything else is the manager's own."""

    def submit(self, config: dict, title: str = ""):
        access.require_editor("starting a training run")
        access.allow_starts()
        return _jobs().submit(config, title=title)

    def cancel(self, run_id: str) -> None:
        access.require_editor("cancelling a run")
        _jobs().cancel(run_id)

    def resume(self, run_id: str):
        access.require_editor("resuming a run")
        access.allow_starts()
        return _jobs().resume(run_id)

    def __getattr__(self, name: str):  # queue_position, running, wait: reading only
        return getattr(_jobs(), name)


def manager() -> SessionJobs:
    """The server's job manager for this session (see SessionJobs). For an editor the manager exists from
    here on (it starts queued runs and marks dead ones interrupted); a viewer's call starts nothing."""
    if access.is_editor():
        _jobs()
    return SessionJobs()


def save_upload(name: str, data: bytes):
    """Store an uploaded file in the run store (editors only); returns its path."""
    from ae_core.runs.upload import save_upload as save

    access.require_editor("uploading a file")
    return save(store().root, name, data)


def delete_runs(run_ids):
    """Delete runs and their files (editors only); see ae_core.runs.housekeeping.delete_runs."""
    from ae_core.runs.housekeeping import delete_runs as delete

    access.require_editor("deleting runs")
    return delete(store(), run_ids)


def set_pinned(run_ids, pinned: bool) -> list[str]:
    """Pin runs for the demo (or unpin them); editors only. Returns the pins."""
    from ae_core.runs import showcase

    access.require_editor("pinning runs for the demo")
    return (showcase.pin if pinned else showcase.unpin)(store(), run_ids)


def showcase_runs() -> list[RunRecord]:
    """The finished runs the demo opens on: AE_SHOWCASE's, else the pinned ones."""
    from ae_core.runs.showcase import showcase

    return showcase(store(), os.environ.get("AE_SHOWCASE"))


def visible(runs: list[RunRecord]) -> list[RunRecord]:
    """What this session may see of `runs`: all for an editor, the finished ones for a viewer."""
    return runs if access.is_editor() else [r for r in runs if r.status == "done"]


@st.cache_resource(show_spinner=False)
def _projector():
    if not _helpers_on():
        return None
    return Projector(log_root=default_root()).start()


def start_projector() -> None:
    """Once per server: the UMAP helper process (ae_core.analysis.projection_process), which compiles UMAP in the
    background a few seconds after start-up, away from the server's own interpreter.
    `AE_WARM_UP=0` (tests) runs UMAP in the server's process instead, compiled on first use."""
    _projector()


def umap_fit():
    """What pages pass as `cached_projection(..., umap=...)`: the helper's fit, or None (in this process)."""
    helper = _projector()
    return None if helper is None else helper.fit


@st.cache_resource(show_spinner="Loading the run…", max_entries=5)
def _loaded(root: str, run_id: str, updated: float):
    from ae_core.runs.loaded import load_run

    return load_run(_store(root), run_id)


def loaded_run(rec: RunRecord):
    """A finished run's model and arrays, cached per server (five at most)."""
    return _loaded(str(default_root()), rec.id, rec.updated if rec.status != "done" else rec.finished or 0.0)


def finished_runs_or_stop(message: str, link: str = "Go to Train") -> list[RunRecord]:
    """The finished runs, newest first; with none, the page says `message`, links to Train and stops."""
    runs = store().list(status="done")
    if not runs:
        st.info(message, icon=":material/info:")
        if access.is_editor():  # viewers have no Train page
            st.page_link("app_pages/train.py", label=link, icon=":material/model_training:")
        st.stop()
    return runs


def loaded_run_or_stop(rec: RunRecord):
    """`loaded_run(rec)`, or the load's clear message (a damaged or foreign run folder) and the page stops."""
    try:
        return loaded_run(rec)
    except InputError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


@st.cache_resource(show_spinner="Encoding every row of the file (once for this run)…", max_entries=2)
def _every_rows(_run, run_id: str, stamp: float):
    from ae_core.runs.every_row import every_row_for

    return every_row_for(_run)


def every_rows(run, rec: RunRecord):
    """Every row's code of a run that trained on a sample of its table (`ae_core.runs.every_row`: written by the
    worker after training; an older run's is made once and kept), or None: the run trained on every row, or its
    file is gone or changed (a warning says so: the rows trained on can still be drawn)."""
    from ae_core.runs.every_row import trained_on_a_sample

    if not trained_on_a_sample(run.dataset):
        return None
    try:
        return _every_rows(run, rec.id, rec.finished or rec.updated)
    except InputError as exc:
        st.warning(f"Only the rows trained on can be drawn: {exc}", icon=":material/warning:")
        return None


def selected_run_id() -> str | None:
    """The run in the URL, else the one chosen earlier in this session."""
    rid = st.query_params.get(RUN_KEY)
    if rid:
        try:
            return validate_run_id(rid)
        except InputError:
            return None
    return st.session_state.get(RUN_KEY)


def select_run(run_id: str | None) -> None:
    st.session_state[RUN_KEY] = run_id
    if run_id:
        st.query_params[RUN_KEY] = run_id
    elif RUN_KEY in st.query_params:
        del st.query_params[RUN_KEY]


def picker_key(base: str) -> str:
    """The widget key of the run picker `base` (it changes when `follow_run` moves the picker)."""
    return f"{base}_{st.session_state.get(base + '__generation', 0)}"


def follow_run(base: str, run_id: str) -> None:
    """Select `run_id` (a run just started) and make the picker `base` show it.

    The picker gets a new widget key: a rerun already on its way from the browser
    (a live panel's timer) carries the picker's old value and the old URL, which
    would otherwise put the previous run back on the page.
    """
    select_run(run_id)
    st.session_state[base + "__generation"] = st.session_state.get(base + "__generation", 0) + 1
    st.session_state[picker_key(base)] = run_id


def run_picker(runs: list[RunRecord], label: str = "Run", key: str = "run_picker", where=st.sidebar) -> RunRecord | None:
    """A selectbox over `runs` (newest first; a viewer's, the finished ones) bound to the selected run; None if empty."""
    runs = visible(runs)
    if not runs:
        return None
    ids = [r.id for r in runs]
    current = selected_run_id()
    index = ids.index(current) if current in ids else 0
    if current and current not in ids and not store().exists(current):  # a link to a deleted run
        st.warning(f"There is no run {current} here any more (it was deleted, or the link is from another "
                   "server); showing the newest run instead.", icon=":material/link_off:")
    by_id = {r.id: r for r in runs}
    if key in st.session_state and st.session_state[key] in ids:
        index = 0  # the value set in session state (follow_run) wins; no second default beside it
    choice = where.selectbox(label, ids, index=index, format_func=lambda i: by_id[i].label(), key=key)
    if choice != current:
        select_run(choice)
    return by_id[choice]


KEPT_KEY = "kept_settings"


def kept(key: str, default):
    """What the user last chose in the widget `key` (see `remember`), else `default`: the value
    to create that widget with.

    Streamlit drops a widget's state in every run that does not draw it: open another page and
    come back, and a form is back to its defaults. Values kept here are plain session state,
    which lives as long as the session."""
    return st.session_state.get(KEPT_KEY, {}).get(key, default)


def remember(key: str) -> None:
    """on_change callback of a widget created with `kept`: keep its new value."""
    st.session_state.setdefault(KEPT_KEY, {})[key] = st.session_state[key]


def kept_widget(widget, label: str, default, key: str, **kwargs):
    """`widget(label, value=...)` created with the user's last value for `key` (see `kept`), kept on change:
    a settings widget that comes back as the user left it after a visit to another page."""
    value = kept(key, default)
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # a range that changed (another run)
        value = min(max(value, kwargs.get("min_value", value)), kwargs.get("max_value", value))
    return widget(label, value=value, key=key, on_change=remember, args=(key,), **kwargs)


def kept_choice(widget, label: str, options, default, key: str, param: str = "index", **kwargs):
    """A selectbox or radio (`param="index"`) or a segmented control (`param="default"`) over `options`,
    kept like `kept_widget`; a kept value no longer among the options falls back to `default`."""
    options = list(options)
    chosen = kept(key, default)
    chosen = chosen if chosen in options else default
    initial = options.index(chosen) if param == "index" else chosen
    return widget(label, options, key=key, on_change=remember, args=(key,), **{param: initial}, **kwargs)


def how_it_works(markdown: str, title: str = "How this works") -> None:
    from ui import present

    if present.on():  # for a room: the charts, not the explanations
        return
    with st.expander(title):
        st.markdown(markdown)
