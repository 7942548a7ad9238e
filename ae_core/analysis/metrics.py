"""Numbers computed from a trained model: codes, reconstructions, errors, and
the metrics every finished run carries (against PCA at the same code size).

Everything here is a plain function of arrays and a model, so the app's pages,
the CLI and the tests call the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.decomposition import PCA

# scikit-learn is imported inside the functions that use it: the latent page imports this module for
# encode/decode and must not pay for scikit-learn's import on its first view.

TRUST_MAX = 1500  # trustworthiness is O(n^2): score a fixed random subset of the test set
BATCH = 4096


def _batched(model, fn, A: np.ndarray, width: int) -> np.ndarray:
    """fn (a model method) applied in eval mode to A in batches of BATCH rows, as float32 numpy."""
    import torch  # lazily: pages that only show metrics must not pay for torch

    model.eval()
    dev = next(model.parameters()).device  # a model still on its training GPU (epoch snapshots) infers there
    with torch.inference_mode():
        # np.require copies a batch of a read-only (shared) array: torch wants writable memory.
        out = [fn(torch.from_numpy(np.require(A[i : i + BATCH], np.float32, "W")).to(dev)).float().cpu().numpy()
               for i in range(0, len(A), BATCH)]
    return np.concatenate(out) if out else np.zeros((0, width), np.float32)


def encode(model, X: np.ndarray) -> np.ndarray:
    """Codes (n, latent_dim) of scaled inputs (n, n_features); the mean for a VAE."""
    return _batched(model, model.encode, X, model.cfg.latent_dim)


def hidden_features(model, X: np.ndarray) -> np.ndarray:
    """The encoder's hidden layers side by side (n, sum(model.hidden_widths)) for scaled inputs (n, n_features)."""
    return _batched(model, model.hidden, X, sum(model.hidden_widths))


def decode(model, Z: np.ndarray) -> np.ndarray:
    """Scaled reconstructions (n, n_features) of codes (n, latent_dim).

    `model` is an Autoencoder or a run's numpy decoder (`LoadedRun.decoder`), which needs no torch."""
    from ae_core.model.numpy_decoder import ArrayDecoder

    if isinstance(model, ArrayDecoder):
        return model.decode(Z)
    return _batched(model, model.decode, Z, model.cfg.n_features)


def reconstruct(model, X: np.ndarray) -> np.ndarray:
    """Scaled reconstructions of scaled inputs, through the code (no noise)."""
    return decode(model, encode(model, X))


