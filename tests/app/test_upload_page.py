"""The Upload data page (Streamlit AppTest on app_pages/upload.py): empty state, the
report, bad files, Train, and a finished CSV run with its scatter and download."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from ae_core.runs import upload
from ae_core.runs.execute import execute_run
from tests.conftest import app_text, choose_file, upload_page
from tests.runs.test_upload import table_csv
from ui.scatter import unpack


def _upload(at, data: bytes, name: str = "customers.csv"):
    return choose_file(at, data, name, "text/csv")


def scatters(at) -> list:
    """The page's WebGL charts (ui/scatter.js)."""
    return [e for e in at.get("bidi_component") if e.proto.component_name == "ae_scatter"]


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner.csv", "a,b\n1,2\n")
    return buf.getvalue()


def test_empty_state_offers_the_uploader_with_its_limit(store):
    at = upload_page().run()
    assert not at.exception, at.exception
    (box,) = at.file_uploader
    assert box.label.endswith("MB)") and box.allowed_type == [".csv", ".tsv", ".txt", ".parquet", ".zip"]
    assert "Choose a CSV file or a zip of images to start, or try a sample" in app_text(at)
    assert not at.button  # nothing to train yet
    assert "What the two axes mean" in at.expander[0].markdown[0].value


def test_upload_shows_the_preparation_report(store):
    at = _upload(upload_page().run(), table_csv())
    assert _metrics(at)["Rows read"] == "120" and _metrics(at)["Features"] == "7"  # 4 numbers + 3 one-hot
    table = at.dataframe[0].value.set_index("column")
    assert table.loc["id", "used as"] == "dropped" and table.loc["kind", "used as"] == "features (one-hot)"
    assert table.loc["price", "used as"] == "feature (converted)"
    assert at.selectbox[0].options == ["(none)", "id", "a", "b", "c", "price", "kind", "note"]
    assert list(store.root.joinpath("uploads").glob("*.csv"))  # kept content-addressed for the run


def test_choosing_a_label_column_reprepares_without_it(store):
    at = _upload(upload_page().run(), table_csv())
    at.selectbox[0].select("kind").run()
    assert not at.exception, at.exception
    assert _metrics(at)["Features"] == "4"
    assert at.dataframe[0].value.set_index("column").loc["kind", "used as"].startswith("label")


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty"),
    (_zip(), "zip archive"),
    (b"\x00\x01\x02binary" * 50, "binary"),
    (b"x\n" + b"".join(b"%d\n" % i for i in range(50)), "at least 2 numeric columns"),
], ids=["empty", "zip-renamed", "binary", "one-numeric-column"])
def test_bad_file_is_an_error_message_not_a_traceback(store, data, message):
    at = _upload(upload_page().run(), data, "bad.csv")
    assert [e for e in at.error if message in e.value], app_text(at)
    assert "upload_train" not in [b.key for b in at.button]  # nothing to train on
    assert not at.exception


def test_a_label_that_leaves_too_few_features_keeps_the_picker(store):
    data = b"a,b,k\n" + b"".join(b"%d,%d,x\n" % (i % 7, i * 3 % 5) for i in range(30))
    at = _upload(upload_page().run(), data)
    at.selectbox[0].select("b").run()
    assert "at least 2 numeric columns" in at.error[0].value
    at.selectbox[0].select("(none)").run()  # the way back is still there
    assert not at.error and _metrics(at)["Features"] == "2"


def test_train_queues_a_quick_run_and_selects_it(fake_manager, store):
    at = _upload(upload_page().run(), table_csv())
    at.selectbox[0].select("kind").run()
    at.button(key="upload_train").click().run()
    assert not at.exception, at.exception
    (rec,) = store.list()
    assert rec.status == "queued" and upload.is_upload_run(rec) and rec.dataset == "customers"
    assert rec.config["dataset"]["options"]["label_column"] == "kind"
    assert at.query_params["run"] == rec.id  # the URL names the run: a link opens it
    assert "Queued" in app_text(at)  # the live panel

    # The run finishes (here in the foreground); the next rerun draws the result.
    assert execute_run(store, rec.id) == "done"
    at.run()
    assert not at.exception, at.exception
    assert len(scatters(at)) == 2
    assert at.get("download_button")


