"""The Home and Train pages (Streamlit AppTest, through app.py) and the pure
helpers behind them (ae_core.figures.training)."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ae_core.data.preview import dataset_facts, preview_table
from ae_core.data.registry import load_dataset
from ae_core.errors import InputError
from ae_core.figures.training import image_mosaic, loss_curve_figure, sample_grid_figure
from ae_core.model.config import parse_sizes
from ae_core.runs.summary import (
    comparison_table,
    first_line,
    format_duration,
    progress_view,
    run_counts,
    runs_table,
    training_facts,
)
from tests.conftest import app_text

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "val_loss": 1.0},
    {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6},
    {"epoch": 3, "train_loss": 0.4, "val_loss": 0.7},
]


# ---- plots_training: pure helpers --------------------------------------------------------


@pytest.mark.parametrize("seconds, text", [(None, "—"), (-1, "—"), (float("nan"), "—"), (0, "0 s"), (42.4, "42 s"),
                                           (185, "3 min 05 s"), (1100, "18 min"),
                                           (3720, "1 h 02 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_parse_sizes_accepts_commas_and_spaces():
    assert parse_sizes("256, 128") == (256, 128)
    assert parse_sizes("64") == (64,)


@pytest.mark.parametrize("text, match", [("", "at least one"), ("256,abc", "whole numbers"), ("0,5", "between 1")],
                         ids=["empty", "not-a-number", "zero"])
def test_parse_sizes_rejects_bad_text(text, match):
    with pytest.raises(InputError, match=match):
        parse_sizes(text)


def test_progress_view_running():
    p = {"epoch": 3, "epochs": 60, "batch": 5, "batches": 12, "fraction": 0.04, "elapsed": 12.3, "eta": 185.0,
         "lr": 0.002, "history": HISTORY}
    v = progress_view(p, "running")
    assert v.fraction == pytest.approx(0.04)
    assert v.headline == "Epoch 3 of 60 · batch 5/12"
    assert (v.elapsed, v.eta, v.lr, v.last_val_loss) == ("12 s", "3 min 05 s", "0.002", "0.7")


def test_progress_view_queued_and_empty():
    v = progress_view({}, "queued")
    assert v.fraction == 0 and "Waiting" in v.headline and v.eta == "—"
    assert "Starting" in progress_view(None, "running").headline


def test_progress_view_clips_fraction_and_done_is_full():
    assert progress_view({"fraction": 1.7, "epoch": 1, "epochs": 1}).fraction == 1.0
    assert progress_view({"fraction": 0.2}, "done").fraction == 1.0


def test_first_line_splits_error_text():
    assert first_line("boom\n\nTraceback ...") == ("boom", "Traceback ...")
    assert first_line("")[0] == "no error message was recorded"


def test_loss_curve_figure_has_train_val_and_best_epoch():
    fig = loss_curve_figure(HISTORY)
    names = [t.name for t in fig.data]
    assert names == ["train", "validation", "best validation"]
    assert list(fig.data[0].x) == [1, 2, 3]
    assert list(fig.data[2].x) == [2] and list(fig.data[2].y) == [0.6]
    assert fig.layout.yaxis.type == "linear"
    assert fig.layout.xaxis.dtick == 1  # few epochs: whole-number ticks


def test_loss_curve_figure_log_scale_and_explicit_best():
    fig = loss_curve_figure(HISTORY, log_y=True, best_epoch=3)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[2].x) == [3]


def test_loss_curve_figure_empty_history_says_waiting():
    fig = loss_curve_figure([])
    assert "Waiting" in fig.layout.annotations[0].text
    assert fig.layout.xaxis.visible is False


def test_image_mosaic_shape_padding_and_scale():
    X = np.arange(5 * 6, dtype=float).reshape(5, 6)  # five 2x3 images
    m = image_mosaic(X, (2, 3), n=5, cols=2, pad=1)
    assert m.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert np.isnan(m[2, 0]) and np.isnan(m[0, 3])  # padding rows and columns
    tile = m[0:2, 0:3]
    assert np.nanmin(tile) == 0 and np.nanmax(tile) == 1


def test_sample_grid_figure_hover_shows_class():
    X = np.random.default_rng(0).random((4, 4))
    fig = sample_grid_figure(X, (2, 2), labels=np.array(["a", "b", "c", "d"]), n=4, cols=2)
    text = np.asarray(fig.data[0].text)
    assert text[0, 0] == "class a" and text[-1, -1] == "class d"


def test_dataset_facts_and_preview_table():
    ds = load_dataset("wine")
    facts = dict(dataset_facts(ds))
    assert facts["rows"] == "178" and facts["features"] == "13" and facts["classes"].startswith("3:")
    df = preview_table(ds, 5)
    assert df.shape == (5, 14) and df.columns[0] == "class"
    assert "image size" in dict(dataset_facts(load_dataset("digits")))


def test_comparison_table_picks_winner_and_skips_missing():
    m = {"test_mse": 0.5, "pca_mse": 1.0, "knn_accuracy": 0.8, "pca_knn_accuracy": 0.9,
         "trustworthiness": 0.95, "pca_trustworthiness": 0.951}
    t = comparison_table(m)
    assert list(t["metric"]) == ["reconstruction error (test MSE)", "kNN accuracy on the code", "trustworthiness"]
    assert list(t["better"]) == ["autoencoder", "PCA", "tie"]
    assert comparison_table({}).empty


def test_training_facts():
    facts = dict(training_facts({"epochs_run": 12, "best_epoch": 9, "train_seconds": 75, "n_params": 12345,
                                 "stop_reason": "reached 12 epochs"}))
    assert facts == {"epochs run": "12", "best epoch": "9", "training time": "1 min 15 s", "parameters": "12,345",
                     "stopped because": "reached 12 epochs"}


def test_runs_table_and_counts(trained_store):
    store, ids = trained_store
    runs = store.list()
    df = runs_table(runs)
    assert len(df) == 2 and set(df["id"]) == set(ids.values())
    row = df.set_index("id").loc[ids["digits"]]
    assert row["open"] == f"latent?run={ids['digits']}"
    assert row["status"] == "done" and row["progress"] == 1.0
    assert row["ae_pca_ratio"] == pytest.approx(store.get(ids["digits"]).metrics["ae_pca_ratio"])
    assert run_counts(runs) == {"done": 2}


def test_runs_table_active_run_has_no_metrics(store):
    from ae_core.runs.spec import make_config

    rec = store.create(make_config("wine", "vanilla"))
    store.update(rec.id, status="running", progress={"fraction": 0.25})
    df = runs_table(store.list())
    assert df.loc[0, "progress"] == 0.25 and math.isnan(df.loc[0, "test_error"])
    assert run_counts(store.list()) == {"running": 1}


# ---- the app -----------------------------------------------------------------------------


def _app():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=60)


def _train(at):
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    return at


def test_home_empty_store_shows_empty_state(store):
    at = _app().run()
    assert not at.exception
    assert at.title[0].value == "Autoencoder Explorer"
    assert any("No runs yet" in i.value for i in at.info)
    assert at.button[0].label == "Try it: train on digits"
    assert "How this works" in [e.label for e in at.expander]


def test_home_lists_finished_runs(trained_store):
    store, ids = trained_store
    at = _app().run()
    assert not at.exception
    df = at.dataframe[0].value
    assert set(df["id"]) == set(ids.values()) and set(df["status"]) == {"done"}
    assert "2 done" in app_text(at)


def test_home_try_it_queues_a_digits_run_and_opens_latent(fake_manager, store):
    at = _app().run()
    at.button[0].click().run()
    assert not at.exception
    runs = store.list()
    assert len(runs) == 1 and runs[0].status == "queued" and runs[0].dataset == "digits"
    assert runs[0].variant == "vanilla"
    assert at.session_state["run"] == runs[0].id


def test_home_does_not_import_torch_and_a_first_visit_not_pandas(store):
    """A fresh server's first page: no torch ever; with no runs to tabulate, no pandas either (0.5 s here)."""
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({APP!r}, default_timeout=60).run(); "
            "assert not at.exception, at.exception; "
            "assert any('No runs yet' in i.value for i in at.info); "
            "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_train_empty_store_previews_default_dataset(store):
    at = _train(_app())
    assert at.selectbox(key="train_dataset").value == "digits"
    assert any("No runs yet" in i.value for i in at.info)
    assert not at.button(key="train_start").disabled
    assert "**rows:** 1,797" in app_text(at)
    assert len(at.get("plotly_chart")) == 1  # the thumbnail grid


