"""Reconstructions: held-out samples next to what the model makes of them, walks between codes,
samples from a VAE's prior, and how much error each code size costs (autoencoder versus PCA)."""

import numpy as np
import streamlit as st

from ae_core.analysis import reconstruction as rc
from ae_core.errors import InputError
from ae_core.figures.reconstruction import feature_error_figure, image_rows_figure, rate_distortion_figure
from ae_core.links import Choice, Number
from ae_core.runs.spec import config_for_code_size
from ui import access, links, state

st.title("Reconstructions")
state.how_it_works(
    """
**Plain words.** The encoder squeezes each sample into a short code, the decoder rebuilds the sample from the
code alone. Whatever the code could not hold is lost, so the rebuilt sample is a little blurred or off. All samples
here come from the *test* rows, which the model never trained on. *Best* and *worst* sort them by error; the worst
are often unusual samples (the idea behind anomaly detection).

**The error** of one sample is the mean squared difference over its $d$ features, in the scaled units the model
sees (pixels in $[0, 1]$, tabular values in standard deviations): $e(x) = \\frac{1}{d}\\sum_j (x_j - \\hat{x}_j)^2$,
with $\\hat{x} = g_\\phi(f_\\theta(x))$.

**Interpolation** decodes points on the straight line between two codes: $\\hat{x}(t) = g_\\phi((1-t)\\,z_a + t\\,z_b)$.
A variational autoencoder also *generates*: it decodes codes drawn from its prior $z \\sim \\mathcal{N}(0, I)$.

**Compression.** A code of $k$ numbers stores a sample of $d$ values $d/k$ times smaller. A larger code
reconstructs better; PCA with $k$ components is the linear baseline at the same size.
"""
)

runs = state.finished_runs_or_stop("No finished run yet. Train a model first; its reconstructions appear here when it "
                                   "finishes.", link="Train a model")
rec = state.run_picker(runs, key="recon_run")
run = state.loaded_run_or_stop(rec)
ds = run.dataset
image = ds.image_shape is not None
NUM = st.column_config.NumberColumn(format="%.4g")  # raw units span 0.001 to 1000s
if "recon_seed" not in st.session_state:
    st.session_state.recon_seed = 0

# ---- 1. samples ------------------------------------------------------------------------
st.subheader("Originals and reconstructions")
c1, c2, c3 = st.columns([2, 1, 1])
hows = rc.HOW if ds.y is not None else tuple(h for h in rc.HOW if h != "by class")
classes = list(rc.class_choices(run)) if ds.y is not None else []
link = {"how": Choice(tuple(hows), "random"), "n": Number(1, 12 if image else 5, 8 if image else 3, step=1),
        "class": Choice(tuple(classes), classes[0] if classes else None)}
shared = links.read(link)  # a shared link's choices; the session's own win once it has made them
how = state.kept_choice(c1.segmented_control, "Which test samples", hows, shared["how"], "recon_how",
                        param="default") or "random"
n = int(state.kept_widget(c2.slider, "How many", int(shared["n"]), "recon_n", min_value=1, max_value=12 if image else 5))
cls = c3.selectbox("Class", classes, index=classes.index(shared["class"]), key=f"recon_cls_{rec.id}") \
    if how == "by class" else None
links.write({"how": how, "n": n, "class": cls}, link)
if how in ("random", "by class") and c3.button("Other samples", icon=":material/shuffle:"):
    st.session_state.recon_seed += 1
try:
    samples = rc.pick_samples(run, how, n, cls, seed=st.session_state.recon_seed)
except InputError as exc:
    st.error(str(exc))
    st.stop()
top, bottom = rc.sample_titles(samples)
if image:
    fig = image_rows_figure([samples.original, samples.reconstructed], ds.image_shape, [top, bottom])
    st.plotly_chart(fig, key="recon_grid")
    st.caption("Top: test images; bottom: the model's reconstruction, with its error (MSE, pixels scaled to 0-1).")
else:
    st.caption("Chosen test rows, their class and their reconstruction error (MSE in standard deviations):")
    st.dataframe(rc.samples_frame(samples), hide_index=True)
    st.caption("Their values in the data's own units, as recorded and as reconstructed:")
    table = rc.original_vs_reconstructed(run, samples)
    st.dataframe(table, hide_index=True, column_config=dict.fromkeys(table.columns[1:], NUM))
    st.markdown("**Which features does the model reconstruct worst?** (all test rows)")
    st.plotly_chart(feature_error_figure(rc.held_out_feature_errors(run)), key="recon_features")
    st.caption("Mean squared error per feature in standard deviations: 1.0 means no better than guessing the mean.")

