"""The Reconstructions and Compare pages in Streamlit's AppTest.

Each test opens the real app (app.py) on the page under test.
"""

from __future__ import annotations

import pytest

from tests.conftest import app_errors, page_app, page_on_run


def _app(tmp_path, page: str):
    return page_app(page, timeout=60)



@pytest.mark.parametrize("page", ["reconstructions.py", "compare.py"])
def test_empty_store_shows_how_to_start(store, tmp_path, page):
    at = _app(tmp_path, page).run()
    assert not app_errors(at)
    assert "No finished run yet" in at.info[0].value
    assert [el.proto.page for el in at.get("page_link")] == ["train"]  # resolved to the Train page


def test_reconstructions_of_digits_show_images_interpolation_and_compression(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "reconstructions.py")
    at.query_params["run"] = ids["digits"]
    at.run()
    assert not app_errors(at)
    charts = at.get("plotly_chart")
    assert len(charts) >= 3  # originals/reconstructions, interpolation strip, code size vs error
    assert "Train the missing code sizes" in " ".join(b.label for b in at.button)
    assert "64-pixel image is stored as 2 numbers: 32x smaller" in " ".join(m.value for m in at.markdown)
    at.segmented_control(key="recon_how").set_value("worst").run()
    assert not app_errors(at)
    at.segmented_control(key="recon_how").set_value("by class").run()
    at.selectbox(key=f"recon_cls_{ids['digits']}").set_value("3").run()
    assert not app_errors(at)


def test_reconstruction_settings_survive_a_page_visit_and_fit_a_smaller_range(trained_store, tmp_path):
    ids = trained_store[1]
    at = page_on_run("reconstructions.py", ids["digits"])
    at.segmented_control(key="recon_how").set_value("worst").run()
    at.slider(key="recon_n").set_value(11).run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/reconstructions.py").run()
    assert not app_errors(at)
    assert at.segmented_control(key="recon_how").value == "worst" and at.slider(key="recon_n").value == 11
    # A table run shows at most 5 rows: the kept 11 becomes 5 instead of an error.
    at.selectbox(key="recon_run").set_value(ids["outliers"]).run()
    assert not app_errors(at)
    assert at.slider(key="recon_n").value == 5


def test_reconstructions_of_tabular_data_show_tables_and_feature_errors(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "reconstructions.py")
    at.query_params["run"] = ids["outliers"]
    at.run()
    assert not app_errors(at)
    tables = at.dataframe
    assert len(tables) >= 3  # per-row errors, original vs reconstructed, interpolation frames
    assert "row" in tables[0].value.columns and "MSE" in tables[0].value.columns
    assert list(tables[1].value["feature"][:2]) == ["sensor_1", "sensor_2"]
    assert any("reconstruct worst" in m.value for m in at.markdown)
    assert "each row of 12 values" in " ".join(m.value for m in at.markdown)


def test_compare_shows_the_metrics_table_scatters_and_downloads(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "compare.py")
    at.query_params["run"] = ids["digits"]
    at.run()
    assert not app_errors(at)
    assert at.selectbox(key="compare_dataset").value == "digits"
    assert len(at.dataframe) == 1 and len(at.get("plotly_chart")) == 1
    assert len(at.get("download_button")) == 1
    at.selectbox(key="compare_dataset").set_value("outliers").run()
    assert not app_errors(at)
    assert "anomaly AUC" in at.dataframe[0].value.columns