def test_train_tabular_dataset_previews_rows(store):
    at = _train(_app())
    at.selectbox(key="train_dataset").set_value("wine").run()
    assert not at.exception
    assert at.dataframe[0].value.shape == (20, 14)


def test_train_absent_image_set_shows_where_to_put_files(store, monkeypatch, tmp_path):
    monkeypatch.setenv("AE_OFFLINE", "1")
    import ae_core.data.image_files

    monkeypatch.setattr(ae_core.data.image_files, "REPO", tmp_path)  # no files under data/mnist
    at = _train(_app())
    at.selectbox(key="train_dataset").set_value("mnist").run()
    assert not at.exception
    assert any("not available" in e.value and "data/mnist" in e.value for e in at.error)
    assert at.button(key="train_start").disabled


def test_train_refuses_convolutional_on_tabular(store):
    at = _train(_app())
    at.selectbox(key="train_dataset").set_value("wine").run()
    at.radio(key="train_variant").set_value("convolutional").run()
    assert not at.exception
    assert any("needs image data" in e.value for e in at.error)
    assert at.button(key="train_start").disabled


def test_train_shows_bad_hidden_sizes_at_the_form(store):
    at = _train(_app())
    at.text_input(key="hidden_digits_vanilla").set_value("128,abc").run()
    assert any("whole numbers" in e.value for e in at.error)
    assert at.button(key="train_start").disabled


