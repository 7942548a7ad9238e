"""Tests for ae_core.data.tabular: real-world CSV in, finite float32 matrix and report out."""

import gzip
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ae_core.data.tabular import PreparationReport, prepare_table, read_csv
from ae_core.errors import InputError


def make_csv(header, rows, sep=","):
    """CSV text from a header list and row lists (values written as given)."""
    lines = [sep.join(header)] + [sep.join(str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def numeric_rows(n, width=3, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(size=(n, width)), 3).tolist()


BASIC = make_csv(["a", "b", "c"], numeric_rows(20))


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    "data, encoding, delimiter",
    [
        (b"\xef\xbb\xbf" + BASIC.encode(), "utf-8-sig", ","),
        (BASIC.replace(",", ";").encode(), "utf-8", ";"),
        (BASIC.replace(",", "\t").encode(), "utf-8", "\t"),
        (BASIC.replace(",", "|").encode(), "utf-8", "|"),
        (BASIC.encode("utf-16"), "utf-16", ","),
    ],
    ids=["utf8-bom", "semicolon", "tab", "pipe", "utf16-bom"],
)
def test_read_csv_detects_encoding_and_delimiter(data, encoding, delimiter):
    frame, enc, sep, _ = read_csv(data)
    assert (enc, sep) == (encoding, delimiter)
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame.shape == (20, 3)


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_read_csv_decodes_western_legacy_encodings(encoding):
    text = "Café;Preis;Größe\n" + "".join(f"Crème brûlée;{i},50;{i}\n" for i in range(12))
    frame, enc, sep, _ = read_csv(text.encode(encoding))
    assert sep == ";"
    assert enc in ("cp1252", "latin-1")
    assert list(frame.columns) == ["Café", "Preis", "Größe"]
    assert frame["Café"].iloc[0] == "Crème brûlée"


def test_read_csv_decodes_euro_sign_in_cp1252():
    frame, enc, _, _ = read_csv("x;€ price\n1;2\n".encode("cp1252"))
    assert enc == "cp1252"
    assert list(frame.columns) == ["x", "€ price"]


def test_read_csv_keeps_quoted_newlines_in_one_field():
    frame, _, _, notes = read_csv(b'a,b,note\n1,2,"two\nlines"\n3,4,plain\n')
    assert frame["note"].tolist() == ["two\nlines", "plain"]
    assert frame.index.tolist() == [0, 1]
    assert notes == []


def test_read_csv_skips_ragged_lines_and_keeps_row_numbers():
    frame, _, _, notes = read_csv(b"a,b\n1,2\n3,4,5\n6,7\n")
    assert frame.index.tolist() == [0, 2]  # data row 1 was skipped
    assert any("1 ragged line" in n for n in notes)


def test_read_csv_names_empty_and_duplicate_headers():
    frame, _, _, notes = read_csv(b"a,,a, b \n1,2,3,4\n")
    assert list(frame.columns) == ["a", "column_2", "a.1", "b"]
    assert any("empty header" in n for n in notes)
    assert any("duplicate header" in n for n in notes)


def test_read_csv_reads_a_headerless_numeric_file_as_data():
    frame, _, _, notes = read_csv(b"1.5,2.5\n3.5,4.5\n")
    assert list(frame.columns) == ["column_1", "column_2"]
    assert len(frame) == 2
    assert any("not a header" in n for n in notes)


def test_read_csv_accepts_a_file_object_and_a_path(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(BASIC)
    assert read_csv(path)[0].shape == read_csv(io.BytesIO(BASIC.encode()))[0].shape == (20, 3)


def _zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("sheet.xml", "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"a,b,c\n", "no data rows"),
        (_zip_bytes(), "zip archive.*CSV"),
        (gzip.compress(BASIC.encode()), "gzip.*CSV"),
        (bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8)), "binary|not CSV"),
        (b"a,b\n\x01\x02\x03\x04,\x05\x06\x07\x08\n" * 20, "binary"),
    ],
    ids=["empty", "blank-lines", "header-only", "zip-renamed", "gzip-renamed", "random-bytes", "control-chars"],
)
def test_read_csv_rejects_unusable_input(data, match):
    with pytest.raises(InputError, match=match):
        read_csv(data)


def test_read_csv_rejects_missing_path(tmp_path):
    with pytest.raises(InputError, match="No file at"):
        read_csv(tmp_path / "nope.csv")


