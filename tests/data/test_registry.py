"""The dataset registry."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ae_core.data.registry import DEFAULT_DATASET, REGISTRY, load_dataset
from ae_core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
OFFLINE = [n for n in REGISTRY if n not in ("mnist", "fashion-mnist")]


@pytest.mark.parametrize("name", OFFLINE)
def test_builtin_datasets_load_offline_with_descriptions(name):
    ds = load_dataset(name)
    assert ds.X.dtype == np.float32 and ds.X.ndim == 2 and ds.n_samples >= 150
    assert ds.description and len(ds.feature_names) == ds.n_features
    if ds.y is not None:
        assert len(ds.y) == ds.n_samples and ds.class_names


def test_default_is_digits_as_8x8_images():
    ds = load_dataset(DEFAULT_DATASET)
    assert ds.kind == "image" and ds.image_shape == (8, 8) and ds.value_range == (0.0, 16.0)


def test_digits_are_scikit_learns_read_without_importing_it():
    code = ("import sys; from ae_core.data.registry import load_dataset; d = load_dataset('digits'); "
            "print(d.X.shape, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(1797,", "64)", "False"]
    from sklearn.datasets import load_digits

    ref, ds = load_digits(), load_dataset("digits")
    np.testing.assert_array_equal(ds.X, ref.data.astype(np.float32))
    np.testing.assert_array_equal(ds.y, ref.target)


def test_digits_fall_back_to_scikit_learns_loader_where_its_file_moved(monkeypatch):
    import ae_core.data.registry as datasets

    monkeypatch.setattr(datasets, "_sklearn_digits_file", lambda: None)
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    np.testing.assert_array_equal(ds.X, load_digits().data.astype(np.float32))
    assert ds.n_samples == 1797 and ds.y.max() == 9


def test_outlier_set_labels_its_outliers():
    ds = load_dataset("outliers")
    assert ds.is_outlier.mean() == pytest.approx(0.03, abs=0.005)
    assert (ds.label_names()[ds.is_outlier] == "outlier").all()


def test_swiss_roll_has_position_to_colour_by():
    ds = load_dataset("swiss-roll")
    assert "position along roll" in ds.columns


def test_unknown_dataset_lists_choices():
    with pytest.raises(InputError, match="choose one of: digits"):
        load_dataset("imagenet")


def test_csv_dataset_keeps_label_out_of_features(tmp_path):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{b:.3f},{c:.3f},{'x' if a > 0 else 'y'}" for a, b, c in rng.normal(size=(50, 3)))
    path = tmp_path / "t.csv"
    path.write_text("a,b,c,group\n" + rows + "\n")
    ds = load_dataset("csv", path=str(path), label_column="group")
    assert ds.feature_names == ("a", "b", "c")
    assert set(ds.class_names) == {"x", "y"} and ds.report is not None


def test_deferred_rows_stay_unread_until_used_and_then_read_only():
    from ae_core.data.registry import Dataset, Deferred

    calls = []

    def make():
        calls.append(1)
        return np.ones((3, 2), np.float32)

    ds = Dataset(name="d", X=Deferred(make, (3, 2)), kind="image", description="").read_only()
    assert (ds.n_samples, ds.n_features) == (3, 2) and calls == []
    assert not ds.X.flags.writeable and ds.X is ds.X and calls == [1]
    eager = Dataset(name="e", X=np.zeros((2, 2), np.float32), kind="tabular", description="").read_only()
    assert not eager.X.flags.writeable


def test_deferred_rows_of_another_shape_are_refused():
    from ae_core.data.registry import Dataset, Deferred

    ds = Dataset(name="d", X=Deferred(lambda: np.ones((2, 2), np.float32), (3, 2)), kind="image", description="")
    with pytest.raises(InputError, match="changed while in use"):
        ds.X