def test_train_start_creates_a_queued_run(fake_manager, store):
    at = _train(_app())
    at.number_input(key="epochs_digits_vanilla").set_value(5).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    runs = store.list()
    assert len(runs) == 1 and runs[0].status == "queued"
    assert runs[0].config["train"]["epochs"] == 5
    assert at.session_state["run"] == runs[0].id
    text = app_text(at)
    assert "**Queued**" in text and "position 1 in the queue" in text
    at.button(key=f"cancel_{runs[0].id}").click().run()
    assert fake_manager.cancelled == [runs[0].id]
    assert store.get(runs[0].id).status == "cancelled"
    assert any("This run was cancelled" in w.value for w in at.warning)


def test_train_device_choice_goes_into_the_run_config(fake_manager, store):
    at = _train(_app())
    assert at.selectbox(key="train_device").value == "auto"
    at.selectbox(key="train_device").set_value("cpu").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert store.list()[0].config["device"] == "cpu"


def test_train_start_shows_the_new_run_even_if_a_stale_rerun_names_the_old_one(fake_manager, store):
    """Starting a run while another run's live panel polls: a rerun the browser sent before it
    saw the new run carries the old run in the URL and the picker's old value (seen in the load
    test: the page went back to the old run for good). The picker moves to a new widget key, so
    the stale value has no widget to land on, and the new run wins over the stale URL."""
    from ae_core.runs.spec import make_config

    old = store.create(make_config("wine", "vanilla"))
    at = _app()
    at.query_params["run"] = old.id
    _train(at)
    assert f"— {old.label()}" in app_text(at)
    key_before = [s for s in at.selectbox if s.label == "Run to show"][0].key
    at.button(key="train_start").click().run()
    new = store.list()[0]
    assert new.id != old.id and at.session_state["run"] == new.id
    at.query_params["run"] = old.id  # the stale rerun's URL
    at.run()
    assert not at.exception
    picker = [s for s in at.selectbox if s.label == "Run to show"][0]
    assert picker.key != key_before  # the old key's stale value is dropped with it
    assert picker.value == new.id and at.query_params["run"] in (new.id, [new.id])
    assert f"— {new.label()}" in app_text(at) and f"— {old.label()}" not in app_text(at)


def test_train_shows_finished_run_against_pca(trained_store):
    store, ids = trained_store
    at = _app()
    at.session_state["run"] = ids["digits"]
    _train(at)
    text = app_text(at)
    assert "AE reconstruction error is" in text and "PCA's at the same code size" in text
    table = at.dataframe[0].value
    assert "kNN accuracy on the code" in set(table["metric"])
    assert "stopped because" in text


def test_train_shows_anomaly_auc_for_outlier_run(trained_store):
    store, ids = trained_store
    at = _app()
    at.session_state["run"] = ids["outliers"]
    _train(at)
    assert "anomaly AUC" in set(at.dataframe[-1].value["metric"])


def test_train_failed_run_shows_first_line_of_error(store):
    from ae_core.runs.spec import make_config

    rec = store.create(make_config("wine", "vanilla"))
    store.update(rec.id, status="failed", finished=time.time(),
                 error="internal error: ValueError: boom\n\nTraceback (most recent call last): ...")
    at = _train(_app())
    assert any("This run failed:" in e.value and "boom" in e.value for e in at.error)
    assert "Traceback" not in at.error[0].value  # the details are folded away
    assert "Training" not in app_text(at)


