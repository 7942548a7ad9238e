"""Tests for ae_core.runs.upload: storing an uploaded CSV, checking it, the quick run, the export and the hover text."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from ae_core.analysis.projection import cached_projection
from ae_core.errors import InputError
from ae_core.runs import upload
from ae_core.runs.execute import execute_run
from ae_core.runs.loaded import load_run
from ae_core.runs.store import RunStore


def table_csv(n: int = 120, seed: int = 0) -> bytes:
    """A realistic little table: an id, three numbers, money as text, a class, a text column with traps."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 3, n)
    kind = np.array(["alpha", "beta", "gamma"])[(t // 1).astype(int)]
    notes = np.array(["=1+1", "@SUM(A1)", "<b>bold</b> & co", "plain", "-minus", "+plus"], dtype=object)
    frame = pd.DataFrame({
        "id": np.arange(n), "a": np.sin(t), "b": np.cos(t) + 0.01 * rng.normal(size=n), "c": t ** 2,
        "price": [f"${v:,.0f}" for v in rng.uniform(500, 5000, n)], "kind": kind,
        "note": [f"{notes[i % len(notes)]} {i}" for i in range(n)],
    })
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    """A finished quick run on `table_csv` with label 'kind' (5 epochs), its store and the kept bytes."""
    root = tmp_path_factory.mktemp("upload") / "runs"
    store = RunStore(root)
    data = table_csv()
    path = upload.save_upload(root, "my table.csv", data)
    config = upload.quick_config(path, "kind", "my table")
    config["train"]["epochs"] = 5
    rec = store.create(config)
    assert execute_run(store, rec.id) == "done", store.get(rec.id).error
    return load_run(store, rec.id), data


# ---- storing -----------------------------------------------------------------------------------


def test_save_upload_is_content_addressed_under_uploads(tmp_path):
    data = table_csv()
    path = upload.save_upload(tmp_path, "sales.csv", data)
    assert path == tmp_path / "uploads" / f"{hashlib.sha256(data).hexdigest()}.csv"
    assert path.read_bytes() == data
    assert upload.save_upload(tmp_path, "other name.csv", data) == path  # same bytes, same file
    assert sorted(p.suffix for p in path.parent.iterdir()) == [".csv", ".json"]  # no temp files left


@pytest.mark.parametrize("name", ["../../escape.csv", "/etc/passwd", "..\\..\\win.csv", "a/../../b.csv", "\x00.csv"],
                         ids=["dotdot", "absolute", "backslash", "nested", "nul"])
def test_save_upload_never_uses_the_file_name_as_a_path(tmp_path, name):
    root = tmp_path / "runs"
    path = upload.save_upload(root, name, b"a,b\n1,2\n")
    assert path.parent == root / "uploads"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [path.name, path.with_suffix(".json").name])
    meta = json.loads(path.with_suffix(".json").read_text())
    assert "/" not in meta["name"] and "\\" not in meta["name"] and ".." not in meta["name"]


def test_save_upload_rejects_text():
    with pytest.raises(TypeError, match="bytes"):
        upload.save_upload("/tmp", "x.csv", "a,b\n1,2\n")


@pytest.mark.parametrize("name, shown", [("sales.csv", "sales"), ("../../etc/passwd", "passwd"),
                                         ("C:\\Users\\me\\Q1 [final].tsv", "Q1 _final"), ("", "upload"),
                                         ("<script>x</script>.csv", "script"), ("...", "upload"),
                                         ("Café (2024).csv", "Café (2024)")])
def test_display_name_is_plain_text(name, shown):
    assert upload.display_name(name) == shown


# ---- choosing: the person's upload, a shipped sample or a table on the server ---------------------


class _Upload:
    """What Streamlit's file_uploader returns, as far as the page reads it."""

    name, file_id = "mine.csv", "upload-1"

    def getvalue(self) -> bytes:
        return table_csv()


@pytest.fixture
def server_tables(tmp_path, monkeypatch):
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "big.csv").write_bytes(table_csv())
    monkeypatch.setenv("AE_DATA_DIR", str(folder))
    return folder


