"""Compare: several finished runs of one dataset, their metrics side by side and their codes drawn the same way."""

import functools

import streamlit as st

from ae_core.analysis.compare import best_index, default_dataset, finished, held_out_view, metrics_table
from ae_core.errors import InputError
from ae_core.figures.reconstruction import latent_scatter_figure
from ae_core.runs.export import bundle_filename, run_bundle
from ui import state

st.title("Compare runs")
state.how_it_works(
    """
**Plain words.** Pick runs trained on the same data (different variants, code sizes or settings) and see which
one does what best. Every number is measured on the *test* rows, which no run trained on. The best value of
each quality column is highlighted; time and epochs are only for reference.

- **test MSE**: the reconstruction error, $\\frac{1}{n}\\sum_i \\frac{1}{d}\\lVert x_i - \\hat{x}_i\\rVert^2$ (lower is better).
- **AE/PCA ratio**: test MSE divided by PCA's at the same code size; below 1 the autoencoder beats the linear baseline.
- **kNN accuracy**: how often the 5 nearest codes of training rows share a test row's class (is the code meaningful?).
- **trustworthiness** (0-1): how well neighbours in the code were also neighbours in the input.
- **anomaly AUC**: how well the reconstruction error ranks known outliers above normal rows (1 = perfectly).

The scatters show each run's test codes: a 2-number code as it is, a longer code through PCA (its two directions
of largest spread), so every run is drawn the same way.
"""
)

done = finished(state.finished_runs_or_stop("No finished run yet. Train a model or two (for example two variants of "
                                            "the same dataset) to compare them.", link="Train a model"))

datasets = sorted({r.dataset for r in done})
start = default_dataset(done, state.selected_run_id())
dataset = st.selectbox("Dataset", datasets, index=datasets.index(start), key="compare_dataset")
candidates = [r for r in done if r.dataset == dataset]
by_id = {r.id: r for r in candidates}
default = [r.id for r in candidates[:3]]
chosen_ids = st.multiselect("Runs", list(by_id), default=default, format_func=lambda i: by_id[i].label(),
                            key=f"compare_runs_{dataset}")
chosen = [by_id[i] for i in chosen_ids]
if not chosen:
    st.info("Choose at least one run above.")
    st.stop()

# ---- metrics ---------------------------------------------------------------------------
table = metrics_table(chosen)
best = best_index(table)


def _highlight(column):
    i = best.get(column.name)
    return ["background-color: rgba(44, 160, 44, 0.25); font-weight: 600" if j == i else "" for j in range(len(column))]


formats = {"test MSE": "{:.4f}", "AE/PCA ratio": "{:.3f}", "kNN accuracy": "{:.3f}", "trustworthiness": "{:.3f}",
           "anomaly AUC": "{:.3f}", "training time (s)": "{:.1f}"}
styled = table.style.apply(_highlight).format({c: f for c, f in formats.items() if c in table}, na_rep="—")
st.dataframe(styled, hide_index=True)
if best:
    st.caption("Highlighted: the best run in each column (lowest error and ratio, highest accuracy, trustworthiness and AUC). "
               "— means the metric does not apply (no labels, or no known outliers).")

# ---- codes -------------------------------------------------------------------------------
st.subheader("Their codes, test rows")


@st.cache_data(show_spinner=False, max_entries=32)
def _view(run_id: str, finished_at: float):
    return held_out_view(state.store(), run_id)


cols = st.columns(min(len(chosen), 3))
for i, r in enumerate(chosen):
    with cols[i % len(cols)]:
        try:
            Y, rows, axes, note = _view(r.id, r.finished or 0.0)
            names = state.loaded_run(r).dataset.label_names()
        except InputError as exc:
            st.error(str(exc))
            continue
        fig = latent_scatter_figure(Y, None if names is None else names[rows], r.label(), axes)
        st.plotly_chart(fig, key=f"compare_scatter_{r.id}")
        st.caption(f"Drawn: {note}.")
        # The zip is built only when the button is pressed (a callable), and pressing it does not rerun the page.
        st.download_button("Download this run (zip)", data=functools.partial(run_bundle, state.store(), r.id),
                           file_name=bundle_filename(r), mime="application/zip", on_click="ignore",
                           icon=":material/download:", key=f"compare_bundle_{r.id}",
                           help="Config, weights, scaler, metrics, codes as CSV, figures, and the command that trains it again.")
