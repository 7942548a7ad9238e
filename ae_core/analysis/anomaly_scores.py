"""Anomaly scores from a trained autoencoder, beyond the raw reconstruction error.

- "reconstruction": mean squared error per row, in scaled units (what the app has always shown).
- "normalized": each feature's squared error divided by that feature's error spread on held-out normal
  rows, then averaged. A pixel the model always gets a little wrong (an edge) weighs less than one it
  usually gets right, as in a Gaussian likelihood of the residual with a per-feature variance.
- "normalized+knn": the normalized error plus the distance from the row's code to its k nearest training
  codes (Bergman et al. 2020, "Deep Nearest Neighbor Anomaly Detection"): a row can be rebuilt well and
  still sit where no training row does. Each term is divided by its interquartile range on the held-out
  normal rows before they are added, so neither dominates by its units. Not centred: subtracting the
  medians would shift every score by one constant (the same ranking) and make some negative, which a
  log-scale histogram of the scores cannot show.

Higher = more anomalous for every score. Which one is the default, and what each bought on one-class
Fashion-MNIST, is in benchmarks/FINDINGS.md ("Model quality").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ae_core.errors import InputError

SCORES = ("reconstruction", "normalized", "normalized+knn")
DEFAULT_SCORE = "normalized+knn"


@dataclass
class ScoreReference:
    """What the scores need from training: per-feature error spread, training codes, each term's scale."""

    feature_var: np.ndarray  # (F,) mean squared error per feature on held-out normal rows (+ a floor)
    codes: np.ndarray  # (M, D) codes of training rows, the neighbours of the kNN term
    k: int = 5
    spread: dict = field(default_factory=dict)  # term -> interquartile range on the held-out rows

    def _knn(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.neighbors import NearestNeighbors

        k = min(self.k, len(self.codes))
        index = NearestNeighbors(n_neighbors=k).fit(self.codes)
        return index.kneighbors(np.asarray(Z, np.float64))[0].mean(1)

    def terms(self, X: np.ndarray, recon: np.ndarray, Z: np.ndarray | None, need_knn: bool) -> dict:
        sq = (np.asarray(X, np.float64) - np.asarray(recon, np.float64)) ** 2  # (N, F)
        out = {"reconstruction": sq.mean(1), "normalized": (sq / self.feature_var).mean(1)}
        if need_knn:
            out["knn"] = self._knn(Z)
        return out


def score_reference(X_val, recon_val, codes_train, codes_val, k: int = 5, max_codes: int = 10_000,
                    seed: int = 0) -> ScoreReference:
    """Fit a ScoreReference on held-out normal rows (`X_val`, their reconstructions and codes) and the
    training rows' codes (at most `max_codes` of them, a seeded subset, bounding the kNN search)."""
    X_val, recon_val = np.asarray(X_val, np.float64), np.asarray(recon_val, np.float64)
    var = ((X_val - recon_val) ** 2).mean(0)  # (F,)
    # A floor: a feature that is always rebuilt exactly (a blank border pixel) must not divide by ~0.
    var = var + max(1e-3 * float(var.mean()), 1e-12)
    codes = np.asarray(codes_train, np.float64)
    if len(codes) > max_codes:
        codes = codes[np.sort(np.random.default_rng(seed).choice(len(codes), max_codes, replace=False))]
    ref = ScoreReference(feature_var=var, codes=codes, k=k)
    for name, values in ref.terms(X_val, recon_val, codes_val, need_knn=True).items():
        q1, q3 = np.percentile(values, [25, 75])
        ref.spread[name] = float(max(q3 - q1, 1e-12))
    return ref


def anomaly_scores(kind: str, ref: ScoreReference, X, recon, Z=None) -> np.ndarray:
    """Score per row, higher = more anomalous: `kind` is one of SCORES."""
    if kind not in SCORES:
        raise InputError(f"unknown anomaly score {kind!r}; choose one of: {', '.join(SCORES)}.")
    terms = ref.terms(X, recon, Z, need_knn=kind == "normalized+knn")
    if kind != "normalized+knn":
        return terms[kind]
    return sum(terms[t] / ref.spread[t] for t in ("normalized", "knn"))
