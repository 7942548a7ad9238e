"""Denoising: corrupt held-out rows, let the autoencoder restore them, compare with classic filters."""

import streamlit as st

from ae_core.errors import InputError
from ae_core.links import Choice, Number
from ae_core.model.config import NOISE_KINDS
from ui import access, links, state

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
N_SHOWN = 8

st.title("Denoising")
state.how_it_works(
    """
**In plain words.** We take rows the model never trained on, spoil them with noise, and pass the spoiled
version through the autoencoder. The decoder can only draw what it learned the data looks like, so much of
the noise cannot get through the small code. A *denoising* autoencoder was trained for exactly this (it saw
corrupted inputs and had to rebuild the clean ones); a plain autoencoder denoises too, usually less well.
We compare both with classic filters that know nothing about the data.

**Noise.** *Gaussian*: add $\\sigma\\cdot\\mathcal{N}(0, 1)$ to every value (clipped to [0, 1] for images);
*salt-and-pepper*: a fraction of values set to the minimum or maximum; *masking*: a fraction set to 0.

**How close is the result to the clean input?** On the test rows:

- $\\mathrm{MSE} = \\frac{1}{d}\\sum_j (x_j - \\hat{x}_j)^2$, lower is better;
- $\\mathrm{PSNR} = 10 \\log_{10}(\\mathrm{MAX}^2 / \\mathrm{MSE})$ in dB, with MAX = 1 for images scaled to [0, 1];
  higher is better, averaged over images;
- $\\mathrm{SSIM} = \\frac{(2\\mu_x\\mu_y + C_1)(2\\sigma_{xy} + C_2)}{(\\mu_x^2 + \\mu_y^2 + C_1)(\\sigma_x^2 + \\sigma_y^2 + C_2)}$
  with local means, variances and covariance under a Gaussian window (σ = 1.5), $C_1 = (0.01)^2$,
  $C_2 = (0.03)^2$ (Wang et al. 2004); 1 means identical structure.

**Baselines.** Images: a 3x3 median filter and a Gaussian blur (σ = 1). All data: PCA with the same code size,
fitted on clean training rows (project the noisy row onto the principal directions and back). Tables: also
the column mean, which ignores the input entirely: a denoiser must beat it to be useful.
"""
)

runs = state.finished_runs_or_stop("No finished runs yet. Train one first; a **denoising** run (the *Denoising* "
                                   "preset) shows the most, but any finished run can be compared here.")

from ae_core.analysis import denoising as dn  # noqa: E402 - imports torch; only once there is a run to look at
from ae_core.figures import denoising as dnf  # noqa: E402

rec = state.run_picker(dn.prefer_denoising(runs), key="denoise_run_picker")
cfg_model = rec.config.get("model", {})
trained_kind, trained_level = dn.trained_noise(cfg_model)
default_kind, default_level = dn.default_setting(cfg_model)
plain_rec = dn.pick_plain_run(runs, rec)


@st.cache_data(show_spinner="Corrupting and restoring…", max_entries=64)
def _comparison(run_id: str, kind: str, level: float):
    run = state.loaded_run(state.store().get(run_id))
    comp = dn.denoise_comparison(run, kind, level, n=N_SHOWN, seed=0)
    return comp, (dn.comparison_frame(run, comp) if run.dataset.kind != "image" else None), run.dataset.image_shape


@st.cache_data(show_spinner="Measuring on the test rows…", max_entries=64)
def _metrics(run_id: str, plain_id: str | None, kind: str, level: float):
    run = state.loaded_run(state.store().get(run_id))
    others = [state.loaded_run(state.store().get(plain_id))] if plain_id else []
    return dn.denoising_metrics(run, kind, level, baseline_runs=others, max_samples=1000)


@st.cache_data(show_spinner="Sweeping the noise level…", max_entries=32)
def _curve(run_id: str, plain_id: str | None, kind: str):
    run = state.loaded_run(state.store().get(run_id))
    others = [state.loaded_run(state.store().get(plain_id))] if plain_id else []
    return dn.quality_curve(run, kind, LEVELS, baseline_runs=others, max_samples=300)


