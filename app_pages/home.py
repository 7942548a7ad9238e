"""Home: what this is, a one-click first run, and the recent runs."""

import streamlit as st

from ae_core.errors import InputError
from ae_core.runs.housekeeping import orphaned_files
from ui import access, state

# Session state: the runs table's widget key, the runs waiting for "Delete?" to be answered, the last deletion.
TABLE_KEY, PENDING_KEY, DELETED_KEY = "home_runs_table_key", "home_delete_pending", "home_deleted"

st.title("Autoencoder Explorer")
st.markdown(
    "An **autoencoder** squeezes each example through a small code and learns to rebuild it; "
    "the code is a compact, learned summary you can plot, compare with PCA, denoise with, "
    "or use to spot anomalies. Train one on a built-in dataset in seconds, then explore what it learned."
)

EDITOR = access.is_editor()


def _showcase() -> None:
    """The runs pinned for the demo (AE_SHOWCASE or "Pin for demo"), each with links into the explore pages;
    a session that has not chosen a run starts on the first."""
    pinned = state.showcase_runs()
    if not pinned:
        return
    if not state.selected_run_id():
        state.select_run(pinned[0].id)
    st.subheader("Demo runs")
    for col, rec in zip(st.columns(min(len(pinned), 3)) * ((len(pinned) + 2) // 3), pinned):
        with col.container(border=True):
            st.markdown(f"**{rec.dataset} · {rec.variant} · {rec.latent_dim}-D code**")
            m = rec.metrics or {}
            if "ae_pca_ratio" in m:
                st.caption(f"error {float(m['ae_pca_ratio']):.2f}x PCA's at the same code size")
            for page, label, icon in (("latent", "Latent space", "scatter_plot"), ("reconstructions", "Reconstructions",
                                      "compare"), ("anomalies", "Anomalies", "crisis_alert")):
                st.page_link(f"app_pages/{page}.py", label=label, icon=f":material/{icon}:", query_params={"run": rec.id})


_showcase()
if EDITOR and st.button("Try it: train on digits", type="primary", icon=":material/play_arrow:"):
    try:
        from ae_core.runs.spec import make_config

        rec = state.manager().submit(make_config("digits", "vanilla"))
    except InputError as exc:
        st.error(str(exc))
    else:
        state.select_run(rec.id)
        st.switch_page("app_pages/latent.py", query_params={"run": rec.id})
if EDITOR:
    st.caption("A plain autoencoder with a 2-D code on 1,797 handwritten 8x8 digits; it trains in a few seconds. "
               "For other data and variants, use **Train**.")

state.how_it_works(
    """
**In plain words.** An autoencoder is two small networks trained together. The *encoder* compresses an
input (an image, a row of measurements) into a short code of a few numbers; the *decoder* tries to rebuild
the input from that code alone. Because the code is small, the network must keep what matters and drop the
rest, so examples that are alike end up with codes that are close.

**The formula.** Encoder and decoder are functions with learned weights θ and φ:

$z = f_\\theta(x)$, $\\quad \\hat{x} = g_\\phi(z)$, $\\quad L = \\frac{1}{N}\\sum_{i=1}^{N} \\lVert x_i - \\hat{x}_i \\rVert^2$

Training adjusts θ and φ by backpropagation (Adam) to make the reconstruction loss $L$ small on the
training rows, while we watch it on validation rows to stop before it overfits.

**How does it differ from PCA?** PCA is the linear special case: it projects onto the directions of most
variance, and its best reconstruction with *k* numbers is the one every autoencoder here is compared with.
An autoencoder's encoder and decoder are non-linear, so it can follow curved structure (a rolled-up sheet,
the strokes of a digit) that a flat projection cannot. Every finished run reports its error as a ratio to
PCA's at the same code size: below 1 means the autoencoder did better.
"""
)


def _runs_section() -> None:
    runs = state.visible(state.store().list(limit=50))
    st.subheader("Recent runs")
    if not runs and not EDITOR:
        st.info("No finished runs to show yet.", icon=":material/info:")
        return
    if not runs:
        st.info("No runs yet. Click **Try it** above for a first run on digits, or pick a dataset and a variant on the Train page.",
                icon=":material/info:")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        return
    from ae_core.runs.summary import run_counts, runs_table, table_key  # pandas (0.5 s): once there is a table

    counts = run_counts(runs)
    st.caption(" · ".join(f"{n} {status}" for status, n in counts.items()))
    st.session_state[TABLE_KEY] = table_key(runs)  # a new set of runs gets a fresh table: no tick moves
    st.dataframe(
        runs_table(runs),
        key=st.session_state[TABLE_KEY],
        on_select="rerun" if EDITOR else "ignore",  # the ticks are for Delete and Pin: editors only
        selection_mode="multi-row",
        hide_index=True,
        placeholder="—",  # metrics of runs that have not finished
        column_order=["open", "dataset", "variant", "latent", "status", "progress", "test_error",
                      "ae_pca_ratio", "knn_accuracy", "trained_on", "when"],
        column_config={
            "open": st.column_config.LinkColumn("Open", display_text="latent space", width="small",
                                                help="Open this run on the Latent space page"),
            "dataset": st.column_config.TextColumn("Dataset"),
            "variant": st.column_config.TextColumn("Variant"),
            "latent": st.column_config.NumberColumn("Code size", help="Latent dimensions", format="%d"),
            "status": st.column_config.TextColumn("Status"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent"),
            "test_error": st.column_config.NumberColumn("Test error", help="Reconstruction MSE on the held-out test rows",
                                                        format="%.4f"),
            "ae_pca_ratio": st.column_config.NumberColumn("AE / PCA error", format="%.2fx",
                                                          help="Below 1: the autoencoder reconstructs better than PCA at the same code size"),
            "knn_accuracy": st.column_config.NumberColumn("kNN accuracy", format="percent",
                                                          help="5-nearest-neighbour classifier on the code, test rows"),
            "trained_on": st.column_config.TextColumn("Trained on", help="local (this server) or a Ray node, and the device"),
            "when": st.column_config.DatetimeColumn("Started", format="distance"),
        },
    )


# While a run trains, the table refreshes itself every two seconds (a fragment); otherwise it is drawn once.
_recent = state.visible(state.store().list(limit=50))
_active = any(r.active for r in _recent)
if _active:
    # After a server restart, the job manager is what notices that a "running" run's process
    # is gone (-> interrupted) and starts queued runs: make sure it exists.
    state.manager()
    st.fragment(run_every=2.0)(_runs_section)()
else:
    _runs_section()


def _forget_pending() -> None:
    st.session_state.pop(PENDING_KEY, None)


# The question stays open (asked again on every rerun) until it is answered or closed.
@st.dialog("Delete runs?", on_dismiss=_forget_pending)
def _confirm_delete(run_ids: list[str]) -> None:
    store = state.store()
    recs = [store.get(i) for i in run_ids if store.exists(i)]
    busy = [r for r in recs if r.active]
    gone = [r for r in recs if not r.active]
    if not recs:
        st.info("These runs are gone already (deleted elsewhere).", icon=":material/info:")
    if gone:
        st.markdown("These runs are removed for good, with their weights, codes and saved analyses:")
        st.markdown("\n".join(f"- {r.label()} · {r.status}" for r in gone))
        if n := len(orphaned_files(store, [r.id for r in gone])):
            st.markdown(f"No other run uses the uploaded CSV file{'s' if n > 1 else ''} they were trained on, "
                        f"so {'they go' if n > 1 else 'it goes'} too.")
    for r in busy:
        st.warning(f"{r.label()} is {r.status}: cancel it on the Train page first. It is not deleted.",
                   icon=":material/warning:")
    left, right = st.columns(2)
    if left.button(f"Delete {len(gone)} run{'s' if len(gone) != 1 else ''}", type="primary", disabled=not gone,
                   icon=":material/delete:", key="home_delete_confirm", width="stretch"):
        try:
            done = state.delete_runs([r.id for r in gone])
        except InputError as exc:  # one of them started training since the dialog opened
            st.error(str(exc))
            return
        _forget_pending()
        if state.selected_run_id() in done.run_ids:
            state.select_run(None)
        st.session_state[DELETED_KEY] = done.summary()
        st.rerun()
    if right.button("Keep them", key="home_delete_cancel", width="stretch"):
        _forget_pending()
        st.rerun()


if message := st.session_state.pop(DELETED_KEY, None):
    st.toast(message, icon=":material/delete:")


def _ticked(what: str) -> list[str]:
    """The runs ticked in the table (empty, with a note, when there are none or the list just changed)."""
    from ae_core.runs.summary import ticked_runs

    drawn = st.session_state[TABLE_KEY]
    chosen, note = ticked_runs(st.session_state.get(drawn), state.store().list(limit=50), drawn, what)
    if note:
        st.info(note, icon=":material/info:")
    return chosen


if EDITOR and _recent:  # the table is drawn, and its key is in TABLE_KEY
    row = st.container(horizontal=True)  # the three buttons side by side, each as wide as its label
    if row.button("Delete selected runs…", icon=":material/delete:", key="home_delete",
                  help="Tick runs in the table (the boxes at its left), then delete them and their files."):
        if chosen := _ticked("delete"):
            st.session_state[PENDING_KEY] = chosen
    for pinned, label, icon in ((True, "Pin for demo", "push_pin"), (False, "Unpin", "keep_off")):
        if row.button(label, icon=f":material/{icon}:", key=f"home_pin_{pinned}",
                      help="The Home page opens on the pinned runs (AE_SHOWCASE, if set, wins)."):
            if chosen := _ticked("pin" if pinned else "unpin"):
                try:
                    state.set_pinned(chosen, pinned)
                except InputError as exc:
                    st.error(str(exc), icon=":material/error:")
                else:
                    st.rerun()
if EDITOR and (pending := st.session_state.get(PENDING_KEY)):
    _confirm_delete(pending)
