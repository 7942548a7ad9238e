"""Is a set of images mirror-symmetric: does an image flipped left to right look like another image of the set?

Shoes in Fashion-MNIST point one way, digits and letters have a handedness; photos of scenes, faces and most
objects do not. Where the set is symmetric, training on mirrored copies of its images (`TrainConfig.mirror`)
shows the model more of what it will meet; where it is not, it teaches images that never occur.

The test: PCA fitted on most of a sample reconstructs the held-out rest, as they are and mirrored. On a
symmetric set both errors match; the ratio of the mirrored to the plain error measured 1.02 on 32x32 photo
patches, 1.29 on Fashion-MNIST (its shoes 2.2-9x) and 3.9 on scikit-learn's digits (benchmarks/FINDINGS.md,
"Eighth round").
"""

from __future__ import annotations

import weakref

import numpy as np

MIRROR_MAX_RATIO = 1.5  # mirrored error over plain error up to which a set counts as mirror-symmetric
SAMPLE_ROWS = 3000
MIN_HELD_OUT = 20


def mirror_columns(image_shape: tuple[int, ...]) -> np.ndarray:
    """The column order that mirrors a flat channel-last image row of this (h, w) or (h, w, c) shape."""
    n = int(np.prod(image_shape))
    return np.arange(n).reshape(image_shape)[:, ::-1].reshape(-1).copy()


def mirror_ratio(X: np.ndarray, image_shape: tuple[int, ...], seed: int = 0) -> float | None:
    """PCA's held-out error on mirrored rows over its error on the rows as they are; None with too few rows to say.

    X: (n, h*w*c) flat channel-last rows (scaled or not: the ratio does not depend on a common scale).
    """
    from sklearn.decomposition import PCA

    n, d = X.shape
    rng = np.random.default_rng(seed)
    rows = rng.permutation(n)[:SAMPLE_ROWS]
    n_held = len(rows) // 7
    fit, held = X[rows[n_held:]], X[rows[:n_held]]
    k = min(30, d // 2)
    if n_held < MIN_HELD_OUT or k < 1:
        return None
    pca = PCA(k, svd_solver="randomized", random_state=seed).fit(fit.astype(np.float32))

    def error(rows: np.ndarray) -> float:
        return float(((pca.inverse_transform(pca.transform(rows)) - rows) ** 2).mean())

    plain = error(held.astype(np.float32))
    if plain <= 0:
        return None
    return error(held[:, mirror_columns(image_shape)].astype(np.float32)) / plain


_ANSWERS: dict[tuple, bool] = {}  # (id(X), shape, seed) -> answer, while X lives: the Train page asks on every rerun


def mirror_symmetric(X: np.ndarray, image_shape: tuple[int, ...] | None, seed: int = 0) -> bool:
    """Whether mirrored images of this set look like its images (`mirror_ratio` at most MIRROR_MAX_RATIO)."""
    if image_shape is None:
        return False
    key = (id(X), X.shape, tuple(image_shape), seed)
    if key not in _ANSWERS:
        ratio = mirror_ratio(X, image_shape, seed)
        _ANSWERS[key] = ratio is not None and ratio <= MIRROR_MAX_RATIO
        weakref.finalize(X, _ANSWERS.pop, key, None)
    return _ANSWERS[key]


CONV_MIRROR_BELOW_ROWS = 20_000


def recipe_mirror(X: np.ndarray, arch: str, front_dim: int, image_shape: tuple[int, ...] | None, n_samples: int,
                  seed: int = 0) -> bool:
    """The recipe's `TrainConfig.mirror` for a model of this architecture on these rows (`n_samples` counted as
    `recipe_defaults` counts them): on for mirror-symmetric images where it measured a gain, where the model
    overfits: the convolutional model below CONV_MIRROR_BELOW_ROWS images (from there its recipe underfits, and
    mirroring 49,000 Fashion-MNIST images cost 4 %) and the dense one behind a front; off for the dense model on the
    pixels themselves, where it cost 0.7 % of error on Fashion-MNIST (FINDINGS, "Eighth round")."""
    wanted = (arch == "conv" and n_samples < CONV_MIRROR_BELOW_ROWS) or (arch == "dense" and front_dim > 0)
    return wanted and mirror_symmetric(X, image_shape, seed)


def auto_mirror_words(chosen: bool, arch: str, front_dim: int, n_samples: int) -> str:
    """What `recipe_mirror` chose for image data, and why, in a few words (the Train form's caption)."""
    if chosen:
        return "auto: on, a mirrored image looks like another image of this set"
    if arch == "conv" and n_samples >= CONV_MIRROR_BELOW_ROWS:
        return f"auto: off from {CONV_MIRROR_BELOW_ROWS:,} images, where the model underfits"
    if arch == "conv" or front_dim > 0:
        return "auto: off, a mirrored image does not look like the images of this set"
    return "auto: off for a dense model on the pixels"
