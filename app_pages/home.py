"""Home: what this is, a one-click first run, and the recent runs."""

import streamlit as st

from ae_core.errors import InputError
from ae_core.plots_training import run_counts, runs_table
from ui import state

st.title("Autoencoder Explorer")
st.markdown(
    "An **autoencoder** squeezes each example through a small code and learns to rebuild it; "
    "the code is a compact, learned summary you can plot, compare with PCA, denoise with, "
    "or use to spot anomalies. Train one on a built-in dataset in seconds, then explore what it learned."
)

if st.button("Try it: train on digits", type="primary", icon=":material/play_arrow:"):
    try:
        from ae_core.runconfig import make_config

        rec = state.manager().submit(make_config("digits", "vanilla"))
    except InputError as exc:
        st.error(str(exc))
    else:
        state.select_run(rec.id)
        st.switch_page("app_pages/latent.py", query_params={"run": rec.id})
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
    runs = state.store().list(limit=50)
    st.subheader("Recent runs")
    if not runs:
        st.info("No runs yet. Click **Try it** above for a first run on digits, or pick a dataset and a variant on the Train page.",
                icon=":material/info:")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        return
    counts = run_counts(runs)
    st.caption(" · ".join(f"{n} {status}" for status, n in counts.items()))
    st.dataframe(
        runs_table(runs),
        hide_index=True,
        placeholder="—",  # metrics of runs that have not finished
        column_order=["open", "dataset", "variant", "latent", "status", "progress", "test_error",
                      "ae_pca_ratio", "knn_accuracy", "when"],
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
            "when": st.column_config.DatetimeColumn("Started", format="distance"),
        },
    )


# While a run trains, the table refreshes itself every two seconds; otherwise it is drawn once.
_active = any(r.active for r in state.store().list(limit=50))
if _active:
    # After a server restart, the job manager is what notices that a "running" run's process
    # is gone (-> interrupted) and starts queued runs: make sure it exists.
    state.manager()
st.fragment(run_every=2.0 if _active else None)(_runs_section)()
