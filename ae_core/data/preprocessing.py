"""Splits and scaling, fitted on the training split only.

Images are scaled by their known value range into [0, 1] (sigmoid output, BCE
loss); tabular data is imputed with the training median and standardised
(linear output, MSE). The scaler's state is plain numbers, stored as JSON with
a run: nothing is pickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from ae_core.errors import InputError

if TYPE_CHECKING:
    from ae_core.data.registry import Dataset

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


def pixel_range(X: np.ndarray, min_features: int = 16) -> tuple[float, float] | None:
    """(0, top) when flat rows look like pixels, else None.

    Pixel-like: at least `min_features` columns (a 4x4 image), every value finite and either in [0, 1] or
    a whole number in 0..255, and most columns reaching at least half the top value (image columns share
    one range; a table of small counts does not). Standardising pixels one by one would blow up the
    nearly empty border pixels, so such rows get the images' range scaling instead.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < min_features or len(X) == 0 or not np.isfinite(X).all():
        return None
    lo, top = float(X.min()), float(X.max())
    if lo < 0 or top <= 0:
        return None
    if top > 1 and (top > 255 or not np.array_equal(X, np.round(X))):
        return None
    if np.median(X.max(axis=0)) < top / 2:
        return None
    return 0.0, (1.0 if top <= 1 else top)


class SplitCode(IntEnum):
    """Which split a row is in, as a run stores it per row (`split.npy`, `LoadedRun.split`)."""

    TRAIN = 0
    VALIDATION = 1
    TEST = 2


SPLIT_NAMES = np.array([c.name.lower() for c in SplitCode], dtype=object)  # indexed by a code array


def split_names(codes) -> np.ndarray:
    """'train' / 'validation' / 'test' per row, from the per-row codes."""
    return SPLIT_NAMES[np.asarray(codes, dtype=np.int64)]


def held_out_rows(codes, max_samples: int | None = None, seed: int = 0) -> np.ndarray:
    """Row numbers of the held-out test split; at most `max_samples` of them (a seeded random subset)."""
    idx = np.flatnonzero(np.asarray(codes) == SplitCode.TEST)
    if max_samples is not None and len(idx) > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_samples, replace=False))
    return idx


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # int64 row indices
    val: np.ndarray
    test: np.ndarray

    def codes(self, n: int) -> np.ndarray:
        """The per-row split codes (SplitCode) of n rows."""
        out = np.full(n, SplitCode.TRAIN, np.int8)
        out[self.val], out[self.test] = SplitCode.VALIDATION, SplitCode.TEST
        return out


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


def restrict_to_classes(split: Split, ds: Dataset, train_classes) -> Split:
    """One-class training: train and validate on `train_classes` only.

    Rows of the other classes never train; they join the test split, so the
    test rows hold every class and the left-out classes are the anomalies.
    `train_classes` empty or None leaves the split as it is.
    """
    if not train_classes:
        return split
    if ds.y is None:
        raise InputError("training on chosen classes needs a labelled dataset; this one has no classes.")
    normal = np.isin(ds.y, np.asarray(train_classes, dtype=np.int64))
    train, val = split.train[normal[split.train]], split.val[normal[split.val]]
    if len(train) < 10 or len(val) < 1:
        raise InputError(f"only {len(train)} training rows belong to the chosen classes; choose more classes.")
    moved = np.concatenate([split.train[~normal[split.train]], split.val[~normal[split.val]]])
    return Split(train, val, np.sort(np.concatenate([split.test, moved])))


def anomaly_truth(ds: Dataset, train_classes=None) -> np.ndarray | None:
    """Which rows are known anomalies: classes left out of one-class training, else labelled outliers."""
    if train_classes:
        return ~np.isin(ds.y, np.asarray(train_classes, dtype=np.int64))
    return None if ds.is_outlier is None else np.asarray(ds.is_outlier, bool)
