"""The Home and Train pages (Streamlit AppTest, through app.py) and the pure
helpers behind them (ae_core.figures.training)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import app_text

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")

# ---- plots_training: pure helpers --------------------------------------------------------


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


def test_train_convolutional_asks_for_channels_and_uses_its_recipe(fake_manager, store):
    at = _train(_app())
    at.radio(key="train_variant").set_value("convolutional").run()
    assert not at.exception
    assert not [t for t in at.text_input if t.label == "Hidden layer widths"]  # a conv model has none
    assert at.text_input(key="channels_digits_convolutional").value == "16,32"  # 8x8 digits: two stages
    assert at.number_input(key="batch_digits_convolutional").value == 32
    at.text_input(key="channels_digits_convolutional").set_value("8,16").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    config = store.list()[0].config
    assert config["model"]["conv_channels"] == [8, 16] and config["train"]["batch_size"] == 32


def test_train_device_choice_goes_into_the_run_config(fake_manager, store):
    at = _train(_app())
    assert at.selectbox(key="train_device").value == "auto"
    at.selectbox(key="train_device").set_value("cpu").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert store.list()[0].config["device"] == "cpu"


def test_train_mirror_choice_goes_into_the_run_config_and_is_off_for_tables(fake_manager, store):
    at = _train(_app())
    at.radio(key="train_variant").set_value("convolutional").run()
    assert at.selectbox(key="mirror_digits_convolutional").value == "auto"
    assert "auto: off, a mirrored image does not look like" in " ".join(c.value for c in at.caption)
    at.button(key="train_start").click().run()
    assert store.list()[0].config["train"]["mirror"] is False  # auto: handwritten digits are not mirror-symmetric
    at.selectbox(key="mirror_digits_convolutional").set_value("on").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert store.list()[0].config["train"]["mirror"] is True
    at.selectbox(key="train_dataset").set_value("wine").run()
    at.radio(key="train_variant").set_value("vanilla").run()
    assert at.selectbox(key="mirror_wine_vanilla").disabled and not at.error


def test_train_shift_choice_goes_into_the_run_config_and_says_what_auto_chose(fake_manager, store):
    at = _train(_app())
    at.radio(key="train_variant").set_value("convolutional").run()
    assert at.selectbox(key="shift_digits_convolutional").value == "auto"
    assert "auto: off for images under 16 pixels a side" in " ".join(c.value for c in at.caption)
    at.button(key="train_start").click().run()
    assert store.list()[0].config["train"]["shift"] is False
    at.selectbox(key="shift_digits_convolutional").set_value("on").run()
    at.button(key="train_start").click().run()
    assert not at.exception
    assert store.list()[0].config["train"]["shift"] is True
    at.selectbox(key="train_dataset").set_value("wine").run()
    at.radio(key="train_variant").set_value("vanilla").run()
    assert at.selectbox(key="shift_wine_vanilla").disabled and not at.error


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


def test_train_with_a_time_budget_trains_as_many_epochs_as_fit(fake_manager, store):
    at = _train(_app())
    at.number_input(key="lr_digits_vanilla").set_value(0.003).run()
    at.number_input(key="budget_digits_vanilla").set_value(90).run()
    assert at.number_input(key="epochs_digits_vanilla").disabled  # the budget decides the epochs
    at.button(key="train_start").click().run()
    assert not at.exception
    train = store.list()[0].config["train"]
    assert train["max_seconds"] == 90 and train["epochs"] >= 10_000 and train["schedule"] == "cosine"
    assert train["lr"] == 0.003  # the form's other settings still count


def test_train_refuses_a_negative_time_budget_at_the_form(fake_manager, store):
    at = _train(_app())
    at.number_input(key="budget_digits_vanilla").set_value(-5).run()
    assert any("time budget" in e.value for e in at.error)
    assert at.button(key="train_start").disabled