if trained_level > 0:
    st.caption(f"This run was trained as a denoiser: {trained_kind} noise at level {trained_level:g}.")
else:
    st.caption("This run was trained on clean inputs only (no noise). A plain autoencoder still denoises somewhat; "
               "train one with the *Denoising* preset to compare.")
    if access.is_editor():  # viewers have no Train page
        st.page_link("app_pages/train.py", label="Train a denoising run", icon=":material/model_training:")

left, right = st.columns(2)
link = {"noise": Choice(tuple(NOISE_KINDS), default_kind), "level": Number(0.05, 0.9, default_level, step=0.05)}
shared = links.read(link)  # a shared link's setting; the session's own wins once it has chosen one
kind = state.kept_choice(left.selectbox, "Noise type", NOISE_KINDS, shared["noise"], "denoise_kind")
level = state.kept_widget(right.slider, "Noise level", shared["level"], "denoise_level",
                          min_value=0.05, max_value=0.9, step=0.05,
                          help="Standard deviation for gaussian noise (data in [0, 1] or in standard deviations); "
                               "the fraction of values hit for salt-and-pepper and masking.")
links.write({"noise": kind, "level": level}, link)

try:
    comp, table, image_shape = _comparison(rec.id, kind, float(level))
    metrics = _metrics(rec.id, plain_rec.id if plain_rec else None, kind, float(level))
except InputError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Clean, noisy, denoised")
if image_shape is not None:
    from ae_core.figures.denoising import comparison_figure

    st.plotly_chart(comparison_figure(comp, image_shape), config={"displayModeBar": False}, key="denoise_grid")
    st.caption(f"{N_SHOWN} test images, the same ones at every setting; the bottom row is what the autoencoder made "
               "of the noisy row.")
else:
    st.dataframe(table, hide_index=True, height=min(35 * len(table) + 38, 460))
    st.caption(f"{N_SHOWN} test rows in the data's own units (first columns only): the clean row, the noisy one, "
               "and the autoencoder's restoration of the noisy one.")

st.subheader("Across the test set")
metric_names = dn.measures(metrics)
metric = state.kept_choice(st.radio, "Measure", metric_names, "psnr", "denoise_metric", horizontal=True,
                           format_func=lambda m: dnf.METRIC_LABELS[m]) if len(metric_names) > 1 else "mse"
c1, c2 = st.columns([1, 1])
c1.dataframe(
    metrics[["title", *metric_names]], hide_index=True,
    column_config={"title": st.column_config.TextColumn("Method", width="medium"),
                   "psnr": st.column_config.NumberColumn("PSNR (dB)", format="%.2f"),
                   "ssim": st.column_config.NumberColumn("SSIM", format="%.3f"),
                   "mse": st.column_config.NumberColumn("MSE", format="%.4f")},
)
c2.plotly_chart(dnf.metrics_bar_figure(metrics, metric), key="denoise_bars")
best = dn.best_method(metrics, metric)
st.markdown(f"**Best at this setting:** {best['title']} ({dnf.METRIC_LABELS[metric].split(' (')[0]} "
            f"{best[metric]:.3g}; the noisy input scores {metrics.iloc[0][metric]:.3g}).")
if plain_rec is not None:
    st.caption(f"Plain run compared: {plain_rec.label()} (the latest plain run of the same dataset).")
elif trained_level > 0:
    st.caption("No finished plain run of this dataset to compare with; train one with the *Vanilla* preset.")

st.subheader("Quality against noise level")
curve = _curve(rec.id, plain_rec.id if plain_rec else None, kind)
st.plotly_chart(dnf.quality_curve_figure(curve, metric), key="denoise_curve")
st.caption(f"{kind} noise at levels {LEVELS[0]:g}–{LEVELS[-1]:g}, 300 test rows per level.")
