"""The runs' live progress, error headline, AE-vs-PCA table and runs table (ae_core.runs.summary)."""

from __future__ import annotations

import math

import pytest

from ae_core.runs.summary import (
    comparison_table,
    first_line,
    format_duration,
    progress_view,
    run_counts,
    runs_table,
    table_key,
    ticked_runs,
    training_facts,
)

HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "val_loss": 1.0},
    {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6},
    {"epoch": 3, "train_loss": 0.4, "val_loss": 0.7},
]


@pytest.mark.parametrize("seconds, text", [(None, "—"), (-1, "—"), (float("nan"), "—"), (0, "0 s"), (42.4, "42 s"),
                                           (185, "3 min 05 s"), (1100, "18 min"),
                                           (3720, "1 h 02 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_progress_view_running():
    p = {"epoch": 3, "epochs": 60, "batch": 5, "batches": 12, "fraction": 0.04, "elapsed": 12.3, "eta": 185.0,
         "lr": 0.002, "history": HISTORY}
    v = progress_view(p, "running")
    assert v.fraction == pytest.approx(0.04)
    assert v.headline == "Epoch 3 of 60 · batch 5/12"
    assert (v.elapsed, v.eta, v.lr, v.last_val_loss) == ("12 s", "3 min 05 s", "0.002", "0.7")


def test_progress_view_of_a_time_budget_run_counts_epochs_against_the_clock():
    p = {"epoch": 7, "epochs": None, "budget_s": 90.0, "batch": 1, "batches": 1, "fraction": 0.5, "elapsed": 46.0,
         "eta": 45.0, "lr": 0.002, "history": HISTORY}
    v = progress_view(p, "running")
    assert v.headline == "Epoch 7 · training for 1 min 30 s" and v.eta == "45 s" and v.fraction == 0.5


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


def test_training_facts_name_the_scaling_a_run_used():
    facts = dict(training_facts({"scaling": "range", "epochs_run": 3}))
    assert facts["scaling"].startswith("range") and "[0, 1]" in facts["scaling"]
    assert "standardised" in dict(training_facts({"scaling": "standard"}))["scaling"]
    assert "scaling" not in dict(training_facts({"epochs_run": 3}))  # a run from before the field existed


def test_training_facts_name_every_augmentation_in_use():
    assert dict(training_facts({"mirror": True, "shift": True}))["augmentation"] == \
        "half of each batch mirrored left to right; a fifth moved by a pixel"
    assert dict(training_facts({"shift": True}))["augmentation"] == "a fifth moved by a pixel"


def test_training_facts_say_when_training_mirrored_images():
    assert "mirrored left to right" in dict(training_facts({"mirror": True}))["augmentation"]
    assert "augmentation" not in dict(training_facts({"mirror": False, "epochs_run": 3}))


def test_training_facts_say_when_the_networks_worked_behind_a_front():
    assert "top 256 principal coordinates" in dict(training_facts({"front_dim": 256}))["networks work in"]
    assert "networks work in" not in dict(training_facts({"front_dim": 0, "epochs_run": 3}))



def _records(*ids, status="done"):
    from ae_core.runs.store import RunRecord

    return [RunRecord(i, 0.0, 0.0, "digits", "vanilla", "", {}, status) for i in ids]


def _ticks(*rows):
    return {"selection": {"rows": list(rows), "columns": []}}


def test_table_key_follows_the_set_of_runs_not_their_progress():
    runs = _records("b", "a")
    assert table_key(runs) == table_key(_records("b", "a", status="running"))
    assert table_key(runs) != table_key(_records("c", "b", "a"))  # a new run at the top: a fresh table


def test_ticked_rows_are_the_runs_in_those_rows_of_the_table():
    runs = _records("c", "b", "a")
    assert ticked_runs(_ticks(2, 0), runs, table_key(runs), "delete") == (["a", "c"], None)
    assert ticked_runs(_ticks(1, 7), runs, table_key(runs), "delete") == (["b"], None)  # 7: past the end


@pytest.mark.parametrize("state", [None, {}, {"selection": {}}, _ticks(), _ticks(3)],
                         ids=["no-state", "empty", "no-rows", "none-ticked", "only-past-the-end"])
def test_nothing_ticked_says_how_to_tick(state):
    runs = _records("b", "a")
    assert ticked_runs(state, runs, table_key(runs), "pin") == (
        [], "Tick the runs to pin in the table first (the boxes at its left).")


def test_ticks_on_a_list_that_has_changed_since_are_not_taken():
    drawn = table_key(_records("b", "a"))
    assert ticked_runs(_ticks(0), _records("c", "b", "a"), drawn, "delete") == (
        [], "The list of runs changed just now: tick the runs to delete again.")
