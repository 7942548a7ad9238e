"""Big tables: a sample trains, every row is encoded in chunks with the sample's decisions (CSV and Parquet)."""

import numpy as np
import pandas as pd
import pytest

from ae_core.cli import main
from ae_core.data.large_table import open_large_table
from ae_core.errors import InputError

N = 600


def messy(n=N, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "id": np.arange(n), "x": rng.normal(size=n), "y": rng.normal(size=n).round(3),
        "amount": [f"${v:,.2f}" for v in rng.uniform(0, 5000, n)], "kind": rng.choice(["a", "b", "c"], n),
        "when": pd.date_range("2024-01-01", periods=n, freq="7h").strftime("%Y-%m-%d %H:%M"),
        "label": rng.choice(["p", "q"], n),
    })
    df.loc[5, ["x", "y", "amount", "kind", "when"]] = np.nan  # a row with nothing to learn from
    df.loc[9, "x"] = np.nan
    return df


def write(df: pd.DataFrame, path):
    df.to_parquet(path) if str(path).endswith(".parquet") else df.to_csv(path, index=False)
    return path


@pytest.fixture(params=["csv", "parquet"])
def table_file(request, tmp_path):
    return write(messy(), tmp_path / f"t.{request.param}")


def all_chunks(table, chunk_rows):
    chunks = list(table.chunks(chunk_rows))
    return (np.vstack([c.X for c in chunks]), np.concatenate([c.row_index for c in chunks]),
            None if chunks[0].labels is None else np.concatenate([c.labels for c in chunks]))


@pytest.mark.parametrize("stream_bytes", [0, 2**40], ids=["streamed", "read-whole"])
def test_a_big_table_is_sampled_for_training_and_says_so(table_file, stream_bytes):
    t = open_large_table(table_file, label_column="label", sample_rows=100, chunk_rows=64, stream_bytes=stream_bytes)
    assert t.sampled and len(t.sample.X) == 100
    assert t.training_note.startswith("trained on 100 of ")
    assert any(n.startswith("trained on 100 of ") and "every row is encoded" in n for n in t.sample.report.notes)
    assert dict(t.sample.report.dropped)["id"].startswith("id-like")  # a row counter is not a feature, sampled or not


@pytest.mark.parametrize("stream_bytes", [0, 2**40], ids=["streamed", "read-whole"])
def test_every_kept_row_is_encoded_with_the_samples_features(table_file, stream_bytes):
    t = open_large_table(table_file, label_column="label", sample_rows=100, chunk_rows=64, stream_bytes=stream_bytes)
    X, rows, labels = all_chunks(t, 70)
    assert rows.tolist() == [r for r in range(N) if r != 5]  # row 5 has no values: dropped, as from a whole file
    assert X.shape == (N - 1, len(t.sample.feature_names))
    at = {r: i for i, r in enumerate(rows)}
    same = [at[r] for r in t.sample.row_index]
    np.testing.assert_array_equal(X[same], t.sample.X)  # the sample's rows come out exactly as trained on
    np.testing.assert_array_equal(labels[same], t.sample.labels)
    assert {"amount", "kind=a", "when (days since 1970)", "when: hour"} <= set(t.sample.feature_names)


def test_streamed_features_equal_a_whole_file_read(tmp_path):
    path = write(messy(), tmp_path / "t.csv")
    whole = open_large_table(path, label_column="label", sample_rows=N, stream_bytes=2**40)
    streamed = open_large_table(path, label_column="label", sample_rows=N, chunk_rows=50, stream_bytes=0)
    assert not whole.sampled and not streamed.sampled
    X, rows, _ = all_chunks(streamed, 45)
    np.testing.assert_array_equal(rows, whole.sample.row_index)
    np.testing.assert_allclose(X, whole.sample.X, rtol=1e-6)


def test_a_category_never_seen_in_the_sample_is_all_zeros(tmp_path):
    df = messy()
    df.loc[N - 1, "kind"] = "new"
    t = open_large_table(write(df, tmp_path / "t.csv"), sample_rows=100, stream_bytes=0, random_state=0)
    assert N - 1 not in t.sample.row_index and "kind=new" not in t.sample.feature_names
    X, rows, _ = all_chunks(t, 100)
    kinds = [i for i, f in enumerate(t.sample.feature_names) if f.startswith("kind=")]
    assert rows[-1] == N - 1 and (X[-1, kinds] == 0).all()


def test_a_streamed_table_too_short_to_train_is_refused(tmp_path):
    path = write(messy(n=8), tmp_path / "t.csv")
    with pytest.raises(InputError, match="at least 10"):
        open_large_table(path, stream_bytes=0)


def test_embed_writes_every_row_when_it_trained_on_a_sample(tmp_path, capsys):
    src, out = write(messy(), tmp_path / "t.parquet"), tmp_path / "out.csv"
    rc = main(["embed", str(src), "--out", str(out), "--label-column", "label", "--sample-rows", "200",
               "--epochs", "2"])
    assert rc == 0
    assert "trained on 200 of 599 rows" in capsys.readouterr().err  # 599 kept: row 5 is empty
    df = pd.read_csv(out)
    assert df["row"].tolist() == [r for r in range(N) if r != 5]
    assert df["label"].isin(["p", "q"]).all() and np.isfinite(df[["latent_1", "latent_2"]].to_numpy()).all()


def test_a_big_upload_trains_on_a_streamed_sample(tmp_path, monkeypatch):
    from ae_core.data import large_table
    from ae_core.data.registry import load_dataset

    monkeypatch.setattr(large_table, "STREAM_BYTES", 0)  # every file counts as big
    ds = load_dataset("csv", path=str(write(messy(), tmp_path / "t.csv")), label_column="label", max_rows=150)
    assert ds.n_samples == 150 and ds.class_names == ("p", "q")
    assert any(n.startswith("trained on 150 of 600 rows") for n in ds.report.notes)


def test_a_sampled_upload_run_downloads_every_row_with_the_codes_it_trained(store, tmp_path):
    from ae_core.runs import upload
    from ae_core.runs.loaded import load_run
    from tests.conftest import train_tiny

    path = write(messy(), tmp_path / "t.csv")
    run_id = train_tiny(store, "csv", dataset_options={"path": str(path), "label_column": "label", "max_rows": 200})
    run = load_run(store, run_id)
    assert upload.trained_on_a_sample(run) and run.dataset.n_samples == 200
    out = pd.read_csv(__import__("io").BytesIO(upload.every_row_csv(run, chunk_rows=128)))
    assert out["row"].tolist() == [r for r in range(N) if r != 5] and set(out["label"]) == {"p", "q"}
    trained = out.set_index("row").loc[run.dataset.row_index, ["ae_1", "ae_2"]].to_numpy()
    np.testing.assert_allclose(trained, run.latent[:, :2], atol=1e-4)  # the same model, the same codes
