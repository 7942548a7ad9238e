"""Metrics helpers and the words the app uses for them."""

import numpy as np
import pytest

from ae_core.analysis.metrics import describe_ratio, knn_accuracy, pca_baseline, reconstruction_errors, trust


def test_describe_ratio_says_how_much_better():
    assert describe_ratio(0.41) == "AE reconstruction error is 0.41x PCA's at the same code size (59% lower)."


def test_describe_ratio_explains_expected_tradeoff_of_variants():
    assert "smooth code" in describe_ratio(1.3, "variational")
    assert "try more epochs" in describe_ratio(1.3, "vanilla")


def test_describe_ratio_handles_perfect_pca():
    assert "nothing to compare" in describe_ratio(float("nan"))


def test_pca_baseline_is_exact_at_full_rank():
    X = np.random.default_rng(0).normal(size=(50, 4))
    _, X_hat = pca_baseline(X, X, 4)
    assert reconstruction_errors(X, X_hat).max() < 1e-20


def test_knn_accuracy_and_trustworthiness_of_a_perfect_code():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    Z = rng.normal(size=(100, 2)) + y[:, None] * 10
    assert knn_accuracy(Z[::2], y[::2], Z[1::2], y[1::2]) == 1.0
    assert trust(Z, Z) == pytest.approx(1.0)
