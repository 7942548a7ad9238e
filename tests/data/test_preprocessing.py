"""Splits and their per-row codes (ae_core.data.preprocessing)."""

from __future__ import annotations

import numpy as np
import pytest

from ae_core.data.preprocessing import SPLIT_NAMES, SplitCode, held_out_rows, split_indices, split_names


def test_split_codes_name_every_row_once():
    split = split_indices(200, seed=0)
    codes = split.codes(200)
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(np.flatnonzero(codes == SplitCode.TRAIN), split.train)
    np.testing.assert_array_equal(np.flatnonzero(codes == SplitCode.VALIDATION), split.val)
    np.testing.assert_array_equal(held_out_rows(codes), split.test)
    assert list(SPLIT_NAMES) == ["train", "validation", "test"]
    assert set(split_names(codes)) == {"train", "validation", "test"}
    assert split_names(codes)[split.test[0]] == "test"


def test_held_out_rows_subsample_is_seeded_sorted_and_test_only():
    codes = np.array([SplitCode.TEST if i % 3 == 0 else SplitCode.TRAIN for i in range(300)], np.int8)
    a = held_out_rows(codes, max_samples=20, seed=1)
    assert len(a) == 20 and (np.diff(a) > 0).all() and (codes[a] == SplitCode.TEST).all()
    np.testing.assert_array_equal(a, held_out_rows(codes, max_samples=20, seed=1))
    assert len(held_out_rows(codes, max_samples=1000)) == 100


@pytest.mark.parametrize("code, name", [(SplitCode.TRAIN, "train"), (SplitCode.VALIDATION, "validation"),
                                        (SplitCode.TEST, "test")])
def test_split_codes_keep_the_values_stored_runs_use(code, name):
    """Runs written before the enum stored 0/1/2 in split.npy: the values must not move."""
    assert int(code) == ["train", "validation", "test"].index(name)
