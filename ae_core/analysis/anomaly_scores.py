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
- "normalized+knn+hidden": the same plus, for each of the encoder's hidden layers, the distance to the nearest
  training rows in that layer (wider than the code: the code keeps what rebuilds a row, the hidden layers also
  what tells rows apart). Each term is divided by its interquartile range, as above.

Higher = more anomalous for every score. Which one is the default, and what each bought on one-class
Fashion-MNIST, is in benchmarks/FINDINGS.md ("Model quality").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ae_core.errors import InputError

SCORES = ("reconstruction", "normalized", "normalized+knn", "normalized+knn+hidden")
DEFAULT_SCORE = "normalized+knn+hidden"
# The terms each score adds up (after dividing each by its spread); the first two scores are one term each.
SCORE_TERMS = {"normalized+knn": ("normalized", "knn"), "normalized+knn+hidden": ("normalized", "knn", "hidden")}
# Training rows kept for the hidden layers' neighbours: at most this many numbers in all (16 MB as float32; a
# conv model's last feature map has thousands of values per row), so a fitted estimator stays small.
HIDDEN_MAX_VALUES = 4_000_000


def hidden_rows(n_train: int, width: int, k: int = 5, max_codes: int = 10_000, seed: int = 0) -> np.ndarray:
    """Which training rows (sorted indices) the hidden-layer terms keep as neighbours: at most `max_codes`, and
    at most HIDDEN_MAX_VALUES numbers of `width` each; a seeded subset. Callers compute the hidden layers of
    these rows only."""
    cap = max(k, min(max_codes, HIDDEN_MAX_VALUES // max(width, 1)))
    if n_train <= cap:
        return np.arange(n_train)
    return np.sort(np.random.default_rng(seed + 1).choice(n_train, cap, replace=False))


def needs(kind: str) -> tuple[str, ...]:
    """The views of the rows a score needs beyond the reconstruction: () , ("codes",) or ("codes", "hidden")."""
    terms = SCORE_TERMS.get(kind, ())
    return tuple(v for v, t in (("codes", "knn"), ("hidden", "hidden")) if t in terms)


@dataclass
class ScoreReference:
    """What the scores need from training: per-feature error spread, training codes, each term's scale."""

    feature_var: np.ndarray  # (F,) mean squared error per feature on held-out normal rows (+ a floor)
    codes: np.ndarray  # (M, D) codes of training rows, the neighbours of the kNN term
    k: int = 5
    spread: dict = field(default_factory=dict)  # term -> interquartile range on the held-out rows
    hidden: np.ndarray | None = None  # (M', H) float32: training rows' hidden layers side by side; None in older fits
    hidden_widths: tuple = ()  # the width of each layer in `hidden`; () = one layer

    def _knn(self, reference: np.ndarray, A: np.ndarray) -> np.ndarray:
        from sklearn.neighbors import NearestNeighbors

        k = min(self.k, len(reference))
        index = NearestNeighbors(n_neighbors=k).fit(reference)
        return index.kneighbors(np.asarray(A, reference.dtype))[0].mean(1)

    def terms(self, X: np.ndarray, recon: np.ndarray, Z: np.ndarray | None = None, H: np.ndarray | None = None) -> dict:
        """Every term that the given views allow: the errors always, "knn" with codes Z, "hidden1", "hidden2", ...
        (one per hidden layer) with H."""
        sq = (np.asarray(X, np.float64) - np.asarray(recon, np.float64)) ** 2  # (N, F)
        out = {"reconstruction": sq.mean(1), "normalized": (sq / self.feature_var).mean(1)}
        if Z is not None:
            out["knn"] = self._knn(self.codes, Z)
        if H is not None:
            if self.hidden is None:
                raise InputError("this model was fitted before the hidden-layer score existed; fit it again, or "
                                 "choose the 'normalized+knn' score.")
            ends = np.cumsum(self.hidden_widths or (self.hidden.shape[1],))
            for i, (a, b) in enumerate(zip([0, *ends[:-1]], ends), 1):
                out[f"hidden{i}"] = self._knn(self.hidden[:, a:b], H[:, a:b]).astype(np.float64)
        return out


def score_reference(X_val, recon_val, codes_train, codes_val, hidden_train=None, hidden_val=None,
                    hidden_widths: tuple = (), k: int = 5, max_codes: int = 10_000, seed: int = 0) -> ScoreReference:
    """Fit a ScoreReference on held-out normal rows (`X_val`, their reconstructions, codes and hidden layers) and
    the training rows' codes and hidden layers (at most `max_codes` rows, a seeded subset, bounding the kNN
    search; fewer for wide hidden layers, HIDDEN_MAX_VALUES). `hidden_widths` splits the hidden columns into
    layers, one term each. Without hidden layers the "hidden" terms are unavailable."""
    X_val, recon_val = np.asarray(X_val, np.float64), np.asarray(recon_val, np.float64)
    var = ((X_val - recon_val) ** 2).mean(0)  # (F,)
    # A floor: a feature that is always rebuilt exactly (a blank border pixel) must not divide by ~0.
    var = var + max(1e-3 * float(var.mean()), 1e-12)
    codes = np.asarray(codes_train, np.float64)
    if len(codes) > max_codes:
        codes = codes[np.sort(np.random.default_rng(seed).choice(len(codes), max_codes, replace=False))]
    hidden = None
    if hidden_train is not None:
        hidden = np.asarray(hidden_train, np.float32)
        hidden = hidden[hidden_rows(len(hidden), hidden.shape[1], k, max_codes, seed)]  # all, if already chosen
    ref = ScoreReference(feature_var=var, codes=codes, k=k, hidden=hidden, hidden_widths=tuple(hidden_widths))
    for name, values in ref.terms(X_val, recon_val, codes_val, hidden_val if hidden is not None else None).items():
        q1, q3 = np.percentile(values, [25, 75])
        ref.spread[name] = float(max(q3 - q1, 1e-12))
    return ref


def model_reference(model, X_train, X_val, codes_train, codes_val, recon_val=None, hidden: bool = True,
                    seed: int = 0) -> ScoreReference:
    """`score_reference` for a trained model (ae_core.model.networks.Autoencoder) on scaled rows: its
    reconstruction of the held-out rows (`recon_val` if already computed) and, with `hidden`, the hidden
    layers of the training rows `hidden_rows` keeps and of the held-out rows."""
    from ae_core.analysis.metrics import hidden_features, reconstruct

    recon_val = reconstruct(model, X_val) if recon_val is None else recon_val
    layers = ()
    if hidden:
        kept = np.asarray(X_train)[hidden_rows(len(X_train), sum(model.hidden_widths), seed=seed)]
        layers = (hidden_features(model, kept), hidden_features(model, X_val), model.hidden_widths)
    return score_reference(X_val, recon_val, codes_train, codes_val, *layers, seed=seed)


def model_scores(kind: str, ref: ScoreReference, model, X, recon=None, Z=None) -> np.ndarray:
    """`anomaly_scores` of a trained model's scaled rows X (`recon`, their reconstructions, if already
    computed; Z, their codes, as `needs(kind)` says), the hidden layers a chunk at a time."""
    from ae_core.analysis.metrics import hidden_features, reconstruct

    recon = reconstruct(model, X) if recon is None else recon
    return scores_in_chunks(kind, ref, X, recon, Z, lambda A: hidden_features(model, A))


def scores_in_chunks(kind: str, ref: ScoreReference, X, recon, Z=None, hidden_of=None, rows: int = 8192) -> np.ndarray:
    """`anomaly_scores` of many rows, with the hidden layers (`hidden_of(X_chunk)`) computed `rows` rows at a
    time: a 70,000-row run's hidden layers side by side would be 500 MB at once."""
    if "hidden" not in needs(kind):
        return anomaly_scores(kind, ref, X, recon, Z)
    return np.concatenate([
        anomaly_scores(kind, ref, X[i:i + rows], recon[i:i + rows], None if Z is None else Z[i:i + rows],
                       hidden_of(X[i:i + rows]))
        for i in range(0, len(X), rows)]) if len(X) else np.zeros(0)


def anomaly_scores(kind: str, ref: ScoreReference, X, recon, Z=None, H=None) -> np.ndarray:
    """Score per row, higher = more anomalous: `kind` is one of SCORES; Z (codes) and H (hidden layers) as
    `needs(kind)` says."""
    if kind not in SCORES:
        raise InputError(f"unknown anomaly score {kind!r}; choose one of: {', '.join(SCORES)}.")
    if kind not in SCORE_TERMS:
        return ref.terms(X, recon)[kind]
    terms = ref.terms(X, recon, Z, H)
    return sum(v / ref.spread[t] for t, v in terms.items() if t.rstrip("0123456789") in SCORE_TERMS[kind])
