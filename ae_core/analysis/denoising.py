"""Denoising: corrupt held-out rows, restore them, and measure how close they come.

An autoencoder restores a corrupted input by passing it through its code: the
decoder can only produce what it learned the data looks like, so much of the
noise cannot get through. A denoising autoencoder (Vincent et al. 2008) is
trained for exactly this; a plain one does it too, less well.

Quality is measured against the clean input, on the run's test rows:

- PSNR (peak signal-to-noise ratio) = 10 log10(MAX² / MSE), in dB; higher is
  better, identical images give +inf. Averaged over images.
- SSIM (structural similarity, Wang, Bovik, Sheikh & Simoncelli 2004, "Image
  quality assessment: from error visibility to structural similarity") with a
  Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03; 1 = identical.
- MSE in the model's scaled units (tabular data: standard deviations squared).

Baselines: for images a 3x3 median filter and a Gaussian blur (sigma 1), the
classic filters; for every kind of data PCA with the run's code size, fitted on
the clean training rows (project the noisy row onto the principal subspace),
the linear method every reader compares with. For tabular data "column mean"
(ignore the input, predict each column's training mean) is the floor a
denoiser must beat: in scaled units its MSE is about 1 whatever the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from ae_core.analysis.metrics import reconstruct
from ae_core.data.preprocessing import SplitCode, held_out_rows
from ae_core.errors import InputError
from ae_core.model.config import NOISE_KINDS

SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
METHOD_TITLES = {
    "noisy": "noisy input (no denoising)",
    "this run": "this autoencoder",
    "plain run": "plain autoencoder (same data)",
    "median 3x3": "median filter 3x3",
    "gaussian σ=1": "Gaussian blur σ=1",
    "pca": "PCA (same code size)",
    "column mean": "column mean (ignores the input)",
}


# ---- image quality ------------------------------------------------------------


def batch_psnr(clean: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """PSNR in dB of each row (or image) of `other` against `clean`, shape (n,); +inf where identical."""
    a = np.asarray(clean, np.float64).reshape(len(clean), -1)
    b = np.asarray(other, np.float64).reshape(len(other), -1)
    mse = ((a - b) ** 2).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def psnr(clean: np.ndarray, other: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR = 10 log10(MAX² / MSE) of one image (any shape) against a clean one; +inf if identical."""
    return float(batch_psnr(np.asarray(clean)[None], np.asarray(other)[None], data_range)[0])


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Local SSIM of two images (h, w) or stacks (n, h, w), same shape as the input.

    Local statistics come from a Gaussian window (scipy.ndimage.gaussian_filter,
    reflected borders, truncated at 3.5 sigma as scikit-image does); each image
    of a stack is filtered on its own.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise InputError(f"SSIM needs two images of the same shape (h, w) or (n, h, w); got {a.shape} and {b.shape}.")
    s = (0.0, sigma, sigma) if a.ndim == 3 else sigma

    def blur(x):
        return ndimage.gaussian_filter(x, sigma=s, mode="reflect", truncate=3.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def batch_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Mean SSIM of each image of two stacks (n, h, w), shape (n,).

    The mean runs over the whole map: digits are 8x8, smaller than the 11x11
    window, so there is no border to crop (scikit-image would crop it).
    """
    return ssim_map(a, b, data_range).mean(axis=(1, 2))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Mean SSIM of two images (h, w): 1 when identical, lower the less alike."""
    return float(ssim_map(a, b, data_range).mean())


# ---- corrupting and restoring --------------------------------------------------


def add_noise(X: np.ndarray, kind: str, level: float, seed: int = 0) -> np.ndarray:
    """Scaled rows corrupted exactly as training corrupts them (ae_core.model.networks.corrupt), seeded."""
    import torch

    from ae_core.model.networks import corrupt

    if kind not in NOISE_KINDS:
        raise InputError(f"noise must be one of {', '.join(NOISE_KINDS)}; got {kind!r}.")
    if not 0.0 <= level <= 1.0:
        raise InputError(f"noise level must be between 0 and 1, got {level}.")
    gen = torch.Generator().manual_seed(int(seed))
    return corrupt(torch.from_numpy(np.array(X, np.float32)), kind, float(level), gen).numpy()  # a copy: X may be shared


def restore(run, noisy: np.ndarray) -> np.ndarray:
    """`run`'s model's restoration of `noisy` (scaled units). Range-scaled data (pixels) stays in [0, 1]: a model
    with a linear output (the PCA path) can overshoot it, and no pixel is darker than black."""
    out = reconstruct(run.model, noisy)
    return np.clip(out, 0.0, 1.0) if run.scaler.kind == "range" else out


def restore_with(other, noisy: np.ndarray, run) -> np.ndarray:
    """Denoise `noisy` (in `run`'s scaled units) with another run of the same data, back in `run`'s units."""
    if other.scaler.to_dict() == run.scaler.to_dict():
        return restore(other, noisy)
    raw = run.scaler.inverse_transform(noisy)
    return run.scaler.transform(other.scaler.inverse_transform(restore(other, other.scaler.transform(raw))))


@dataclass
class Comparison:
    index: np.ndarray  # (n,) dataset rows
    clean: np.ndarray  # (n, n_features), scaled ([0, 1] for images)
    noisy: np.ndarray
    denoised: np.ndarray


def denoise_comparison(run, kind: str, level: float, n: int = 8, seed: int = 0) -> Comparison:
    """Clean, noisy and denoised versions of `n` test rows (a seeded choice), in scaled units."""
    idx = held_out_rows(run.split, n, seed)
    clean = run.X[idx]
    noisy = add_noise(clean, kind, level, seed)
    return Comparison(idx, clean, noisy, restore(run, noisy))


def comparison_frame(run, comp: Comparison, max_features: int = 8) -> pd.DataFrame:
    """Tabular view of a Comparison in the data's own units: one row per (sample, version)."""
    names = list(run.dataset.feature_names) or [f"x{i}" for i in range(comp.clean.shape[1])]
    k = min(max_features, len(names))
    parts = []
    for version, values in (("clean", comp.clean), ("noisy", comp.noisy), ("denoised", comp.denoised)):
        raw = run.scaler.inverse_transform(values)[:, :k]
        f = pd.DataFrame(raw, columns=names[:k])
        f.insert(0, "version", version)
        f.insert(0, "row", comp.index)
        parts.append(f)
    order = {"clean": 0, "noisy": 1, "denoised": 2}
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["row", "version"], key=lambda s: s.map(order) if s.name == "version" else s,
                           kind="stable").reset_index(drop=True)