def test_the_persons_upload_wins_over_a_sample_and_a_server_table(server_tables):
    mine = _Upload()
    chosen = upload.choose_file(mine, "wine.csv", "big.csv")
    assert chosen.file is mine and chosen.kind == "table" and chosen.error is None
    assert chosen.in_place is None  # its bytes are stored first
    assert chosen.label_in(("a", "kind")) is None  # an upload comes with no label


def test_a_sample_wins_over_a_server_table_and_brings_its_label(server_tables):
    chosen = upload.choose_file(None, "wine.csv", "big.csv")
    assert isinstance(chosen.file, upload.SampleFile) and chosen.kind == "table" and chosen.in_place is None
    assert chosen.file.getvalue() == (upload.SAMPLES_DIR / "wine.csv").read_bytes()
    assert chosen.label_in(("alcohol", "cultivar")) == "cultivar"
    assert chosen.label_in(("alcohol",)) is None  # a column the file does not have is not suggested


def test_a_zip_sample_is_images():
    assert upload.choose_file(sample="digits-images.zip").kind == "images"


def test_a_server_table_is_read_where_it_lies(server_tables):
    chosen = upload.choose_file(server="big.csv")
    assert isinstance(chosen.file, upload.ServerFile) and chosen.kind == "table"
    assert chosen.in_place == (server_tables / "big.csv").resolve()
    assert chosen.file.file_id != upload.choose_file(sample="wine.csv").file.file_id


@pytest.mark.parametrize("sample, server, match", [
    ("nope.csv", None, "no sample named 'nope.csv'"),
    (None, "../outside.csv", "outside the server's data folder"),
    (None, "absent.csv", "no file 'absent.csv'"),
], ids=["unknown-sample", "outside-the-folder", "missing-table"])
def test_a_file_that_cannot_be_had_is_an_error_and_no_choice(server_tables, sample, server, match):
    (server_tables.parent / "outside.csv").write_bytes(table_csv())
    chosen = upload.choose_file(None, sample, server)
    assert chosen.file is None and chosen.kind is None and chosen.label_in(("a",)) is None
    assert match in chosen.error


def test_nothing_chosen_is_an_empty_choice():
    chosen = upload.choose_file()
    assert chosen.file is None and chosen.kind is None and chosen.error is None and chosen.in_place is None


# ---- checking ----------------------------------------------------------------------------------


def test_inspect_upload_reports_what_preparation_did(tmp_path):
    path = upload.save_upload(tmp_path, "t.csv", table_csv())
    found = upload.inspect_upload(path, "kind")
    assert found.error is None
    assert found.columns == ("id", "a", "b", "c", "price", "kind", "note")
    assert found.report.label_column == "kind" and found.report.n_rows_kept == 120
    assert len(found.preview) == 10
    table = upload.column_table(found.report, found.columns).set_index("column")
    assert table.loc["id", "used as"] == "dropped" and "id-like" in table.loc["id", "why / how"]
    assert table.loc["a", "used as"] == "feature"
    assert table.loc["price", "used as"] == "feature (converted)" and "$" in table.loc["price", "why / how"]
    assert table.loc["kind", "used as"].startswith("label")
    assert table.loc["note", "used as"] == "dropped"
    overview = dict(upload.report_overview(found.report))
    assert overview["Rows read"] == "120" and overview["Features"] == "4" and overview["Delimiter"] == "comma"


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", table_csv().decode())
    return buf.getvalue()


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"\x00\x01\x02\x03" * 100, "binary"),
    (_zip_bytes(), "zip archive"),
    (gzip.compress(table_csv()), "gzip"),
    (b"x\n" + b"".join(b"%d\n" % i for i in range(50)), "at least 2 numeric columns"),
    (b"a,b\n1,2\n2,1\n3,5\n4,4\n", "at least 10"),
], ids=["empty", "binary", "zip-renamed", "gzip", "one-numeric-column", "too-few-rows"])
def test_inspect_upload_turns_bad_files_into_a_message(tmp_path, data, match):
    found = upload.inspect_upload(upload.save_upload(tmp_path, "bad.csv", data))
    assert found.report is None and found.preview is None
    assert match in found.error


