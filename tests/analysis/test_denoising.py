"""ae_core.analysis.denoising: PSNR/SSIM against known values, corruption, comparisons and metrics on tiny runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ae_core.analysis.denoising import (
    SSIM_K1,
    add_noise,
    batch_psnr,
    batch_ssim,
    best_method,
    comparison_frame,
    default_setting,
    denoise_comparison,
    denoising_metrics,
    measures,
    pick_plain_run,
    prefer_denoising,
    psnr,
    quality_curve,
    ssim,
    trained_noise,
)
from ae_core.errors import InputError
from ae_core.figures.denoising import comparison_figure, metrics_bar_figure, quality_curve_figure
from ae_core.runs.loaded import load_run
from ae_core.runs.store import RunStore
from tests.conftest import train_tiny

RNG = np.random.default_rng(0)
IMG = RNG.random((8, 8))


# ---- PSNR / SSIM --------------------------------------------------------------------------


def test_psnr_identical_is_infinite():
    assert psnr(IMG, IMG) == math.inf


def test_psnr_known_value():
    # MSE = 0.01 everywhere, MAX = 1 -> 10 log10(1 / 0.01) = 20 dB.
    assert psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)) == pytest.approx(20.0)
    assert psnr(np.zeros((4, 4)), np.full((4, 4), 25.5), data_range=255) == pytest.approx(20.0)


def test_batch_psnr_is_per_row():
    a = np.zeros((2, 16))
    b = np.stack([np.full(16, 0.1), np.full(16, 0.01)])
    np.testing.assert_allclose(batch_psnr(a, b), [20.0, 40.0])


def test_ssim_identical_is_one():
    assert ssim(IMG, IMG) == pytest.approx(1.0)


def test_ssim_constant_images_hand_computed():
    # Constant images: local means are the constants, variances and covariance 0, so
    # SSIM = (2 a b + C1) / (a^2 + b^2 + C1) * (0 + C2) / (0 + C2).
    a, b = 0.2, 0.6
    c1 = (SSIM_K1 * 1.0) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(np.full((8, 8), a), np.full((8, 8), b)) == pytest.approx(expected)


def test_ssim_is_symmetric_and_at_most_one():
    other = np.clip(IMG + 0.1 * RNG.standard_normal(IMG.shape), 0, 1)
    assert ssim(IMG, other) == pytest.approx(ssim(other, IMG))
    assert ssim(IMG, other) < 1.0


def test_more_noise_lowers_psnr_and_ssim():
    noisy = [np.clip(IMG + s * np.random.default_rng(1).standard_normal(IMG.shape), 0, 1) for s in (0.05, 0.2, 0.5)]
    p = [psnr(IMG, x) for x in noisy]
    s = [ssim(IMG, x) for x in noisy]
    assert p[0] > p[1] > p[2]
    assert s[0] > s[1] > s[2]


def test_batch_ssim_filters_each_image_alone():
    stack = np.stack([IMG, np.full((8, 8), 0.5)])
    single = [ssim(IMG, IMG * 0.9), ssim(np.full((8, 8), 0.5), np.full((8, 8), 0.45))]
    np.testing.assert_allclose(batch_ssim(stack, stack * 0.9), single)


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(InputError, match="same shape"):
        ssim(IMG, IMG[:4])


# ---- noise ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gaussian", "salt-and-pepper", "masking"])
def test_add_noise_is_seeded_and_changes_the_input(kind):
    X = RNG.random((20, 64)).astype(np.float32)
    a, b = add_noise(X, kind, 0.3, seed=3), add_noise(X, kind, 0.3, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, X)
    assert a.min() >= 0 and a.max() <= 1


def test_add_noise_rejects_unknown_kind_and_bad_level():
    X = np.zeros((2, 4), np.float32)
    with pytest.raises(InputError, match="noise must be one of"):
        add_noise(X, "pink", 0.3)
    with pytest.raises(InputError, match="between 0 and 1"):
        add_noise(X, "gaussian", 1.5)


# ---- on trained runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(trained_root):
    """The shared plain digits and outliers runs, plus a short denoising digits run beside them."""
    root, ids = trained_root
    store = RunStore(root)
    den = train_tiny(store, "digits", "denoising", train={"epochs": 6, "evolution_samples": 50})
    yield store, {"plain": load_run(store, ids["digits"]), "denoising": load_run(store, den),
                  "tabular": load_run(store, ids["outliers"])}
    store.delete(den)  # the shared store stays as other tests expect it


def test_denoise_comparison_shapes_and_range(runs):
    _, r = runs
    comp = denoise_comparison(r["denoising"], "gaussian", 0.3, n=5, seed=0)
    assert comp.clean.shape == comp.noisy.shape == comp.denoised.shape == (5, 64)
    assert (r["denoising"].split[comp.index] == 2).all()
    for X in (comp.clean, comp.noisy, comp.denoised):
        assert X.min() >= 0 and X.max() <= 1
    again = denoise_comparison(r["denoising"], "gaussian", 0.3, n=5, seed=0)
    np.testing.assert_array_equal(comp.noisy, again.noisy)
    fig = comparison_figure(comp, (8, 8))
    assert len(fig.layout.annotations) == 15 and fig.layout.annotations[6].text == "noisy"


def test_denoising_metrics_images(runs):
    _, r = runs
    m = denoising_metrics(r["denoising"], "gaussian", 0.5, baseline_runs=[r["plain"]], max_samples=200)
    assert list(m["method"]) == ["noisy", "this run", "plain run", "median 3x3", "gaussian σ=1", "pca"]
    assert {"psnr", "ssim", "mse"} <= set(m.columns)
    by = m.set_index("method")
    # Every restorer beats doing nothing at this much noise.
    for method in ("median 3x3", "gaussian σ=1", "pca"):
        assert by.loc[method, "psnr"] > by.loc["noisy", "psnr"]
        assert by.loc[method, "mse"] < by.loc["noisy", "mse"]
    assert (m["ssim"] <= 1).all()
    assert by.loc["plain run", "run_id"] == r["plain"].id
    fig = metrics_bar_figure(m, "psnr")
    assert len(fig.data[0].x) == len(m)


def test_denoising_metrics_tabular_uses_mse_and_column_mean(runs):
    _, r = runs
    m = denoising_metrics(r["tabular"], "masking", 0.2, max_samples=200)
    assert list(m["method"]) == ["noisy", "this run", "pca", "column mean"]
    assert "psnr" not in m.columns and "ssim" not in m.columns
    by = m.set_index("method")
    assert by.loc["column mean", "mse"] == pytest.approx(1.0, abs=0.3)  # standardised columns: variance about 1
    assert by.loc["this run", "mse"] < by.loc["column mean", "mse"]


def test_comparison_frame_is_in_original_units(runs):
    _, r = runs
    comp = denoise_comparison(r["tabular"], "gaussian", 0.5, n=3)
    f = comparison_frame(r["tabular"], comp)
    assert len(f) == 9 and list(f["version"][:3]) == ["clean", "noisy", "denoised"]
    np.testing.assert_allclose(f[f.version == "clean"].iloc[:, 2:].to_numpy(),
                               r["tabular"].dataset.X[comp.index][:, :8], rtol=1e-4, atol=1e-4)


def test_quality_curve_rises_with_noise(runs):
    _, r = runs
    c = quality_curve(r["denoising"], "gaussian", [0.1, 0.5], max_samples=100)
    assert isinstance(c, pd.DataFrame) and set(c["level"]) == {0.1, 0.5}
    noisy = c[c.method == "noisy"].set_index("level")
    assert noisy.loc[0.1, "psnr"] > noisy.loc[0.5, "psnr"]
    fig = quality_curve_figure(c, "psnr")
    assert [t.name for t in fig.data] == list(dict.fromkeys(c["title"]))  # one line per method, in table order
    dashes = {t.name: t.line.dash for t in fig.data}
    family = dict(zip(c["title"], c["family"]))
    assert all(dashes[n] == {"input": "dot", "autoencoder": "solid", "classic": "dash"}[family[n]] for n in dashes)
    assert len({t.line.color for t in fig.data}) == len(fig.data)
    first = c[c.title == fig.data[0].name]
    assert list(fig.data[0].x) == list(first["level"]) and list(fig.data[0].y) == list(first["psnr"])
    assert fig.layout.xaxis.title.text == "noise level" and "PSNR" in fig.layout.yaxis.title.text
    with pytest.raises(InputError, match="at least one"):
        quality_curve(r["denoising"], "gaussian", [])


def test_pick_plain_run_and_prefer_denoising(runs):
    store, r = runs
    records = store.list()
    den = store.get(r["denoising"].id)
    assert pick_plain_run(records, den).id == r["plain"].id
    assert pick_plain_run(records, store.get(r["tabular"].id)) is None
    assert prefer_denoising(records)[0].id == den.id


def test_pick_plain_run_is_none_for_a_plain_run(runs):
    store, r = runs
    assert pick_plain_run(store.list(), store.get(r["plain"].id)) is None


def test_trained_noise_and_the_setting_the_page_opens_on():
    assert trained_noise({"noise": "masking", "noise_level": 0.4}) == ("masking", 0.4)
    assert default_setting({"noise": "masking", "noise_level": 0.4}) == ("masking", 0.4)
    assert trained_noise({}) == ("gaussian", 0.0)
    assert default_setting({"noise": "masking", "noise_level": 0.0}) == ("gaussian", 0.3)  # a clean-trained run
    assert default_setting({"noise": "gaussian", "noise_level": 1.0}) == ("gaussian", 0.9)  # the slider's range
    assert trained_noise({"noise": "speckle", "noise_level": 0.2}) == ("gaussian", 0.2)


def test_measures_and_best_method_follow_the_kind_of_data():
    images = pd.DataFrame({"title": ["noisy input", "autoencoder", "median filter"],
                           "family": ["input", "autoencoder", "classic"],
                           "psnr": [30.0, 20.0, 18.0], "ssim": [0.2, 0.8, 0.7], "mse": [0.001, 0.01, 0.02]})
    assert measures(images) == ["psnr", "ssim", "mse"]
    assert measures(images.drop(columns=["psnr", "ssim"])) == ["mse"]
    # The noisy input never wins, even where its number is best; MSE is lower-is-better, PSNR higher.
    assert best_method(images, "psnr")["title"] == "autoencoder"
    assert best_method(images, "mse")["title"] == "autoencoder"
    assert best_method(images.assign(mse=[0.001, 0.03, 0.02]), "mse")["title"] == "median filter"

