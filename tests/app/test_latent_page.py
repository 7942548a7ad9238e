"""The Latent-space page in Streamlit's AppTest: empty, finished, failed and running runs."""

import base64
import json
import os
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from ae_core.runs.loaded import load_run
from ae_core.runs.spec import make_config

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/latent.py")
    if query:
        at.query_params.update(query)
    return at.run()


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def scatter_payload(at, key: str = "lat_points_") -> tuple[dict, dict]:
    """(header, columns) of the page's WebGL chart (ui/scatter.js) whose widget key starts with `key`
    (the latent scatter; "lat_pick_" is the decoded plane), as the browser reads them."""
    from ui.scatter import unpack

    (element,) = [e for e in at.get("bidi_component") if f"-{key}" in e.proto.id]
    assert element.proto.component_name == "ae_scatter"
    return unpack(element.proto.bytes)


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
    assert not at.get("plotly_chart") and not at.get("bidi_component")


def test_finished_run_draws_the_webgl_scatter_and_colour_options(trained_store):
    store, ids = trained_store
    at = open_page({"run": ids["digits"]})
    assert not at.exception, at.exception
    meta, cols = scatter_payload(at)
    assert meta["n"] == 1797 and len(cols["x"]) == len(cols["y"]) == 1797
    assert meta["colour"]["kind"] == "category" and meta["colour"]["names"] == [str(d) for d in range(10)]
    assert meta["axes"] == ["z1", "z2"] and meta["aspect"] == 1  # a raw 2-D code: one unit is as long on both axes
    run = load_run(store, ids["digits"])
    np.testing.assert_allclose(np.c_[cols["x"], cols["y"]], run.latent, rtol=1e-6)
    np.testing.assert_array_equal(cols["row"], np.arange(1797))
    colour = at.selectbox(key=f"lat_colour_{ids['digits']}")
    assert colour.options == ["label", "reconstruction error", "split"]
    assert at.selectbox(key=f"lat_method_{ids['digits']}").value == "latent"  # a 2-D code is drawn as it is
    assert store.has(ids["digits"], "proj_latent_latent_2d.npy")
    # The raw-input comparison is computed only when its tab is opened.
    assert not store.has(ids["digits"], "proj_input_pca_2d.npy")


def test_scatter_hover_shows_row_label_and_error_from_columns_not_strings(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["digits"]})
    meta, cols = scatter_payload(at)
    assert [(h["title"], h["column"]) for h in meta["hover"]] == [
        ("row", "row"), ("label", "colour"), ("reconstruction error", "h0")]  # the label is the colour: sent once
    assert list(cols) == ["x", "y", "row", "colour", "h0"]
    frame_error = cols["h0"]
    assert frame_error.dtype == np.float32 and (frame_error > 0).all()


def test_a_selection_shows_those_samples_and_survives_a_new_projection(trained_store):
    _, ids = trained_store
    run_id = ids["digits"]
    at = open_page({"run": run_id})
    # What the browser sends after a lasso; entries that are not row numbers of this run are ignored.
    at.session_state[f"lat_points_{run_id}"] = {"selection": {"rows": [3, 5, 9, "x", -1, 99_999, True]}}
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["3 selected"]
    assert len(at.get("plotly_chart")) == 2  # originals and reconstructions
    assert scatter_payload(at)[0]["selected"] == [3, 5, 9]  # drawn as selected after the rerun
    at.selectbox(key=f"lat_method_{run_id}").set_value("pca").run()
    assert not at.exception, at.exception
    meta, _ = scatter_payload(at)
    assert meta["axes"] == ["PCA 1", "PCA 2"] and meta["selected"] == [3, 5, 9]
    assert [s.value for s in at.subheader] == ["3 selected"]


def test_the_3d_view_is_a_plotly_chart(trained_store):
    _, ids = trained_store
    run_id = ids["digits"]
    at = open_page({"run": run_id})
    at.selectbox(key=f"lat_method_{run_id}").set_value("pca").run()
    at.segmented_control(key=f"lat_dims_{run_id}_pca").set_value(3).run()
    assert not at.exception, at.exception
    assert not [e for e in at.get("bidi_component") if "-lat_points_" in e.proto.id]
    assert {t["type"] for t in charts(at)[0]["data"]} == {"scatter3d"}


def test_heavy_tabs_run_only_when_opened(trained_store):
    store, ids = trained_store
    at = open_page({"run": ids["digits"]})
    assert [t.label for t in at.tabs] == ["Decode the plane", "Latent evolution", "Raw input, for comparison",
                                          "Download"]
    assert not at.get("download_button") and not charts(at)  # the first view loads no Plotly
    plane, marker = scatter_payload(at, "lat_pick_")
    assert plane["pick"] and plane["image"]["src"].startswith("data:image/png;base64,")
    assert plane["image"]["x0"] < marker["x"][0] < plane["image"]["x1"]  # the slider's point, ringed
    assert len(at.get("image")) == 1  # the decoded point
    at.session_state["lat_tab"] = "Raw input, for comparison"
    at.run()
    assert not at.exception, at.exception
    assert store.has(ids["digits"], "proj_input_pca_2d.npy")
    raw, code = charts(at)
    assert raw["layout"]["title"]["text"] == "Raw input, PCA" and sum(n_points(t) for t in raw["data"]) == 1797
    assert code["layout"]["title"]["text"].startswith("Autoencoder code")
    at.session_state["lat_tab"] = "Latent evolution"
    at.run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 1 and charts(at)[0]["frames"]  # the animation, and nothing of the raw view