def test_inspect_upload_keeps_columns_when_only_the_label_choice_fails(tmp_path):
    data = b"a,b,k\n" + b"".join(b"%d,%d,x\n" % (i % 7, i * 3 % 5) for i in range(30))
    path = upload.save_upload(tmp_path, "t.csv", data)
    assert upload.inspect_upload(path).error is None
    found = upload.inspect_upload(path, label_column="b")
    assert "at least 2 numeric columns" in found.error
    assert found.columns == ("a", "b", "k")  # so the page can still offer another label column


# ---- the quick run -----------------------------------------------------------------------------


def test_quick_config_is_a_vanilla_2d_run_with_a_small_budget(tmp_path):
    path = upload.save_upload(tmp_path, "t.csv", table_csv())
    config = upload.quick_config(path, "kind", "t")
    assert config["variant"] == "vanilla" and config["model"]["latent_dim"] == 2
    assert config["train"]["epochs"] == upload.QUICK_TRAIN["epochs"]
    assert config["train"]["max_seconds"] == upload.QUICK_TRAIN["max_seconds"]
    assert config["dataset"] == {"name": "csv", "display": "t",
                                 "options": {"path": str(path), "label_column": "kind", "display_name": "t"}}
    json.dumps(config)  # stored as JSON with the run


def test_quick_config_uses_a_1d_code_for_two_features(tmp_path):
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i % 7, i * 3 % 5) for i in range(30))
    config = upload.quick_config(upload.save_upload(tmp_path, "t.csv", data))
    assert config["model"]["latent_dim"] == 1


def test_quick_config_raises_input_error_for_a_bad_file(tmp_path):
    with pytest.raises(InputError, match="zip archive"):
        upload.quick_config(upload.save_upload(tmp_path, "t.csv", _zip_bytes()))


# ---- the result ------------------------------------------------------------------------------


def test_joined_coordinates_has_one_line_per_kept_row_with_its_row_number(csv_run):
    run, data = csv_run
    out = upload.joined_coordinates(run)
    original = pd.read_csv(io.BytesIO(data))
    assert list(out.columns[:5]) == ["row", "ae_1", "ae_2", "reconstruction_error", "split"]
    assert list(out.columns[5:]) == list(original.columns)
    assert len(out) == len(original)
    np.testing.assert_array_equal(out["row"], np.arange(len(original)))
    np.testing.assert_array_equal(out[["ae_1", "ae_2"]].to_numpy(), run.latent)
    pd.testing.assert_series_equal(out["note"], original["note"].astype(out["note"].dtype), check_names=False)
    assert set(out["split"]) == {"train", "validation", "test"}


def test_joined_coordinates_keeps_file_row_numbers_when_rows_are_skipped(tmp_path):
    lines = ["a,b,c"] + [f"{i % 7},{i * 3 % 5},{i % 4}" for i in range(20)]
    lines[6] = ",,"  # data row 5: nothing to learn from, dropped
    root = tmp_path / "runs"
    store = RunStore(root)
    config = upload.quick_config(upload.save_upload(root, "t.csv", "\n".join(lines).encode()))
    config["train"]["epochs"] = 2
    rec = store.create(config)
    assert execute_run(store, rec.id) == "done"
    out = upload.joined_coordinates(load_run(store, rec.id))
    assert 5 not in set(out["row"]) and len(out) == 19 and out["row"].iloc[-1] == 19


def test_joined_coordinates_adds_input_projections_once_computed(csv_run):
    run, _ = csv_run
    assert "pca_1" not in upload.joined_coordinates(run)
    cached_projection(run.store, run.id, run.X, "pca", 2, source="input")
    out = upload.joined_coordinates(run)
    assert list(out.columns[1:5]) == ["ae_1", "ae_2", "pca_1", "pca_2"]
    assert np.isfinite(out[["pca_1", "pca_2"]].to_numpy()).all()


