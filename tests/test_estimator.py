"""`ae_core.Autoencoder` as a scikit-learn estimator."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils.estimator_checks import check_estimator

from ae_core import Autoencoder, InputError


@pytest.fixture(scope="module")
def digits():
    return load_digits().data[:600]


def test_passes_sklearn_estimator_checks():
    # latent_dim=1: the checks fit 2-feature data, and a 2-D code of 2 features
    # is a copy, which we refuse on purpose (see test_refuses_code_as_wide_as_input).
    # check_array_api_input is skipped by sklearn itself unless SCIPY_ARRAY_API=1.
    results = check_estimator(Autoencoder(latent_dim=1, epochs=4, random_state=0), on_fail=None, on_skip=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []


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


def test_score_samples_is_negative_anomaly_score(digits):
    ae = Autoencoder(epochs=3, random_state=0).fit(digits)
    np.testing.assert_allclose(ae.score_samples(digits[:10]), -ae.anomaly_score(digits[:10]))
    assert (ae.anomaly_score(digits[:10]) >= 0).all()


def test_anomalies_score_higher_than_normal_rows():
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, size=(800, 1))
    X = np.hstack([t, t**2, np.sin(3 * t), 2 * t]) + 0.01 * rng.normal(size=(800, 4))
    odd = rng.normal(size=(20, 4))
    ae = Autoencoder(latent_dim=1, epochs=60, random_state=0).fit(X)
    assert np.median(ae.anomaly_score(odd)) > 5 * np.median(ae.anomaly_score(X))


def test_refuses_code_as_wide_as_input():
    with pytest.raises(InputError, match=r"got 2 feature\(s\)"):
        Autoencoder(latent_dim=2).fit(np.random.rand(30, 2))


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
