"""The Latent-space page in Streamlit's AppTest: empty, finished, failed and running runs."""

import base64
import json
import os
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from ae_core.pipeline import make_config

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/latent.py")
    if query:
        at.query_params.update(query)
    return at.run()


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def n_points(trace: dict) -> int:
    """Plotly sends big arrays as base64 typed arrays: {"dtype": "f4", "bdata": ...}."""
    x = trace["x"]
    if isinstance(x, dict):
        return len(base64.b64decode(x["bdata"])) // np.dtype(x["dtype"]).itemsize
    return len(x)


def test_empty_store_explains_what_to_do(store):
    at = open_page()
    assert not at.exception
    assert any("No runs yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_finished_run_draws_the_webgl_scatter_and_colour_options(trained_store):
    store, ids = trained_store
    at = open_page({"run": ids["digits"]})
    assert not at.exception, at.exception
    scatter = charts(at)[0]
    assert {t["type"] for t in scatter["data"]} == {"scattergl"}
    assert sum(n_points(t) for t in scatter["data"]) == 1797
    colour = at.selectbox(key=f"lat_colour_{ids['digits']}")
    assert colour.options == ["label", "reconstruction error", "split"]
    assert at.selectbox(key=f"lat_method_{ids['digits']}").value == "latent"  # a 2-D code is drawn as it is
    assert store.has(ids["digits"], "proj_latent_latent_2d.npy")
    # The raw-input comparison is computed only when its tab is opened.
    assert not store.has(ids["digits"], "proj_input_pca_2d.npy")


def test_scatter_hover_shows_row_label_and_error_from_customdata(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["digits"]})
    trace = charts(at)[0]["data"][0]
    assert trace["hovertemplate"] == ("row: %{customdata[0]:d}<br>label: 0<br>"
                                      "reconstruction error: %{customdata[1]:.4~g}<extra></extra>")
    assert "text" not in trace  # no per-point strings
    custom = trace["customdata"]  # a typed array: (row, error) per point
    assert custom["dtype"] == "f4" and custom["shape"].replace(" ", "") == f"{n_points(trace)},2"


def test_heavy_tabs_run_only_when_opened(trained_store):
    store, ids = trained_store
    at = open_page({"run": ids["digits"]})
    assert [t.label for t in at.tabs] == ["Decode the plane", "Latent evolution", "Raw input, for comparison",
                                          "Download"]
    assert not at.get("download_button") and len(charts(at)) == 3  # scatter, decoded plane, decoded point
    at.session_state["lat_tab"] = "Raw input, for comparison"
    at.run()
    assert not at.exception, at.exception
    assert store.has(ids["digits"], "proj_input_pca_2d.npy")
    raw, code = charts(at)[1:]
    assert raw["layout"]["title"]["text"] == "Raw input, PCA" and sum(n_points(t) for t in raw["data"]) == 1797
    assert code["layout"]["title"]["text"].startswith("Autoencoder code")
    at.session_state["lat_tab"] = "Latent evolution"
    at.run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 2 and charts(at)[1]["frames"]  # the animation, and nothing of the raw view


def test_raw_input_view_draws_a_subsample_of_a_big_run(trained_store, monkeypatch):
    from ae_core import latent as lat

    _, ids = trained_store
    monkeypatch.setattr(lat, "VIEW_MAX", 500)
    at = open_page({"run": ids["digits"]})
    at.session_state["lat_tab"] = "Raw input, for comparison"
    at.run()
    assert not at.exception, at.exception
    raw, code = charts(at)[1:]
    assert sum(n_points(t) for t in raw["data"]) == sum(n_points(t) for t in code["data"]) == 500
    assert any("random 500 of the 1,797 samples" in c.value for c in at.caption)


def test_colour_by_error_switches_to_a_continuous_scale(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["digits"]})
    at.selectbox(key=f"lat_colour_{ids['digits']}").set_value("reconstruction error").run()
    assert not at.exception
    data = charts(at)[0]["data"]
    assert len(data) == 1 and "colorbar" in data[0]["marker"]


def test_query_param_selects_the_run(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["outliers"]})
    assert not at.exception
    assert at.query_params["run"] == ids["outliers"]
    assert at.selectbox(key="run_picker").value == ids["outliers"]
    # Tabular: no image plane, but the decoded point as a table.
    assert any("for image datasets" in c.value for c in at.caption)
    at.selectbox(key=f"lat_method_{ids['outliers']}").set_value("pca").run()
    assert not at.exception


def test_failed_run_shows_its_error(store):
    rec = store.create(make_config("digits", "vanilla"))
    store.update(rec.id, status="failed", error="the loss became NaN at epoch 3")
    at = open_page({"run": rec.id})
    assert not at.exception
    assert any("NaN at epoch 3" in e.value for e in at.error)


def test_running_run_shows_progress_not_a_scatter(store):
    rec = store.create(make_config("digits", "vanilla"))
    # Our own process as the "worker": alive, so recovery leaves the run running.
    store.update(rec.id, status="running", pid=os.getpid(),
                 progress={"epoch": 2, "epochs": 10, "fraction": 0.2, "history": []})
    at = open_page({"run": rec.id})
    assert not at.exception
    assert not at.get("plotly_chart") or all("scattergl" not in json.dumps(c) for c in charts(at))
    store.update(rec.id, status="cancelled", error="test over")  # let the scheduler forget it


def test_switching_runs_keeps_the_page_working(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["digits"]})
    at.selectbox(key="run_picker").set_value(ids["outliers"]).run()
    assert not at.exception
    assert at.query_params["run"] == ids["outliers"]
    at.selectbox(key="run_picker").set_value(ids["digits"]).run()
    assert not at.exception and at.get("plotly_chart")


def test_wide_code_is_projected_and_the_plane_explains_itself(store):
    from tests.conftest import train_tiny

    run_id = train_tiny(store, "digits", model={"latent_dim": 8}, train={"epochs": 2, "evolution_samples": 100})
    at = open_page({"run": run_id})
    assert not at.exception
    method = at.selectbox(key=f"lat_method_{run_id}")
    assert method.value == "pca" and "the code itself" not in method.options
    assert any("needs a 2-D code" in i.value for i in at.info)
    assert store.has(run_id, "proj_latent_pca_2d.npy")
    at.segmented_control(key=f"lat_dims_{run_id}_pca").set_value(3).run()
    assert not at.exception
    assert {t["type"] for t in charts(at)[0]["data"]} == {"scatter3d"}
    assert store.has(run_id, "proj_latent_pca_3d.npy")
