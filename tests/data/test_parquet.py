"""Parquet tables (pyarrow): read by content, types kept (dates stay dates), stored and trained like a CSV."""

import numpy as np
import pandas as pd
import pytest

from ae_core.data.registry import load_dataset
from ae_core.data.tabular import prepare_table
from ae_core.errors import InputError
from ae_core.runs import upload

N = 60


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": np.arange(N), "x": rng.normal(size=N), "y": rng.normal(size=N),
        "kind": pd.Categorical(rng.choice(["a", "b"], N)), "ok": rng.random(N) > 0.5,
        "when": pd.date_range("2024-01-01", periods=N, freq="13h"),
    })


def test_a_parquet_file_is_prepared_like_a_csv_with_its_types(tmp_path):
    path = tmp_path / "t.parquet"
    frame().to_parquet(path)
    t = prepare_table(path)
    assert t.report.encoding == "Parquet" and "(a Parquet file)" in t.report.summary_lines()[0]
    assert dict(t.report.dropped)["id"].startswith("id-like")
    assert {"x", "y", "ok", "kind=a", "when (days since 1970)", "when: hour"} <= set(t.feature_names)
    same = prepare_table(path.read_bytes())  # by content, not by name
    np.testing.assert_array_equal(same.X, t.X)


def test_parquet_is_recognised_by_content_whatever_its_name(tmp_path):
    path = tmp_path / "export.csv"
    frame().to_parquet(path)
    assert prepare_table(path).report.encoding == "Parquet"


def test_a_damaged_parquet_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(InputError, match="cannot read the Parquet file"):
        prepare_table(path)


def test_an_uploaded_parquet_file_is_stored_as_parquet_and_trains_as_a_table(tmp_path):
    path = tmp_path / "t.parquet"
    frame().to_parquet(path)
    stored = upload.save_upload(tmp_path / "store", "sales.parquet", path.read_bytes())
    assert stored.suffix == ".parquet" and stored.parent.name == "uploads"
    ds = load_dataset("csv", path=str(stored), label_column="kind")
    assert ds.n_samples == N and ds.class_names == ("a", "b")
    assert upload.quick_config(stored, "kind", "sales")["dataset"]["options"]["path"] == str(stored)