def test_read_csv_enforces_max_bytes():
    with pytest.raises(InputError, match="limit"):
        read_csv(BASIC.encode(), max_bytes=10)


# --------------------------------------------------------------------------- preparing


@pytest.mark.parametrize(
    "values, expected",
    [
        (['"1,234"', '"2,000.5"'], [1234.0, 2000.5]),
        (["$5", '"$1,000"'], [5.0, 1000.0]),
        (["12%", "7.5%"], [12.0, 7.5]),
        (['"1 234"', '"8"'], [1234.0, 8.0]),
        (["(12)", "3"], [-12.0, 3.0]),
        (["€3.50", "€4"], [3.5, 4.0]),
    ],
    ids=["thousands", "currency", "percent", "space-grouping", "accounting-negative", "euro"],
)
def test_prepare_table_parses_numeric_text(values, expected):
    rows = [[values[i % 2], i, i * 7 % 5] for i in range(12)]
    table = prepare_table(make_csv(["x", "y", "z"], rows).encode())
    assert table.X[:2, 0].tolist() == pytest.approx(expected)
    assert [c for c, _ in table.report.converted] == ["x"]


def test_prepare_table_parses_european_decimals_in_semicolon_files():
    rows = [["1.234,5" if i % 2 else "2,25", i % 4, i * 7 % 5] for i in range(12)]
    table = prepare_table(make_csv(["x", "y", "z"], rows, sep=";").encode())
    assert table.X[:2, 0].tolist() == pytest.approx([2.25, 1234.5])
    assert "decimal commas" in dict(table.report.converted)["x"]


def test_prepare_table_drops_useless_columns_with_reasons():
    rows = [[i, f"u{i:04d}", 5, "", i % 3, i * 7 % 5, f"word {i} and more"] for i in range(15)]
    table = prepare_table(make_csv(["id", "code", "const", "empty", "a", "b", "text"], rows).encode())
    assert table.feature_names == ("a", "b")
    reasons = dict(table.report.dropped)
    assert reasons["id"] == "id-like: unique integer per row"
    assert reasons["code"].startswith("id-like")
    assert reasons["const"].startswith("constant")
    assert reasons["empty"].startswith("empty")
    assert reasons["text"].startswith("free text")


def test_prepare_table_drops_free_text_with_many_repeated_values():
    rows = [[f"w{i % 11}", i % 3, i * 7 % 5] for i in range(30)]
    table = prepare_table(make_csv(["t", "a", "b"], rows).encode())
    assert dict(table.report.dropped)["t"].startswith("free text: 11 distinct")


def test_prepare_table_one_hot_encodes_small_categoricals():
    rows = [[["red", "green", "blue"][i % 3], i % 4, i * 7 % 5] for i in range(12)]
    table = prepare_table(make_csv(["colour", "a", "b"], rows).encode())
    assert table.feature_names == ("colour=blue", "colour=green", "colour=red", "a", "b")
    assert table.X[:3, :3].tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0]]
    assert "one-hot" in dict(table.report.converted)["colour"]


def test_prepare_table_keeps_label_column_out_of_features():
    rows = [[["cat", "dog"][i % 2], i % 4, i * 7 % 5] for i in range(12)]
    table = prepare_table(make_csv(["kind", "a", "b"], rows).encode(), label_column="kind")
    assert table.feature_names == ("a", "b")
    assert table.labels.dtype == object
    assert table.labels[:2].tolist() == ["cat", "dog"]
    assert table.report.label_column == "kind"


def test_prepare_table_numeric_label_becomes_integer_strings():
    rows = [[i % 3, i % 4, i * 7 % 5] for i in range(12)]
    table = prepare_table(make_csv(["y", "a", "b"], rows).encode(), label_column="y")
    assert table.labels[:3].tolist() == ["0", "1", "2"]


def test_prepare_table_rejects_missing_label_column():
    with pytest.raises(InputError, match=r"Label column 'nope' is not in the file.*'a', 'b', 'c'"):
        prepare_table(BASIC.encode(), label_column="nope")


def test_prepare_table_rejects_a_single_numeric_column():
    rows = [[i % 7 + 20, f"name {i}"] for i in range(12)]
    with pytest.raises(InputError, match=r"at least 2 numeric columns; found 1 \('age'\).*'name'"):
        prepare_table(make_csv(["age", "name"], rows).encode())