def _finished(store, n: int, status: str = "done") -> list[str]:
    ids = []
    for _ in range(n):
        rec = store.create({"dataset": {"name": "digits", "options": {}}, "variant": "vanilla",
                            "model": {"latent_dim": 2}, "train": {"epochs": 1}})
        store.write_json(rec.id, "history.json", [])
        store.update(rec.id, status=status)
        ids.append(rec.id)
    return ids[::-1]  # newest first, as the table


def _tick(at, rows: list[int]):
    """Tick table rows as a person does with the boxes at the table's left."""
    at.session_state[at.session_state["home_runs_table_key"]] = {"selection": {"rows": rows, "columns": []}}
    return at


def test_home_deletes_the_ticked_runs_after_confirming(store):
    newest, middle, oldest = _finished(store, 3)
    at = _app().run()
    _tick(at, [0, 2]).run()
    at.button(key="home_delete").click().run()
    assert not at.exception
    text = app_text(at)
    assert "removed for good" in text and store.get(newest).label() in text and store.get(oldest).label() in text
    assert store.exists(newest)  # nothing is deleted before the confirmation
    at.button(key="home_delete_confirm").click().run()
    assert not at.exception
    assert [r.id for r in store.list()] == [middle]
    assert "Deleted 2 runs" in at.toast[0].value
    assert list(at.dataframe[0].value["id"]) == [middle]


def test_home_delete_keeps_everything_when_the_user_says_keep(store):
    ids = _finished(store, 2)
    at = _app().run()
    _tick(at, [1]).run()
    at.button(key="home_delete").click().run()
    at.button(key="home_delete_cancel").click().run()
    assert not at.exception and [r.id for r in store.list()] == ids


def test_home_delete_skips_a_training_run_and_says_why(fake_manager, store):
    (done,) = _finished(store, 1)
    (busy,) = _finished(store, 1, status="running")
    at = _app().run()
    _tick(at, [0, 1]).run()  # the running run is the newest
    at.button(key="home_delete").click().run()
    assert any("cancel it on the Train page first" in w.value for w in at.warning)
    assert at.button(key="home_delete_confirm").label == "Delete 1 run"
    at.button(key="home_delete_confirm").click().run()
    assert [r.id for r in store.list()] == [busy]
    assert done != busy


def test_home_delete_with_nothing_ticked_explains_how(store):
    _finished(store, 1)
    at = _app().run()
    at.button(key="home_delete").click().run()
    assert any("Tick the runs to delete" in i.value for i in at.info)
    assert len(store.list()) == 1


def test_a_link_to_a_deleted_run_says_so_and_shows_the_newest(store):
    (kept,) = _finished(store, 1)
    at = _app()
    at.switch_page("app_pages/train.py")
    at.query_params["run"] = "0123456789ab"
    at.run()
    assert not at.exception
    assert any("There is no run 0123456789ab here any more" in w.value for w in at.warning)
    assert at.selectbox(key="train_run_picker_0").value == kept


def test_home_delete_says_when_an_uploaded_csv_goes_too(store):
    from ae_core.runs.upload import save_upload

    csv = save_upload(store.root, "sales.csv", b"a,b,c\n1,2,3\n4,5,6\n")
    rec = store.create({"dataset": {"name": "csv", "options": {"path": str(csv)}, "display": "sales"},
                        "variant": "vanilla", "model": {"latent_dim": 1}, "train": {"epochs": 1}})
    store.update(rec.id, status="done")
    at = _app().run()
    _tick(at, [0]).run()
    at.button(key="home_delete").click().run()
    assert "uploaded CSV file they were trained on, so it goes too" in app_text(at)
    at.button(key="home_delete_confirm").click().run()
    assert not store.list() and not csv.exists()
    assert "1 uploaded file" in at.toast[0].value


def test_train_settings_survive_a_visit_to_another_page(store):
    at = _train(_app())
    at.selectbox(key="train_dataset").set_value("wine").run()
    at.radio(key="train_variant").set_value("sparse").run()
    at.number_input(key="seed_wine_sparse").set_value(7).run()
    at.text_input(key="hidden_wine_sparse").set_value("16").run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert at.selectbox(key="train_dataset").value == "wine" and at.radio(key="train_variant").value == "sparse"
    assert at.number_input(key="seed_wine_sparse").value == 7 and at.text_input(key="hidden_wine_sparse").value == "16"
    # Another dataset still starts from its own defaults.
    at.selectbox(key="train_dataset").set_value("digits").run()
    assert at.number_input(key="seed_digits_sparse").value == 0