def reconstruction_errors(X: np.ndarray, X_hat: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Per-sample mean squared error, shape (n,): the anomaly score.

    Accumulated in float64 row chunks, so large sets need no full float64 copy.
    """
    out = np.empty(len(X), dtype=np.float64)
    for i in range(0, len(X), chunk):
        diff = np.asarray(X[i : i + chunk], np.float64) - X_hat[i : i + chunk]
        out[i : i + chunk] = (diff * diff).mean(axis=1)
    return out


def model_errors(model, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Reconstruction error of every row of scaled X, without holding all reconstructions."""
    return np.concatenate([reconstruction_errors(X[i : i + chunk], reconstruct(model, X[i : i + chunk]))
                           for i in range(0, len(X), chunk)]) if len(X) else np.zeros(0)


def pca_baseline(X_train: np.ndarray, X_test: np.ndarray, n_components: int, seed: int = 0) -> tuple[PCA, np.ndarray]:
    """PCA with the autoencoder's code size, fitted on the training split.

    Returns the fitted PCA and the test reconstructions.
    """
    from sklearn.decomposition import PCA

    k = max(1, min(n_components, X_train.shape[1], X_train.shape[0]))
    pca = PCA(n_components=k, random_state=seed).fit(X_train)
    return pca, pca.inverse_transform(pca.transform(X_test))


def knn_accuracy(Z_train, y_train, Z_test, y_test, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour classifier on codes: is the code meaningful?"""
    from sklearn.neighbors import KNeighborsClassifier

    k = min(k, len(Z_train))
    clf = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train)
    return float(clf.score(Z_test, y_test))


def trust(X, Z, n_neighbors: int = 10, seed: int = 0) -> float:
    """sklearn's trustworthiness on at most TRUST_MAX points: are code neighbours input neighbours?"""
    if len(X) > TRUST_MAX:
        idx = np.random.default_rng(seed).choice(len(X), TRUST_MAX, replace=False)
        X, Z = X[idx], Z[idx]
    n_neighbors = min(n_neighbors, (len(X) - 1) // 2)
    if n_neighbors < 1:
        return float("nan")
    from sklearn.manifold import trustworthiness

    return float(trustworthiness(X, Z, n_neighbors=n_neighbors))


def run_metrics(model, X_train, X_test, y_train=None, y_test=None, outlier_test=None, seed: int = 0) -> dict:
    """The metrics every finished run carries, all on the held-out test split.

    Parameters
    ----------
    model : ae_core.model.networks.Autoencoder
    X_train, X_test : arrays of shape (n, n_features), already scaled
    y_train, y_test : class indices, or None
    outlier_test : bool array of shape (n_test,), or None

    Returns
    -------
    dict with test_mse, pca_mse, ae_pca_ratio and, where labels allow,
    knn_accuracy, pca_knn_accuracy, trustworthiness, pca_trustworthiness, anomaly_auc.
    """
    d = model.cfg.latent_dim
    Z_train, Z_test = encode(model, X_train), encode(model, X_test)
    X_hat = decode(model, Z_test)
    err = reconstruction_errors(X_test, X_hat)
    pca, X_pca = pca_baseline(X_train, X_test, d, seed)
    m = {
        "test_mse": float(err.mean()),
        "pca_mse": float(reconstruction_errors(X_test, X_pca).mean()),
        "latent_dim": d,
        "n_train": int(len(X_train)),
        "n_test": int(len(X_test)),
    }
    m["ae_pca_ratio"] = m["test_mse"] / m["pca_mse"] if m["pca_mse"] > 0 else float("nan")
    P_train, P_test = pca.transform(X_train), pca.transform(X_test)
    if y_train is not None and y_test is not None and len(np.unique(y_train)) > 1:
        m["knn_accuracy"] = knn_accuracy(Z_train, y_train, Z_test, y_test)
        m["pca_knn_accuracy"] = knn_accuracy(P_train, y_train, P_test, y_test)
    m["trustworthiness"] = trust(X_test, Z_test, seed=seed)
    m["pca_trustworthiness"] = trust(X_test, P_test, seed=seed)
    if outlier_test is not None and 0 < outlier_test.sum() < len(outlier_test):
        from sklearn.metrics import roc_auc_score

        m["anomaly_auc"] = float(roc_auc_score(outlier_test, err))
        m["pca_anomaly_auc"] = float(roc_auc_score(outlier_test, reconstruction_errors(X_test, X_pca)))
    return m


TRADE_OFF = {
    "variational": "a VAE trades reconstruction for a smooth code you can sample from",
    "sparse": "the sparsity penalty trades reconstruction for codes where few units fire",
    "denoising": "a denoising AE learns from corrupted inputs, trading some clean reconstruction for robustness",
}


def describe_ratio(ratio: float, variant: str = "vanilla") -> str:
    """Plain words for the AE/PCA error ratio, as the Train page shows it."""
    if not np.isfinite(ratio):
        return "PCA reconstructs this data perfectly at this code size, so there is nothing to compare."
    head = f"AE reconstruction error is {ratio:.2f}x PCA's at the same code size"
    if ratio < 0.98:
        return f"{head} ({1 - ratio:.0%} lower)."
    if ratio <= 1.02:
        return f"{head}: no better than a linear projection."
    if variant in TRADE_OFF:
        return f"{head}: worse than PCA, as expected here: {TRADE_OFF[variant]}."
    return f"{head}: worse than PCA (try more epochs or a larger code)."
