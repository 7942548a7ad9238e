"""The live panel of one run, shared by the Train and Latent pages.

`run_progress_panel(run_id)` shows a queued/running run's progress (polling the
run store once a second in a fragment, so the rest of the page does not rerun),
or why a run ended without a result. `run_result(rec)` shows a finished run's
metrics against PCA. Both only read the store: cheap enough to poll.
"""

from __future__ import annotations

import streamlit as st

from ae_core.errors import InputError
from ae_core.figures.training import loss_curve_figure
from ae_core.runs.store import RunRecord
from ae_core.runs.summary import comparison_table, first_line, progress_view, training_facts
from ui import access, state

POLL_SECONDS = 1.0  # a training run's panel
# A queued run's panel is one line that changes when the queue moves: polled less often, which matters when many
# people wait at once (tests/test_load.py: ten sessions, nine of them waiting).
QUEUED_POLL_SECONDS = 3.0


def run_progress_panel(run_id: str) -> RunRecord | None:
    """Render the state of run `run_id` unless it is done; return its record.

    Active runs get a live fragment (status, progress bar, ETA, learning rate,
    loss curves, Cancel); when the run leaves queued/running the whole page
    reruns, so the caller can show the result. Failed, cancelled and
    interrupted runs show their error. Returns None (after an st.error) if the
    run does not exist.
    """
    try:
        rec = state.store().get(run_id)
    except InputError as exc:
        st.error(str(exc))
        return None
    if rec.active:
        state.manager()  # make sure a manager exists: it starts queued runs and marks dead ones interrupted
        (_live_panel if rec.status == "running" else _queued_panel)(run_id, rec.status)
        rec = state.store().get(run_id)
    elif rec.status != "done":
        show_failure(rec)
    return rec


@st.fragment(run_every=POLL_SECONDS)
def _live_panel(run_id: str, initial_status: str) -> None:
    _panel(run_id, initial_status)


@st.fragment(run_every=QUEUED_POLL_SECONDS)
def _queued_panel(run_id: str, initial_status: str) -> None:
    _panel(run_id, initial_status)


def _panel(run_id: str, initial_status: str) -> None:
    rec = state.store().get(run_id)
    if not rec.active or rec.status != initial_status:
        # Finished, failed or cancelled since the page drew (the page shows the result), or a queued run
        # started (its panel polls faster): redraw the page once.
        st.rerun(scope="app")
    view = progress_view(rec.progress, rec.status)
    with st.container(border=True):
        head, cancel_col = st.columns([5, 1], vertical_alignment="center")
        if rec.status == "queued":
            pos = state.manager().queue_position(run_id)
            head.markdown(f"**Queued** — {rec.label()}" + (f" · position {pos} in the queue" if pos else ""))
        else:
            head.markdown(f"**Training** — {rec.label()}" + (f" · on {view.where}" if view.where else ""))
        if access.is_editor() and not rec.cancel_requested and cancel_col.button("Cancel", key=f"cancel_{run_id}",
                                                          icon=":material/stop_circle:", width="stretch"):
            state.manager().cancel(run_id)
            rec = state.store().get(run_id)
            if not rec.active:  # a queued run is cancelled at once
                st.rerun(scope="app")
        if rec.cancel_requested:
            cancel_col.caption("Cancelling…")
        if rec.status == "queued":  # nothing to chart yet: keep the once-a-second redraw small
            st.caption("It starts when the runs ahead of it have finished; you can leave this page meanwhile.")
            return
        st.progress(view.fraction, text=view.headline)
        a, b, c, d = st.columns(4)
        a.metric("Elapsed", view.elapsed)
        b.metric("Time left (estimate)", view.eta)
        c.metric("Learning rate", view.lr)
        d.metric("Validation loss", view.last_val_loss)
        if history := (rec.progress or {}).get("history"):
            _loss_curves(history, key=f"live_{run_id}")


def _loss_curves(history: list[dict], key: str, best_epoch: int | None = None) -> None:
    log_y = st.toggle("Log-scale loss", key=f"log_{key}", value=False)
    st.plotly_chart(loss_curve_figure(history, log_y=log_y, best_epoch=best_epoch), key=f"curve_{key}")


def show_failure(rec: RunRecord) -> None:
    """Why a run ended without a result: the first line big, the rest in an expander."""
    head, rest = first_line(rec.error)
    if rec.status == "cancelled":
        st.warning(f"**This run was cancelled** — {head}. It has no results; start a new run to train again.",
                   icon=":material/cancel:")
    else:
        verb = "was interrupted" if rec.status == "interrupted" else rec.status
        st.error(f"**This run {verb}:** {head}", icon=":material/error:")
    if rest:
        with st.expander("Details"):
            st.code(rest, language=None)
    if access.is_editor() and state.store().resumable(rec.id):
        epoch = (state.store().read_json(rec.id, "checkpoint.json") or {}).get("epoch", 0)
        if st.button(f"Resume from epoch {epoch}", key=f"resume_{rec.id}", icon=":material/play_arrow:",
                     help="Continue training from the last checkpoint, with the same history"):
            state.manager().resume(rec.id)
            st.rerun(scope="app")


def run_result(rec: RunRecord, link_to_latent: bool = True) -> None:
    """A finished run: AE vs PCA in one sentence and a table, how training went, loss curves."""
    from ae_core.analysis.metrics import describe_ratio

    m = rec.metrics or {}
    st.success(f"**Finished** — {rec.label()}", icon=":material/check_circle:")
    if "ae_pca_ratio" in m:
        st.markdown(f"#### {describe_ratio(float(m['ae_pca_ratio']), rec.variant)}")
    table = comparison_table(m)
    if len(table):
        st.dataframe(
            table, hide_index=True,
            column_config={
                "autoencoder": st.column_config.NumberColumn(format="%.4f"),
                "PCA": st.column_config.NumberColumn(format="%.4f"),
                "meaning": st.column_config.TextColumn(width="large"),
            },
        )
    facts = training_facts(m)
    if facts:
        st.caption(" · ".join(f"{k}: {v}" for k, v in facts))
    history = state.store().read_json(rec.id, "history.json", None) or (rec.progress or {}).get("history") or []
    with st.expander("Loss curves", expanded=True):
        _loss_curves(history, key=f"done_{rec.id}", best_epoch=m.get("best_epoch"))
    if link_to_latent:
        st.page_link("app_pages/latent.py", label="Explore the latent space of this run", icon=":material/scatter_plot:",
                     query_params={"run": rec.id})