def _pca_restorer(run, seed: int = 0):
    from sklearn.decomposition import PCA

    train = run.X[run.split == SplitCode.TRAIN]
    k = max(1, min(run.model_config.latent_dim, train.shape[1], len(train)))
    pca = PCA(n_components=k, random_state=seed).fit(train)
    return lambda Xn: pca.inverse_transform(pca.transform(Xn))


def _quality(clean: np.ndarray, other: np.ndarray, image_shape) -> dict:
    q = {"mse": float(((np.asarray(clean, np.float64) - other) ** 2).mean())}
    if image_shape is not None:
        shape = (len(clean), *image_shape)
        q["psnr"] = float(batch_psnr(clean, other).mean())
        a, b = np.asarray(clean, np.float64).reshape(shape), np.asarray(other, np.float64).reshape(shape)
        if len(shape) == 4:  # RGB: the mean SSIM of the channels, each an (h, w) image
            a, b = (np.moveaxis(v, 3, 1).reshape(-1, *shape[1:3]) for v in (a, b))
        q["ssim"] = float(batch_ssim(a, b).mean())
    return q


def denoising_metrics(run, kind: str, level: float, baseline_runs=(), max_samples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How well each method restores the corrupted test rows.

    Parameters
    ----------
    run : LoadedRun, the autoencoder under study
    kind, level : the corruption ("gaussian" std, or the fraction of values hit)
    baseline_runs : other LoadedRuns of the same dataset (e.g. the latest plain run)
    max_samples : test rows scored at most (a seeded random subset)

    Returns
    -------
    DataFrame with one row per method: method, family ("input" | "autoencoder" |
    "classic"), run_id, mse and, for images, psnr (dB, mean over images) and ssim.
    The same noisy rows go to every method.
    """
    ds = run.dataset
    idx = held_out_rows(run.split, max_samples, seed)
    if len(idx) == 0:
        raise InputError("this run has no test rows to measure denoising on.")
    clean = run.X[idx]
    noisy = add_noise(clean, kind, level, seed)
    shape = ds.image_shape if ds.kind == "image" else None
    rows = [("noisy", "input", None, noisy), ("this run", "autoencoder", run.id, restore(run, noisy))]
    for other in baseline_runs:
        if other.id != run.id and other.dataset.n_features == ds.n_features:
            rows.append(("plain run", "autoencoder", other.id, restore_with(other, noisy, run)))
    if shape is not None:
        stack = noisy.reshape(len(noisy), *shape)
        rgb = (1,) * (len(shape) - 2)  # filter each colour channel on its own
        rows.append(("median 3x3", "classic", None, ndimage.median_filter(stack, size=(1, 3, 3, *rgb), mode="reflect")))
        rows.append(("gaussian σ=1", "classic", None,
                     ndimage.gaussian_filter(stack, sigma=(0, 1, 1, *(0,) * len(rgb)), mode="reflect")))
    rows.append(("pca", "classic", None, _pca_restorer(run, seed)(noisy)))
    if shape is None:
        rows.append(("column mean", "classic", None, np.broadcast_to(run.X[run.split == SplitCode.TRAIN].mean(axis=0), clean.shape)))
    out = []
    for method, family, rid, restored in rows:
        restored = np.asarray(restored, np.float64).reshape(len(clean), -1)
        out.append({"method": method, "title": METHOD_TITLES[method], "family": family, "run_id": rid,
                    **_quality(clean, restored, shape)})
    return pd.DataFrame(out)


def quality_curve(run, kind: str, levels, baseline_runs=(), max_samples: int = 300, seed: int = 0) -> pd.DataFrame:
    """denoising_metrics at each noise level, stacked: columns level, method, ... (one row per level and method)."""
    levels = [float(v) for v in levels]
    if not levels:
        raise InputError("give at least one noise level.")
    parts = []
    for lv in levels:
        f = denoising_metrics(run, kind, lv, baseline_runs, max_samples, seed)
        f.insert(0, "level", lv)
        parts.append(f)
    return pd.concat(parts, ignore_index=True)


def is_plain(rec) -> bool:
    """A plain autoencoder: no input noise, no VAE, no sparsity, trained on every class."""
    cfg = rec.config
    model = cfg.get("model", {})
    return (not cfg.get("train_classes") and float(model.get("noise_level", 0)) == 0
            and not model.get("variational") and float(model.get("sparsity", 0)) == 0)


def pick_plain_run(records, run_record):
    """The latest finished plain run of the same dataset (with the same code size if there is one), to
    compare a denoising run with; None if `run_record` is itself plain or there is none. `records` come
    newest first (RunStore.list).
    """
    if is_plain(run_record):
        return None
    ds = run_record.config.get("dataset", {})
    found = [rec for rec in records
             if rec.id != run_record.id and rec.status == "done" and rec.config.get("dataset") == ds and is_plain(rec)]
    same_size = [rec for rec in found if rec.latent_dim == run_record.latent_dim]  # a fair fight first
    return (same_size or found or [None])[0]


def prefer_denoising(records) -> list:
    """Finished runs, those trained with input noise first (each group newest first)."""
    done = [r for r in records if r.status == "done"]
    noisy = [r for r in done if float(r.config.get("model", {}).get("noise_level", 0)) > 0]
    return noisy + [r for r in done if r not in noisy]


def trained_noise(model_config: dict) -> tuple[str, float]:
    """The noise a run was trained against as (kind, level); level 0 for a run trained on clean inputs."""
    level = float(model_config.get("noise_level", 0.0) or 0.0)
    kind = model_config.get("noise")
    return (kind if kind in NOISE_KINDS else "gaussian"), level


def default_setting(model_config: dict) -> tuple[str, float]:
    """The noise the page opens on: what a denoising run was trained against, else gaussian at 0.3."""
    kind, level = trained_noise(model_config)
    return (kind if level > 0 else "gaussian"), min(max(level or 0.3, 0.05), 0.9)


def measures(metrics: pd.DataFrame) -> list[str]:
    """The quality measures that apply: PSNR, SSIM and MSE for images (their table has PSNR), MSE for tables."""
    return ["psnr", "ssim", "mse"] if "psnr" in metrics.columns else ["mse"]


def best_method(metrics: pd.DataFrame, metric: str) -> pd.Series:
    """The best restoration at this setting by `metric`; the noisy input itself does not compete."""
    rivals = metrics[metrics["family"] != "input"]
    return rivals.sort_values(metric, ascending=metric == "mse").iloc[0]