def test_prepare_table_rejects_fewer_than_10_rows():
    with pytest.raises(InputError, match="at least 10"):
        prepare_table(make_csv(["a", "b"], numeric_rows(5, 2)).encode())


def test_prepare_table_blanks_infinite_and_absurd_values():
    rows = numeric_rows(12)
    rows[0][0], rows[1][1], rows[2][2] = "inf", "-inf", "1e308"
    table = prepare_table(make_csv(["a", "b", "c"], rows).encode())
    assert table.X.dtype == np.float32
    assert np.isnan(table.X).sum() == table.report.n_imputed == 3
    assert np.isfinite(table.X[~np.isnan(table.X)]).all()
    assert any("1e30" in n for n in table.report.notes)


def test_prepare_table_drops_rows_without_any_feature_value():
    text = make_csv(["a", "b"], numeric_rows(12, 2)) + ",\n\n" + "1,2\n"
    table = prepare_table(text.encode())
    assert table.row_index.tolist() == list(range(12)) + [14]
    assert any("2 row(s) with no feature values" in n for n in table.report.notes)


def test_prepare_table_samples_down_to_max_rows_in_file_order():
    table = prepare_table(make_csv(["a", "b"], numeric_rows(300, 2)).encode(), max_rows=50, random_state=1)
    assert table.X.shape == (50, 2)
    assert (np.diff(table.row_index) > 0).all()
    assert table.report.n_rows_read == 300
    assert any("sampled 50 of 300 rows" in n for n in table.report.notes)


def test_prepare_table_row_index_and_frame_match_the_file():
    table = prepare_table(BASIC.encode())
    expected = pd.read_csv(io.StringIO(BASIC))
    assert table.row_index.dtype == np.int64
    np.testing.assert_allclose(table.X, expected.to_numpy(np.float32))
    assert table.frame.index.tolist() == table.row_index.tolist()


def test_prepare_table_handles_5000_columns():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(20, 5000)), columns=[f"f{i}" for i in range(5000)])
    table = prepare_table(frame.to_csv(index=False).encode())
    assert table.X.shape == (20, 5000)


def test_prepare_table_accepts_a_dataframe():
    frame = pd.DataFrame({"a": np.arange(12) % 5, "b": np.arange(12) * 0.5 % 2})
    table = prepare_table(frame)
    assert table.report.encoding == "n/a"
    assert table.row_index.tolist() == list(range(12))


def test_report_is_json_able_and_speaks_plain_english():
    rows = [[i, f'"${i * 3 % 7},000"', i % 3] for i in range(12)]
    report = prepare_table(make_csv(["id", "price", "a"], rows).encode()).report
    assert isinstance(report, PreparationReport)
    assert json.loads(json.dumps(report.to_dict()))["dropped"] == [["id", "id-like: unique integer per row"]]
    lines = report.summary_lines()
    assert lines[0] == "Read 12 rows x 3 columns (encoding utf-8, delimiter: comma)."
    assert "Dropped 'id': id-like: unique integer per row." in lines


# --------------------------------------------------------------------------- property

_cell = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "NA", "$5", "1,234", "12%", "(3)", "€3,50", '"x"', '"a\nb"', "1e308", "é", "日本"]),
    st.text(max_size=6),
)


@st.composite
def csv_ish(draw):
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 5))
    n = draw(st.integers(0, 25))
    lines = [sep.join(draw(st.lists(_cell, min_size=width - 1, max_size=width + 1))) for _ in range(n + 1)]
    text = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    raw = text.encode(encoding, errors="replace")
    return draw(st.sampled_from([raw, raw[: len(raw) // 2], raw + b"\x00junk"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_ish())
def test_prepare_table_returns_finite_matrix_or_raises_input_error(raw):
    try:
        table = prepare_table(raw)
    except InputError:
        return
    X = table.X
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] >= 2 and X.shape[0] >= 10
    assert table.row_index.shape == (X.shape[0],) and (np.diff(table.row_index) > 0).all()
    assert len(table.frame) == X.shape[0] == table.report.n_rows_kept
    filled = np.where(np.isnan(X), np.nanmedian(X, axis=0), X)  # what training does
    assert np.isfinite(filled).all()
    assert np.isnan(X).sum() == table.report.n_imputed
