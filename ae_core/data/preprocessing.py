"""Splits and scaling, fitted on the training split only.

Images are scaled by their known value range into [0, 1] (sigmoid output, BCE
loss); tabular data is imputed with the training median and standardised
(linear output, MSE). The scaler's state is plain numbers, stored as JSON with
a run: nothing is pickled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ae_core.errors import InputError

CLIP = 10.0  # standardised values beyond +-10 sd are clipped: one wild cell must not dominate the loss


@dataclass
class Scaler:
    kind: str  # "range" | "standard"
    lo: float = 0.0
    hi: float = 1.0
    median: np.ndarray | None = None  # (d,) imputation values
    mean: np.ndarray | None = None  # (d,)
    scale: np.ndarray | None = None  # (d,)

    @classmethod
    def fit(cls, X: np.ndarray, kind: str, value_range: tuple[float, float] | None = None) -> Scaler:
        if kind == "range":
            lo, hi = value_range if value_range is not None else (float(np.nanmin(X)), float(np.nanmax(X)))
            return cls("range", lo=float(lo), hi=float(hi) if hi > lo else float(lo) + 1.0)
        with np.errstate(all="ignore"):
            median = np.nanmedian(X, axis=0) if np.isnan(X).any() else np.median(X, axis=0)
        median = np.where(np.isfinite(median), median, 0.0)
        filled = np.where(np.isnan(X), median, X)
        mean = filled.mean(axis=0)
        scale = filled.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls("standard", median=median.astype(np.float64), mean=mean.astype(np.float64), scale=scale.astype(np.float64))

    @property
    def output(self) -> str:
        """The output activation that suits this scaling."""
        return "sigmoid" if self.kind == "range" else "linear"

    def transform(self, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Scaled float32 copy of X, computed in row chunks: a 70,000 x 784 set
        needs its float32 output and one small float64 chunk, not 3 full copies."""
        X = np.asarray(X)
        if self.kind == "standard" and (X.ndim != 2 or X.shape[1] != self.mean.shape[0]):
            raise InputError(f"expected {self.mean.shape[0]} features, got {X.shape[1] if X.ndim == 2 else X.shape}.")
        out = np.empty(X.shape, dtype=np.float32)
        for i in range(0, len(X), chunk):
            block = X[i : i + chunk].astype(np.float64)
            if self.kind == "range":
                block = np.nan_to_num(block, nan=self.lo)
                out[i : i + chunk] = np.clip((block - self.lo) / (self.hi - self.lo), 0.0, 1.0)
            else:
                block = np.where(np.isnan(block), self.median, block)
                out[i : i + chunk] = np.clip((block - self.mean) / self.scale, -CLIP, CLIP)
        return out

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        if self.kind == "range":
            return (Z * (self.hi - self.lo) + self.lo).astype(np.float32)
        return (Z * self.scale + self.mean).astype(np.float32)

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "lo": self.lo, "hi": self.hi}
        for key in ("median", "mean", "scale"):
            value = getattr(self, key)
            d[key] = None if value is None else value.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        arrays = {k: None if d.get(k) is None else np.asarray(d[k], dtype=np.float64) for k in ("median", "mean", "scale")}
        return cls(d["kind"], lo=float(d["lo"]), hi=float(d["hi"]), **arrays)


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # int64 row indices
    val: np.ndarray
    test: np.ndarray


def split_indices(n: int, y: np.ndarray | None = None, seed: int = 0, val: float = 0.15, test: float = 0.15) -> Split:
    """Train/validation/test indices, 70/15/15 by default, stratified when labels allow."""
    from sklearn.model_selection import train_test_split  # here: loading a run for the pages needs no sklearn

    if n < 10:
        raise InputError(f"need at least 10 rows to split into train/validation/test, got {n}.")
    idx = np.arange(n)

    def _strat(labels):
        if labels is None:
            return None
        _, counts = np.unique(labels, return_counts=True)
        return labels if counts.min() >= 3 and len(counts) < n * min(val, test) else None

    rest, te = train_test_split(idx, test_size=test, random_state=seed, stratify=_strat(y))
    y_rest = None if y is None else y[rest]
    tr, va = train_test_split(rest, test_size=val / (1 - test), random_state=seed, stratify=_strat(y_rest))
    return Split(np.sort(tr), np.sort(va), np.sort(te))
