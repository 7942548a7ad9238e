"""The mirror-symmetry test that decides the recipe's mirror augmentation."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ae_core.data.symmetry import (
    MIRROR_MAX_RATIO,
    auto_mirror_words,
    mirror_columns,
    mirror_ratio,
    mirror_symmetric,
    recipe_mirror,
)


def _blobs(n: int, side: str, seed: int = 0) -> np.ndarray:
    """(n, 8 * 12) rows of 8x12 images: a bright blob at a random height, on the left, the right or either side."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:8, :12]
    rows = []
    for _ in range(n):
        cx = rng.uniform(1, 4) if side == "left" or (side == "both" and rng.random() < 0.5) else rng.uniform(7, 10)
        cy = rng.uniform(1, 6)
        rows.append(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 2.0).ravel())
    return np.asarray(rows, np.float32)


def test_mirror_columns_flips_grey_and_colour_images_left_to_right():
    grey = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    np.testing.assert_array_equal(grey.reshape(2, -1)[:, mirror_columns((3, 4))], grey[:, :, ::-1].reshape(2, -1))
    colour = np.arange(2 * 3 * 4 * 3, dtype=float).reshape(2, 3, 4, 3)
    # channels stay in order: only the columns of pixels are reversed
    np.testing.assert_array_equal(colour.reshape(2, -1)[:, mirror_columns((3, 4, 3))],
                                  colour[:, :, ::-1, :].reshape(2, -1))


def test_a_set_with_both_orientations_is_symmetric_and_a_one_sided_set_is_not():
    both, left = _blobs(600, "both"), _blobs(600, "left")
    assert mirror_ratio(both, (8, 12)) < 1.2
    assert mirror_ratio(left, (8, 12)) > 3 * MIRROR_MAX_RATIO
    assert mirror_symmetric(both, (8, 12)) and not mirror_symmetric(left, (8, 12))


def test_handwritten_digits_are_not_mirror_symmetric():
    assert not mirror_symmetric(load_digits().data, (8, 8))


def test_flat_rows_and_too_few_images_are_never_called_symmetric():
    both = _blobs(600, "both")
    assert not mirror_symmetric(both, None)
    assert mirror_ratio(both[:30], (8, 12)) is None and not mirror_symmetric(both[:30], (8, 12))


@pytest.mark.parametrize(("arch", "front_dim", "n_samples", "expected"), [
    ("conv", 0, 600, True), ("conv", 0, 19_999, True), ("conv", 0, 20_000, False),  # from 20,000 conv underfits
    ("dense", 16, 600, True), ("dense", 16, 50_000, True), ("dense", 0, 600, False)])
def test_the_recipe_mirrors_symmetric_images_where_the_model_overfits(arch, front_dim, n_samples, expected):
    both = _blobs(600, "both")
    assert recipe_mirror(both, arch, front_dim, (8, 12), n_samples) is expected
    assert recipe_mirror(_blobs(600, "left"), arch, front_dim, (8, 12), n_samples) is False


@pytest.mark.parametrize(("chosen", "arch", "front_dim", "n_samples", "words"), [
    (True, "conv", 0, 600, "auto: on"),
    (False, "conv", 0, 49_000, "off from 20,000 images"),
    (False, "conv", 0, 600, "does not look like the images of this set"),
    (False, "dense", 256, 600, "does not look like the images of this set"),
    (False, "dense", 0, 600, "off for a dense model on the pixels")])
def test_the_words_for_what_auto_chose_name_the_reason(chosen, arch, front_dim, n_samples, words):
    assert words in auto_mirror_words(chosen, arch, front_dim, n_samples)