# ---- 2. interpolation --------------------------------------------------------------------
st.subheader("Walk between two codes")
test_rows = [int(r) for r in rc.held_out_rows(run.split)]
if len(test_rows) >= 2:
    a0, b0 = rc.default_pair(run)
    c1, c2, c3 = st.columns([2, 2, 1])
    label = lambda r: rc.row_choice_label(run, r)  # noqa: E731
    a = c1.selectbox("From", test_rows, index=test_rows.index(a0), format_func=label, key=f"recon_a_{rec.id}")
    b = c2.selectbox("To", test_rows, index=test_rows.index(b0), format_func=label, key=f"recon_b_{rec.id}")
    steps = state.kept_widget(c3.slider, "Steps", 8, "recon_steps", min_value=3, max_value=12)
    frames = rc.interpolate(run.model, run.X[a], run.X[b], steps)
    ts = [f"t = {i / (steps - 1):.2f}" for i in range(steps)]
    if image:
        strip = np.concatenate([run.X[[a]], frames, run.X[[b]]])
        fig = image_rows_figure([strip], ds.image_shape, [["from (original)", *ts, "to (original)"]], tile_px=70)
        st.plotly_chart(fig, key="recon_interp")
    else:
        st.dataframe(rc.feature_table(run, frames, ts), hide_index=True, column_config=dict.fromkeys(ts, NUM))
    st.caption("Each frame decodes a point on the straight line between the two codes. A smooth, plausible "
               "sequence means the code space between the samples is meaningful.")

# ---- 3. generation -----------------------------------------------------------------------
if run.model_config.variational:
    st.subheader("New samples from the prior")
    if st.button("Draw new samples", icon=":material/casino:"):
        st.session_state.recon_seed += 1
    gen = rc.prior_samples(run.model, 12 if image else 5, seed=st.session_state.recon_seed)
    if image:
        st.plotly_chart(image_rows_figure([gen], ds.image_shape), key="recon_prior")
    else:
        names = [f"sample {i + 1}" for i in range(len(gen))]
        st.dataframe(rc.feature_table(run, gen, names), hide_index=True, column_config=dict.fromkeys(names, NUM))
    st.caption("Codes drawn at random from N(0, I) and decoded: data the model invents, not copies.")


# ---- 4. compression ----------------------------------------------------------------------
@st.cache_data(show_spinner="Fitting PCA at each code size…", max_entries=16)
def _pca(run_id: str, sizes: tuple[int, ...]) -> dict[int, float]:
    train, test = run.X[run.split == 0], run.X[run.split == 2]
    return rc.pca_errors(train, test, sizes, seed=run.train_config.seed)


def _compression(polling: bool) -> None:
    family = rc.same_family(state.store().list(), rec)
    sizes = rc.code_sizes(ds.n_features, [r.latent_dim for r in family if r.status == "done"])
    table = rc.rate_distortion(family, run.X[run.split == 0], run.X[run.split == 2], sizes,
                               pca=_pca(rec.id, tuple(sizes)))
    active = [r for r in family if r.active]
    st.plotly_chart(rate_distortion_figure(table), key="recon_rd")
    st.markdown(rc.rate_distortion_summary(table) + " This run: "
                + rc.compression_ratio_text(ds.n_features, rec.latent_dim, ds.image_shape) + ".")
    missing = rc.missing_sizes(table, family)
    if active:
        st.info(f"Training {len(active)} run(s) of code size {', '.join(str(r.latent_dim) for r in active)} "
                "in the background; the chart fills in as they finish.", icon=":material/hourglass_top:")
    elif missing and access.is_editor() and st.button(f"Train the missing code sizes in the background ({', '.join(map(str, missing))})",
                               icon=":material/play_arrow:"):
        try:
            for k in missing:
                state.manager().submit(config_for_code_size(rec.config, k))
        except InputError as exc:
            st.error(str(exc))
        st.rerun()
    if polling != bool(active):
        st.rerun()  # start or stop polling
    with st.expander("The numbers"):
        st.dataframe(table, hide_index=True)


st.subheader("Compression: code size versus error")
st.caption("Runs of this dataset and variant with the same settings except the code size, against PCA "
           "on this run's test rows.")
busy = any(r.active for r in rc.same_family(state.store().list(), rec))
st.fragment(_compression, run_every=2 if busy else None)(busy)
