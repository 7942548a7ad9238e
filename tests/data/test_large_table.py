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


# ---- lines that do not fit the header: counted, streamed or read whole --------------------------


def _ragged_csv(path, header: bool = True):
    """300 rows of a labelled table as a spreadsheet would write it, with two lines of too many fields (data
    rows 5, 100) and two of too few (50, 200), all after the first chunk of 64 rows has begun."""
    rng = np.random.default_rng(0)
    labels = "pq" if header else "01"  # a line of numbers only is read as data, not a header
    lines = [f"{rng.normal():.3f},{rng.normal():.3f},{rng.normal():.3f},{labels[i % 2]}" for i in range(300)]
    lines[5] += ",9"
    lines[100] += ",1,2"
    lines[50] = "1.5,2.5"
    lines[200] = "3.5"
    path.write_text("\n".join((["a,b,c,label"] if header else []) + lines) + "\n")
    return path


@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
@pytest.mark.parametrize("stream_bytes", [0, 2**40], ids=["streamed", "read-whole"])
def test_ragged_and_short_lines_are_counted_and_rows_keep_their_numbers(tmp_path, stream_bytes, header):
    path = _ragged_csv(tmp_path / "r.csv", header)
    label = "label" if header else "column_4"
    t = open_large_table(path, label_column=label, sample_rows=100, chunk_rows=64, stream_bytes=stream_bytes)
    notes = t.sample.report.notes
    assert "2 ragged line(s) skipped (more fields than the header); first at data row 5" in notes
    assert ("2 short line(s) (fewer fields than the header): their missing cells are left empty and imputed; "
            "first at data row 50") in notes
    assert t.n_rows == 298
    _, rows, _ = all_chunks(t, 64)
    assert 5 not in rows and 100 not in rows and {4, 6, 50, 99, 101, 200, 299} <= set(rows) and len(rows) == 298
    assert set(t.sample.row_index) <= set(rows)


def test_streamed_rows_are_numbered_as_a_whole_file_read_numbers_them(tmp_path):
    path = _ragged_csv(tmp_path / "r.csv")
    whole = open_large_table(path, label_column="label", sample_rows=N, stream_bytes=2**40)
    streamed = open_large_table(path, label_column="label", sample_rows=N, chunk_rows=50, stream_bytes=0)
    (Xw, rw, _), (Xs, rs, _) = all_chunks(whole, 64), all_chunks(streamed, 64)
    np.testing.assert_array_equal(rw, rs)
    np.testing.assert_allclose(Xw, Xs, rtol=1e-6, equal_nan=True)
    assert whole.sample.report.notes == streamed.sample.report.notes


def test_undecodable_bytes_past_the_first_lines_are_counted(tmp_path):
    # Past the 256 KB the encoding is guessed from: the chunked reader replaces the bad byte.
    rows = [f"{i % 11},{i % 7}.5,{i % 5}.25,{'pq'[i % 2]}" for i in range(30_000)]
    rows[25_000] = "3,\xff\xfe.5,1.25,p"
    path = tmp_path / "bad.csv"
    path.write_bytes(("a,b,c,label\n" + "\n".join(rows) + "\n").encode("latin-1"))
    raw = path.read_bytes()
    assert raw.index(b"\xff") > 262_144 and b"\xff\xfe.5" in raw
    t = open_large_table(path, label_column="label", sample_rows=1000, stream_bytes=0)
    assert t.sample.report.encoding == "utf-8"
    assert "2 undecodable byte(s) replaced with '\ufffd'" in t.sample.report.notes
    _, numbers, _ = all_chunks(t, 10_000)
    assert 25_000 in numbers and len(numbers) == 30_000  # the row is kept; its cell is missing, then imputed


@pytest.mark.parametrize("stream_bytes", [0, 2**40], ids=["streamed", "read-whole"])
def test_an_unclosed_quote_is_refused_with_what_to_do(tmp_path, stream_bytes):
    path = tmp_path / "q.csv"
    path.write_text("a,b,c\n" + "".join(f"{i},{i},{i}\n" for i in range(40)) + '1,"oops,3\n' + "2,2,2\n" * 5)
    with pytest.raises(InputError, match="unclosed quote"):
        open_large_table(path, stream_bytes=stream_bytes)