@pytest.fixture
def finished_csv_run(store):
    path = upload.save_upload(store.root, "customers.csv", table_csv())
    config = upload.quick_config(path, "kind", "customers")
    config["train"]["epochs"] = 3
    rec = store.create(config)
    assert execute_run(store, rec.id) == "done"
    return rec.id


def test_finished_run_from_the_url_shows_code_pca_and_download(finished_csv_run):
    at = upload_page()
    at.query_params["run"] = finished_csv_run
    at.run()
    assert not at.exception, at.exception
    assert "Choose a CSV file or a zip of images to start, or try a sample" in app_text(at)  # the uploader is empty, the result is still shown
    assert "PCA's at the same code size" in app_text(at)
    assert [unpack(e.proto.bytes)[0]["title"] for e in scatters(at)] == ["Autoencoder code (2-D)", "PCA of the input (2-D)"]
    assert at.selectbox(key=f"upload_colour_{finished_csv_run}").options == ["kind", upload.RECON]
    at.selectbox(key=f"upload_colour_{finished_csv_run}").select(upload.RECON).run()
    assert not at.exception, at.exception
    (download,) = at.get("download_button")
    assert "Download coordinates" in download.proto.label


def test_umap_waits_for_a_click(finished_csv_run):
    at = upload_page()
    at.query_params["run"] = finished_csv_run
    at.run()
    at.button_group(key=f"upload_method_{finished_csv_run}").set_value("UMAP").run()
    assert not at.exception, at.exception
    assert at.button(key=f"upload_umap_{finished_csv_run}")  # nothing slow happens until asked
    assert len(scatters(at)) == 1


def test_a_lasso_on_the_result_lists_those_rows_of_the_file(finished_csv_run, store):
    """The Upload result is the Latent page's WebGL scatter: a selection (what the browser sends after a lasso)
    lists the chosen rows, with their row numbers in the file and their columns."""
    at = upload_page()
    at.query_params["run"] = finished_csv_run
    at.session_state[f"upload_code_{finished_csv_run}"] = {"selection": {"rows": [0, 2, 5]}}
    at.run()
    assert not at.exception, at.exception
    assert "3 selected" in [h.value for h in at.subheader]
    meta, cols = unpack(scatters(at)[0].proto.bytes)
    assert meta["selected"] == [0, 2, 5] and [h["title"] for h in meta["hover"]][0] == "row"
    assert len(at.dataframe[-1].value) == 3


def test_coordinates_csv_matches_the_download_contract(finished_csv_run, store):
    from ae_core.runs.loaded import load_run

    out = pd.read_csv(io.BytesIO(upload.coordinates_csv(load_run(store, finished_csv_run))))
    assert len(out) == 120 and list(out.columns[:3]) == ["row", "ae_1", "ae_2"]


def test_a_run_on_a_sample_of_a_big_table_draws_every_row_and_lists_a_selection(store, tmp_path):
    from tests.data.test_large_table import messy, write

    path = write(messy(), tmp_path / "big.csv")
    config = upload.quick_config(path, "label", "big")
    config["dataset"]["options"]["max_rows"] = 200  # a sample of 200 of the 600 rows, as a big file's 100,000
    config["train"]["epochs"] = 2
    rec = store.create(config)
    assert execute_run(store, rec.id) == "done"
    at = upload_page()
    at.query_params["run"] = rec.id
    at.session_state[f"upload_code_all_{rec.id}"] = {"selection": {"rows": [0, 599]}}
    at.run()
    assert not at.exception, at.exception
    meta, cols = unpack(scatters(at)[0].proto.bytes)
    assert meta["n"] == 599 and meta["title"] == "Autoencoder code (2-D), all 599 rows"
    assert meta["colour"]["names"] == ["p", "q"] and cols["row"].max() == 599
    assert unpack(scatters(at)[1].proto.bytes)[0]["n"] == 200  # PCA of the input: the rows trained on
    assert "random sample of 200 of them" in app_text(at)
    assert "2 rows of the file selected" in [h.value for h in at.subheader]
    assert at.dataframe[-1].value["row"].tolist() == [0, 599]