def test_raw_input_view_draws_a_subsample_of_a_big_run(trained_store, monkeypatch):
    from ae_core.analysis import latent as lat
    _, ids = trained_store
    monkeypatch.setattr(lat, "VIEW_MAX", 500)
    at = open_page({"run": ids["digits"]})
    at.session_state["lat_tab"] = "Raw input, for comparison"
    at.run()
    assert not at.exception, at.exception
    raw, code = charts(at)
    assert sum(n_points(t) for t in raw["data"]) == sum(n_points(t) for t in code["data"]) == 500
    assert any("random 500 of the 1,797 samples" in c.value for c in at.caption)


def test_a_rerun_reuses_the_packed_points_but_not_the_selection(trained_store, monkeypatch):
    """A rerun that changes nothing about the points (a live panel's timer, a widget elsewhere) does not build
    them again; a new colouring does; the selection the page holds is always the current one."""
    import ui.scatter

    _, ids = trained_store
    run_id = ids["digits"]
    at = open_page({"run": run_id})
    first, _ = scatter_payload(at)
    built = []
    real = ui.scatter._parts
    monkeypatch.setattr(ui.scatter, "_parts", lambda *a, **k: built.append(k.get("pick", False)) or real(*a, **k))
    at.session_state[f"lat_points_{run_id}"] = {"selection": {"rows": [3, 1]}}
    at.run()
    again, cols = scatter_payload(at)
    assert False not in built  # only the decoded plane's one point was packed again
    assert again["id"] == first["id"] and again["selected"] == [1, 3] and first["selected"] == []
    assert len(cols["x"]) == 1797
    at.selectbox(key=f"lat_colour_{run_id}").set_value("split").run()
    assert False in built and scatter_payload(at)[0]["colour"]["title"] == "split"


def test_colour_by_error_switches_to_a_continuous_scale(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["digits"]})
    at.selectbox(key=f"lat_colour_{ids['digits']}").set_value("reconstruction error").run()
    assert not at.exception
    colour = scatter_payload(at)[0]["colour"]
    assert colour["kind"] == "value" and colour["title"] == "reconstruction error"
    assert 0 < colour["lo"] < colour["hi"] and colour["scale"][0] == [0.0, "#440154"]  # Viridis, as Plotly's


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
    assert not at.get("bidi_component")
    assert not at.get("plotly_chart") or all("scattergl" not in json.dumps(c) for c in charts(at))
    store.update(rec.id, status="cancelled", error="test over")  # let the scheduler forget it


def test_switching_runs_keeps_the_page_working(trained_store):
    _, ids = trained_store
    at = open_page({"run": ids["digits"]})
    at.selectbox(key="run_picker").set_value(ids["outliers"]).run()
    assert not at.exception
    assert at.query_params["run"] == ids["outliers"]
    at.selectbox(key="run_picker").set_value(ids["digits"]).run()
    assert not at.exception and scatter_payload(at)[0]["n"] == 1797


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


def sampled_table_run(store, tmp_path) -> str:
    """A table run that trained on 200 of its file's 600 rows (599 kept: row 5 has no values)."""
    from tests.conftest import train_tiny
    from tests.data.test_large_table import messy, write

    path = write(messy(), tmp_path / "t.csv")
    return train_tiny(store, "csv", dataset_options={"path": str(path), "label_column": "label", "max_rows": 200})


def test_a_run_on_a_sample_of_its_table_draws_every_row_and_says_so(store, tmp_path):
    run_id = sampled_table_run(store, tmp_path)
    at = open_page({"run": run_id})
    assert not at.exception, at.exception
    meta, cols = scatter_payload(at, "lat_points_all_")
    assert meta["n"] == 599 and sorted(cols["row"].astype(int)) == [r for r in range(600) if r != 5]
    assert meta["colour"]["kind"] == "category" and meta["colour"]["names"] == ["p", "q"]
    assert "all 599 rows" in meta["title"]
    said = " ".join(c.value for c in at.caption)
    assert "random sample of 200 of this file's 599 rows" in said and "Drawing all 599 rows" in said
    # The rows it trained on lie where its own codes put them.
    run = load_run(store, run_id)
    at_rows = np.searchsorted(cols["row"], run.dataset.row_index)
    np.testing.assert_allclose(cols["x"][at_rows], run.latent[:, 0], atol=1e-4)


def test_a_selection_of_every_row_lists_those_rows_of_the_file(store, tmp_path):
    run_id = sampled_table_run(store, tmp_path)
    at = open_page({"run": run_id})
    at.session_state[f"lat_points_all_{run_id}"] = {"selection": {"rows": [0, 7, 599]}}
    at.run()
    assert not at.exception, at.exception
    assert any("3 rows of the file selected" in h.value for h in at.subheader)
    table = at.dataframe[0]  # the decoded-plane tab's row follows
    assert table.value["row"].tolist() == [0, 7, 599] and set(table.value["label"]) <= {"p", "q"}


def test_a_3d_view_of_a_sampled_run_draws_the_rows_trained_on_and_says_so(store, tmp_path):
    run_id = sampled_table_run(store, tmp_path)
    at = open_page({"run": run_id, "proj": "pca", "dims": "3"})
    assert not at.exception, at.exception
    assert not [e for e in at.get("bidi_component") if "-lat_points_all_" in e.proto.id]
    assert any("draws the 200 rows trained on" in c.value for c in at.caption)