def test_coordinates_csv_defuses_formulas_and_round_trips(csv_run):
    run, data = csv_run
    back = pd.read_csv(io.BytesIO(upload.coordinates_csv(run)))
    assert len(back) == len(pd.read_csv(io.BytesIO(data)))
    starts = back["note"].str[:1]
    assert not starts.isin(["=", "+", "-", "@"]).any()
    assert (back["note"] == "'=1+1 0").any() and (back["note"] == "'-minus 4").any()
    assert (back["note"] == "<b>bold</b> & co 2").any()  # CSV keeps the text as it was
    assert np.isfinite(back[["ae_1", "ae_2"]].to_numpy()).all()


def test_joined_coordinates_renames_a_clashing_file_column():
    class FakeDataset:
        n_samples, row_index = 3, np.array([0, 2, 3])
        columns = pd.DataFrame({"row": ["x", "y", "z"], "v": [1, 2, 3]})

    class FakeStore:
        def read_array(self, run_id, name):
            return None

    class FakeRun:
        id, store, dataset = "0" * 12, FakeStore(), FakeDataset()
        latent, recon_error, split = np.zeros((3, 2)), np.ones(3), np.array([0, 1, 2])

    out = upload.joined_coordinates(FakeRun())
    assert list(out.columns) == ["row", "ae_1", "ae_2", "reconstruction_error", "split", "row (from file)", "v"]
    assert out["row"].tolist() == [0, 2, 3]


# ---- drawing -----------------------------------------------------------------------------------


def test_hover_columns_start_with_the_row_number_then_the_files_values(csv_run):
    run, _ = csv_run
    cols, note = upload.hover_columns(run)
    assert len(cols) == run.dataset.n_samples and note == ""
    assert list(cols.columns[:3]) == ["row", "id", "a"]
    assert cols["row"].iloc[3] == 3 and (cols["id"] == 3).any()


def test_hover_columns_shows_at_most_max_cols_and_says_how_many_more():
    class FakeDataset:
        n_samples, row_index = 1, np.array([7])
        columns = pd.DataFrame({f"c{i}": ["v"] for i in range(12)} | {"row": ["r"]})

    class FakeRun:
        dataset = FakeDataset()

    cols, note = upload.hover_columns(FakeRun(), max_cols=3)
    assert list(cols.columns) == ["row", "c0", "c1", "c2"] and cols["row"].tolist() == [7]
    assert note == "… and 10 more column(s)"
    cols, _ = upload.hover_columns(FakeRun(), max_cols=20)
    assert cols.columns[-1] == "row (from file)"  # a file's own "row" column does not hide ours


def test_scatter_tooltip_shows_file_values_escaped(csv_run):
    from ae_core.figures import common as plots
    run, _ = csv_run
    cols, note = upload.hover_columns(run)
    colour, _kind = upload.colour_values(run, "kind")
    fig = plots.latent_scatter(run.latent, colour, hover_columns=cols, hover_digits=6, hover_note=note)
    assert {t.name for t in fig.data} == {"alpha", "beta", "gamma"}
    templates = " ".join(t.hovertemplate for t in fig.data)
    assert "row: %{customdata[0]:d}" in templates
    values = [v for t in fig.data for row in np.asarray(t.customdata, dtype=object).reshape(len(t.x), -1)
              for v in row] + [v for t in fig.data for v in (t.text if t.text is not None else [])]
    assert any("&lt;b&gt;bold" in str(v) for v in values) and not any("<b>" in str(v) for v in values)


def test_colour_values_by_label_and_by_error(csv_run):
    run, _ = csv_run
    assert upload.colour_options(run) == ["kind", upload.RECON]
    values, kind = upload.colour_values(run, "kind")
    assert kind == "category" and set(values) == {"alpha", "beta", "gamma"}
    values, kind = upload.colour_values(run, upload.RECON)
    assert kind == "continuous" and values.shape == (run.dataset.n_samples,) and (values >= 0).all()
    with pytest.raises(InputError, match="cannot colour by"):
        upload.colour_values(run, "nope")
