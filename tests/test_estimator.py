"""`ae_core.Autoencoder` as a scikit-learn estimator."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import parametrize_with_checks

from ae_core import Autoencoder, InputError
from ae_core.analysis.anomaly_scores import SCORES
from ae_core.model.config import PRESETS


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:600]


# The convolutional variant needs images (n, h, w); scikit-learn's checks pass 2-D tables, which it refuses
# with an InputError that says so. Every check that fits is therefore expected to fail for it.
CONV_NEEDS_IMAGES = "the convolutional variant needs image input (n, h, w); the checks pass 2-D tables"
CONV_FAILS = ["check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
              "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
              "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
              "check_estimators_nan_inf", "check_estimators_pickle", "check_f_contiguous_array_estimator",
              "check_transformer_data_not_an_array", "check_transformer_general", "check_transformer_preserve_dtypes",
              "check_fit2d_1sample", "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
              "check_n_features_in", "check_fit2d_predict1d"]


def _expected_failures(estimator):
    return {name: CONV_NEEDS_IMAGES for name in CONV_FAILS} if estimator.variant == "convolutional" else {}


# As users construct it: default latent_dim=2 on the checks' 2-feature data is allowed (PCA's rule) and
# warns that the code does not compress.
@pytest.mark.filterwarnings("ignore:latent_dim=2 is not smaller")
@parametrize_with_checks([Autoencoder(variant=v) for v in PRESETS], expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_fit_transform_equals_fit_then_transform(digits):
    a = Autoencoder(epochs=5, random_state=0).fit_transform(digits)
    b = Autoencoder(epochs=5, random_state=0).fit(digits).transform(digits)
    np.testing.assert_array_equal(a, b)


def test_shapes_roundtrip_for_rows_and_images(digits):
    ae = Autoencoder(latent_dim=3, epochs=3, random_state=0).fit(digits)
    assert ae.transform(digits).shape == (600, 3)
    assert ae.inverse_transform(ae.transform(digits[:5])).shape == (5, 64)
    images = digits.reshape(-1, 8, 8)
    conv = Autoencoder(variant="convolutional", epochs=3, random_state=0).fit(images)
    assert conv.image_shape_ == (8, 8)
    assert conv.reconstruct(images[:4]).shape == (4, 8, 8)


def _discs(n: int = 60, side: int = 12, seed: int = 0) -> np.ndarray:
    """(n, side, side, 3) colour images in [0, 1]: red discs, then blue ones, of random size and place, on white."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    out = np.ones((n, side, side, 3))
    for i in range(n):
        r, (cx, cy) = rng.integers(2, side // 3), rng.integers(side // 3, 2 * side // 3, 2)
        out[i][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = (0.8, 0.1, 0.1) if i < n // 2 else (0.1, 0.1, 0.8)
    return out


@pytest.mark.parametrize("channels", [3, 1], ids=["rgb", "one-channel"])
@pytest.mark.parametrize("variant", ["convolutional", "vanilla", "variational"])
def test_image_arrays_with_channels_keep_their_shape_through_every_method(variant, channels):
    X = _discs()[..., :channels]
    ae = Autoencoder(variant=variant, latent_dim=2, epochs=3, random_state=0).fit(X)
    assert ae.image_shape_ == (12, 12, channels) and ae.scaling_ == "range"
    Z = ae.transform(X[:5])
    assert Z.shape == (5, 2)
    assert ae.inverse_transform(Z).shape == ae.reconstruct(X[:5]).shape == (5, 12, 12, channels)
    assert ae.anomaly_score(X[:5]).shape == ae.score_samples(X[:5]).shape == (5,)
    assert np.isfinite(ae.anomaly_score(X[:5], method="reconstruction")).all()


def test_dense_variants_read_colour_images_as_their_pixels_channel_last():
    X = _discs()
    images = Autoencoder(latent_dim=2, epochs=3, random_state=0).fit(X)
    rows = Autoencoder(latent_dim=2, epochs=3, random_state=0).fit(X.reshape(len(X), -1))
    np.testing.assert_allclose(images.transform(X), rows.transform(X.reshape(len(X), -1)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(images.reconstruct(X).reshape(len(X), -1), rows.reconstruct(X.reshape(len(X), -1)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape, match", [
    ((10, 12, 12, 5), r"1 \(grey\) or 3 \(RGB\) channels, last; got shape \(10, 12, 12, 5\): convert"),
    ((10, 12, 12, 4), r"RGBA, drop the alpha channel"),
    ((10, 3, 12, 12), r"channels-first: np.moveaxis\(X, 1, -1\)"),
    ((10, 4, 4, 4, 3), r"images of shape \(n_samples, height, width\) or \(n_samples, height, width, 3\); got 5"),
], ids=["five-channels", "rgba", "channels-first", "five-dimensions"])
def test_image_arrays_it_cannot_read_are_refused_with_what_to_do(shape, match):
    X = np.random.default_rng(0).random(shape)
    with pytest.raises(InputError, match=match):
        Autoencoder(variant="convolutional", epochs=1).fit(X)


def test_images_of_another_colour_mode_than_fitted_are_refused():
    X = _discs()
    ae = Autoencoder(variant="convolutional", epochs=1, random_state=0).fit(X)
    with pytest.raises(InputError, match="fitted on images of 12x12x3; got images of 12x12"):
        ae.transform(X[..., 0])
    with pytest.raises(InputError, match="need 1 \\(grey\\) or 3 \\(RGB\\) channels"):
        ae.anomaly_score(np.concatenate([X, X[..., :2]], axis=-1))


def test_score_samples_is_negative_anomaly_score(digits):
    ae = Autoencoder(epochs=3, random_state=0).fit(digits)
    np.testing.assert_allclose(ae.score_samples(digits[:10]), -ae.anomaly_score(digits[:10]))
    assert (ae.anomaly_score(digits[:10], method="reconstruction") >= 0).all()


@pytest.mark.parametrize("method", SCORES)
def test_every_anomaly_score_ranks_off_manifold_rows_higher(method):
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, size=(600, 1))
    X = np.hstack([t, t**2, np.sin(3 * t), 2 * t]) + 0.01 * rng.normal(size=(600, 4))
    odd = rng.normal(size=(20, 4))
    ae = Autoencoder(latent_dim=1, epochs=20, random_state=0, score_method=method).fit(X)
    assert ae.anomaly_score(odd).shape == (20,)
    assert np.median(ae.anomaly_score(odd)) > np.percentile(ae.anomaly_score(X), 90)


def test_reconstruction_score_is_the_mean_squared_error_in_scaled_units(digits):
    from ae_core.analysis.metrics import reconstruct

    ae = Autoencoder(epochs=2, random_state=0).fit(digits)
    Xs = ae.scaler_.transform(digits[:5])
    expected = ((Xs - reconstruct(ae.model_, Xs)) ** 2).mean(1)
    np.testing.assert_allclose(ae.anomaly_score(digits[:5], method="reconstruction"), expected, rtol=1e-4, atol=1e-7)


def test_unknown_anomaly_score_lists_the_choices(digits):
    with pytest.raises(InputError, match="choose one of: reconstruction, normalized"):
        Autoencoder(epochs=1, random_state=0).fit(digits).anomaly_score(digits[:3], method="magic")


def test_a_model_fitted_before_the_hidden_score_says_to_fit_again(digits):
    ae = Autoencoder(epochs=2, random_state=0).fit(digits)
    del ae._score_ref.__dict__["hidden"]  # as a model pickled before the field existed unpickles
    with pytest.raises(InputError, match="fit it again"):
        ae.anomaly_score(digits[:3])
    assert ae.anomaly_score(digits[:3], method="normalized+knn").shape == (3,)  # the older scores still work


def test_the_hidden_layer_reference_is_bounded_for_wide_layers():
    from ae_core.analysis.anomaly_scores import HIDDEN_MAX_VALUES, score_reference

    rng = np.random.default_rng(0)
    X, Z, H = rng.random((50, 4)), rng.random((9000, 2)), rng.random((9000, 2000), dtype=np.float32)
    ref = score_reference(X, X * 0.9, Z, Z[:50], H, H[:50], (1500, 500), max_codes=8000)
    assert ref.hidden.dtype == np.float32 and ref.hidden.shape == (HIDDEN_MAX_VALUES // 2000, 2000)
    assert len(ref.codes) == 8000  # the codes keep their own, larger cap
    assert set(ref.spread) == {"reconstruction", "normalized", "knn", "hidden1", "hidden2"}  # a term per layer


def test_the_default_score_has_a_term_for_each_hidden_layer(digits):
    from ae_core.analysis.metrics import encode, hidden_features, reconstruct

    ae = Autoencoder(hidden=(32, 16), epochs=2, random_state=0).fit(digits)
    Xs = ae.scaler_.transform(digits[:5])
    H = hidden_features(ae.model_, Xs)
    assert H.shape == (5, 48) and ae.model_.hidden_widths == (32, 16)
    ref, R, Z = ae._score_ref, reconstruct(ae.model_, Xs), encode(ae.model_, Xs)
    terms = ref.terms(Xs, R, Z, H)
    expected = sum(terms[t] / ref.spread[t] for t in ("normalized", "knn", "hidden1", "hidden2"))
    np.testing.assert_allclose(ae.anomaly_score(digits[:5]), expected, rtol=1e-6)


def test_scoring_in_chunks_gives_the_scores_of_one_pass(digits):
    from ae_core.analysis.anomaly_scores import anomaly_scores, scores_in_chunks
    from ae_core.analysis.metrics import encode, hidden_features, reconstruct

    ae = Autoencoder(epochs=2, random_state=0).fit(digits)
    m, Xs = ae.model_, ae.scaler_.transform(digits[:50])
    R, Z = reconstruct(m, Xs), encode(m, Xs)
    whole = anomaly_scores("normalized+knn+hidden", ae._score_ref, Xs, R, Z, hidden_features(m, Xs))
    chunked = scores_in_chunks("normalized+knn+hidden", ae._score_ref, Xs, R, Z, lambda A: hidden_features(m, A), rows=7)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6)
    np.testing.assert_allclose(ae.anomaly_score(digits[:50]), whole, rtol=1e-6)


@pytest.mark.parametrize(("make", "expected"), [
    (lambda rng: rng.random((60, 64)), "range"),  # flat rows in [0, 1]
    (lambda rng: rng.integers(0, 256, (60, 64)).astype(float), "range"),  # 8-bit pixels as a table
    (lambda rng: rng.random((60, 8, 8)) * 5, "range"),  # (n, h, w) images whatever their range
    (lambda rng: rng.normal(size=(60, 64)), "standard"),  # negative values
    (lambda rng: rng.random((60, 8)), "standard"),  # too few columns to be an image
    (lambda rng: np.hstack([rng.integers(0, 256, (60, 2)), rng.integers(0, 3, (60, 30))]).astype(float), "standard"),
], ids=["unit-floats", "uint8-values", "images", "signed", "narrow", "mixed-count-columns"])
def test_auto_scaling_recognises_pixel_rows(make, expected):
    ae = Autoencoder(epochs=1, random_state=0).fit(make(np.random.default_rng(0)))
    assert ae.scaling_ == expected


def test_pixel_rows_in_0_255_are_scaled_by_their_range():
    X = np.random.default_rng(0).integers(0, 256, (60, 64)).astype(float)
    ae = Autoencoder(epochs=1, random_state=0).fit(X)
    assert (ae.scaler_.lo, ae.scaler_.hi) == (0.0, X.max())



def test_anomalies_score_higher_than_normal_rows():
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, size=(800, 1))
    X = np.hstack([t, t**2, np.sin(3 * t), 2 * t]) + 0.01 * rng.normal(size=(800, 4))
    odd = rng.normal(size=(20, 4))
    ae = Autoencoder(latent_dim=1, epochs=60, random_state=0).fit(X)
    assert np.median(ae.anomaly_score(odd)) > 5 * np.median(ae.anomaly_score(X))


def test_refuses_code_wider_than_input():
    with pytest.raises(InputError, match=r"larger than the input's 2 feature\(s\)"):
        Autoencoder(latent_dim=3).fit(np.random.rand(30, 2))


def test_code_as_wide_as_input_warns_that_it_does_not_compress():
    with pytest.warns(UserWarning, match="does not compress"):
        Autoencoder(latent_dim=2, epochs=1).fit(np.random.rand(30, 2))


@pytest.mark.parametrize("variant", ["sparse", "denoising"])
def test_sparse_and_denoising_codes_may_be_overcomplete(variant):
    with pytest.warns(UserWarning, match="does not compress"):
        ae = Autoencoder(variant=variant, latent_dim=4, epochs=1).fit(np.random.rand(30, 2))
    assert ae.transform(np.random.rand(3, 2)).shape == (3, 4)


def test_transform_refuses_wrong_width(digits):
    ae = Autoencoder(epochs=2, random_state=0).fit(digits)
    with pytest.raises(ValueError, match="features"):
        ae.transform(digits[:, :10])


def test_inverse_transform_refuses_wrong_code_width(digits):
    ae = Autoencoder(epochs=2, random_state=0).fit(digits)
    with pytest.raises(InputError, match=r"expected codes of shape \(n_samples, 2\)"):
        ae.inverse_transform(np.zeros((3, 5)))


def test_conv_refused_for_flat_rows(digits):
    with pytest.raises(InputError, match="needs image data"):
        Autoencoder(variant="convolutional", epochs=1).fit(digits)


@pytest.mark.parametrize(("variant", "expected"), [("vanilla", True), ("sparse", True), ("denoising", True),
                                                   ("variational", False), ("convolutional", False)])
def test_pca_init_auto_follows_the_variant(variant, expected):
    X = np.random.default_rng(0).random((40, 8, 8))
    ae = Autoencoder(variant=variant, epochs=1, random_state=0).fit(X)
    assert ae.model_.cfg.pca_init is expected
    assert Autoencoder(variant=variant, epochs=1, random_state=0, pca_init=False).fit(X).model_.cfg.pca_init is False


def test_front_dim_auto_follows_the_width_of_the_rows():
    rng = np.random.default_rng(0)
    assert Autoencoder(epochs=1, random_state=0).fit(rng.random((60, 2048))).model_.cfg.front_dim == 256
    assert Autoencoder(epochs=1, random_state=0).fit(rng.random((60, 784))).model_.cfg.front_dim == 0
    assert Autoencoder(epochs=1, random_state=0, front_dim=0).fit(rng.random((60, 2048))).model_.cfg.front_dim == 0


def test_front_dim_trains_behind_a_front_and_reconstructs_every_feature(digits):
    ae = Autoencoder(latent_dim=2, front_dim=16, epochs=3, random_state=0).fit(digits)
    assert ae.model_.cfg.front_dim == 16 and ae.model_.front.basis.shape == (64, 16)
    def rank(R):  # float32 reconstructions: singular values under 1e-7 of the largest are rounding
        s = np.linalg.svd(R - R[0], compute_uv=False)
        return int((s > 1e-7 * s[0]).sum())

    R = ae.reconstruct(digits[:300])  # (300, 64): affine in the 16 coordinates the networks give back
    assert R.shape == (300, 64) and rank(R) <= 16
    R0 = Autoencoder(latent_dim=2, epochs=3, random_state=0).fit(digits).reconstruct(digits[:300])
    assert rank(R0) > 16  # without a front the decoder's corrections reach every feature


@pytest.mark.parametrize(("kw", "message"), [({"front_dim": -1}, "front_dim must be 'auto' or a whole number"),
                                             ({"front_dim": 16, "variant": "variational"}, "needs a dense model with the PCA path"),
                                             ({"front_dim": 64}, "below the features'")])
def test_a_front_that_cannot_work_is_refused_with_what_to_change(digits, kw, message):
    with pytest.raises(InputError, match=message):
        Autoencoder(epochs=1, **kw).fit(digits)


def test_the_convolutional_variant_reproduces_colour_of_a_small_rgb_set():
    """Red and blue discs come back red and blue (the recipe gives a small set enough steps to learn colour)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:12, :12]
    X = np.zeros((200, 12, 12, 3), np.float32)
    red = rng.random(200) < 0.5
    for i in range(200):
        disc = (yy - rng.uniform(3, 9)) ** 2 + (xx - rng.uniform(3, 9)) ** 2 <= rng.uniform(2, 4) ** 2
        X[i][disc] = [0.9, 0.1, 0.1] if red[i] else [0.1, 0.1, 0.9]
    R = Autoencoder(variant="convolutional", latent_dim=4, random_state=0).fit(X).reconstruct(X)
    assert R.shape == X.shape
    lit = X.max(-1) > 0.5  # the disc pixels

    def red_minus_blue(A, rows):
        return float((A[..., 0] - A[..., 2])[rows[:, None, None] & lit].mean())

    assert red_minus_blue(R, red) > 0.5 and red_minus_blue(R, ~red) < -0.5  # the input: +0.8 and -0.8


def test_a_time_budget_trains_until_the_time_is_up_with_the_rate_annealed_over_it(digits):
    est = Autoencoder(time_budget=2.0, random_state=0).fit(digits)
    lrs = [h["lr"] for h in est.history_]
    assert est.n_epochs_ >= 5  # not stopped after its first epoch (under load, digits runs ~25 epochs a second)
    assert lrs[-1] < 0.1 * max(lrs)  # the cosine reached its end with the budget, not at epoch 10,000
    assert Autoencoder(time_budget=1.0).get_params()["time_budget"] == 1.0


@pytest.mark.parametrize("budget, match", [(-3, "between 0 and 86400"), ("soon", "number of seconds")])
def test_a_bad_time_budget_is_refused_with_what_to_give(digits, budget, match):
    with pytest.raises(InputError, match=match):
        Autoencoder(time_budget=budget).fit(digits)


def _both_ways_blobs(n: int = 300) -> np.ndarray:
    """(n, 8, 12) images of a blob on the left or the right: a set whose mirror images are its own kind."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:8, :12]
    cx = np.where(rng.random(n) < 0.5, rng.uniform(1, 4, n), rng.uniform(7, 10, n))
    cy = rng.uniform(1, 6, n)
    return np.exp(-((xx - cx[:, None, None]) ** 2 + (yy - cy[:, None, None]) ** 2) / 2.0).astype(np.float32)


def test_mirror_auto_follows_the_data_and_the_model():
    blobs = _both_ways_blobs()
    assert Autoencoder(variant="convolutional", epochs=1, random_state=0).fit(blobs).mirror_ is True
    assert Autoencoder(epochs=1, random_state=0).fit(blobs).mirror_ is False  # dense on the pixels: measured worse
    digits = load_digits().data.reshape(-1, 8, 8)
    assert Autoencoder(variant="convolutional", epochs=1, random_state=0).fit(digits).mirror_ is False
    assert Autoencoder(epochs=1, random_state=0).fit(blobs.reshape(len(blobs), -1)).mirror_ is False  # flat rows
    assert Autoencoder(epochs=1, random_state=0, mirror=True).fit(digits).mirror_ is True  # a person's choice


@pytest.mark.parametrize(("mirror", "X", "message"), [
    (True, np.zeros((50, 64)), "these are flat rows"),
    ("yes", np.zeros((50, 8, 8)), "mirror must be 'auto', True or False"),
])
def test_a_mirror_setting_that_cannot_work_is_refused(mirror, X, message):
    with pytest.raises(InputError, match=message):
        Autoencoder(epochs=1, mirror=mirror).fit(X)


def test_shift_auto_moves_images_of_16_pixels_or_more_for_the_models_that_gain_from_it():
    images = np.random.default_rng(0).random((60, 16, 16), dtype=np.float32)
    assert Autoencoder(variant="convolutional", epochs=1, random_state=0).fit(images).shift_ is True
    assert Autoencoder(epochs=1, random_state=0).fit(images).shift_ is False  # dense on the pixels: it underfits
    colour = np.random.default_rng(1).random((60, 32, 32, 3), dtype=np.float32)  # 3,072 features: behind a front
    assert Autoencoder(epochs=1, random_state=0).fit(colour).shift_ is True
    digits = load_digits().data.reshape(-1, 8, 8)  # a pixel is an eighth of a digit
    assert Autoencoder(variant="convolutional", epochs=1, random_state=0).fit(digits).shift_ is False
    assert Autoencoder(variant="convolutional", epochs=1, random_state=0, shift=True).fit(digits).shift_ is True
    assert Autoencoder(variant="convolutional", epochs=1, random_state=0, shift=False).fit(images).shift_ is False


@pytest.mark.parametrize(("shift", "X", "message"), [
    (True, np.zeros((50, 64)), "shift=True moves images by a pixel; these are flat rows"),
    ("on", np.zeros((50, 8, 8)), "shift must be 'auto', True or False"),
])
def test_a_shift_setting_that_cannot_work_is_refused(shift, X, message):
    with pytest.raises(InputError, match=message):
        Autoencoder(epochs=1, shift=shift).fit(X)
