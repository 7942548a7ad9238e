"""The Denoising and Anomalies pages in Streamlit's AppTest.

Each test opens the real app (app.py) on the page under test.
"""

from __future__ import annotations

import pytest

from tests.conftest import app_errors, app_text, page_app, page_on_run


def _app(tmp_path, page: str):
    return page_app(page, timeout=90)




@pytest.mark.parametrize("page", ["denoising.py", "anomalies.py"])
def test_empty_store_shows_how_to_start(store, tmp_path, page):
    at = _app(tmp_path, page).run()
    assert not app_errors(at)
    assert "No finished runs yet" in at.info[0].value
    assert [el.proto.page for el in at.get("page_link")] == ["train"]
    assert at.expander[0].label == "How this works"


def test_denoising_digits_shows_thumbnails_metrics_and_curve(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "denoising.py")
    at.query_params["run"] = ids["digits"]
    at.run()
    assert not app_errors(at)
    assert "trained on clean inputs only" in app_text(at)
    assert len(at.get("plotly_chart")) == 3  # thumbnails, bars, curve
    table = at.dataframe[0].value
    assert list(table["title"])[:2] == ["noisy input (no denoising)", "this autoencoder"]
    assert {"psnr", "ssim"} <= set(table.columns)
    at.selectbox(key="denoise_kind").set_value("masking").run()
    at.radio(key="denoise_metric").set_value("ssim").run()
    assert not app_errors(at)


def test_denoising_tabular_shows_a_table_of_rows(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "denoising.py")
    at.query_params["run"] = ids["outliers"]
    at.run()
    assert not app_errors(at)
    rows, metrics = at.dataframe[0].value, at.dataframe[1].value
    assert list(rows["version"][:3]) == ["clean", "noisy", "denoised"] and "sensor_1" in rows.columns
    assert "column mean (ignores the input)" in list(metrics["title"]) and "psnr" not in metrics.columns


def test_anomalies_outliers_shows_roc_and_moves_with_the_slider(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "anomalies.py")
    at.query_params["run"] = ids["outliers"]
    at.run()
    assert not app_errors(at)
    assert "How well does the score find the known anomalies?" in [s.value for s in at.subheader]
    assert "ROC AUC" in app_text(at)
    flagged = at.metric[1].value
    at.slider(key="anomaly_pct").set_value(90.0).run()
    assert not app_errors(at)
    assert at.metric[1].value != flagged
    at.radio(key="anomaly_how").set_value("contamination").run()
    assert not app_errors(at)
    assert "worst_features" in at.dataframe[0].value.columns
    assert at.get("download_button")


def test_anomalies_says_which_score_is_in_use_and_switches_to_the_plain_error(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "anomalies.py")
    at.query_params["run"] = ids["outliers"]
    at.run()
    assert not app_errors(at)
    assert ("Score in use: **normalised error + distance to the nearest training rows, in the code and "
            "in each hidden layer of the encoder** (the default") in app_text(at)
    at.selectbox(key="anomaly_score").set_value("reconstruction").run()
    assert not app_errors(at)
    assert "Score in use: **reconstruction error**" in app_text(at)
    assert "ROC AUC" in app_text(at)


def test_anomalies_digits_images_and_one_class_form(trained_store, tmp_path):
    _, ids = trained_store
    at = _app(tmp_path, "anomalies.py")
    at.query_params["run"] = ids["digits"]
    at.run()
    assert not app_errors(at)
    assert "How well does the score find the known anomalies?" not in [s.value for s in at.subheader]
    at.radio(key="anomaly_group").set_value("class").run()
    assert not app_errors(at)
    assert at.multiselect[0].label == "Normal classes"
    at.multiselect[0].set_value([str(i) for i in range(10)])
    at.button[0].click().run()  # the form's submit: every class chosen is refused with a message
    assert any("leave at least one class out" in e for e in app_errors(at))
    assert not at.exception


def test_anomalies_switches_to_a_finished_one_class_run(trained_store, tmp_path):
    """The progress fragment hands a finished run id over; the next run of the page shows that run."""
    _, ids = trained_store
    at = _app(tmp_path, "anomalies.py")
    at.query_params["run"] = ids["digits"]
    at.run()
    assert at.selectbox(key="anomaly_run_picker").value == ids["digits"]
    at.session_state["anomaly_switch_to"] = ids["outliers"]
    at.run()
    assert not app_errors(at)
    assert at.selectbox(key="anomaly_run_picker").value == ids["outliers"]
    assert "How well does the score find the known anomalies?" in [s.value for s in at.subheader]


def test_denoising_and_anomaly_settings_survive_a_visit_to_another_page(trained_store, tmp_path):
    at = page_on_run("denoising.py", trained_store[1]["digits"])
    at.selectbox(key="denoise_kind").set_value("masking").run()
    at.slider(key="denoise_level").set_value(0.6).run()
    at.radio(key="denoise_metric").set_value("ssim").run()
    at.switch_page("app_pages/anomalies.py").run()
    at.radio(key="anomaly_how").set_value("contamination").run()
    at.slider(key="anomaly_contamination").set_value(7.5).run()
    at.toggle(key="anomaly_log").set_value(False).run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/denoising.py").run()
    assert not app_errors(at)
    assert at.selectbox(key="denoise_kind").value == "masking" and at.slider(key="denoise_level").value == 0.6
    assert at.radio(key="denoise_metric").value == "ssim"
    at.switch_page("app_pages/anomalies.py").run()
    assert not app_errors(at)
    assert at.radio(key="anomaly_how").value == "contamination"
    assert at.slider(key="anomaly_contamination").value == 7.5 and at.toggle(key="anomaly_log").value is False
