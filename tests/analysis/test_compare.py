"""ae_core.analysis.compare: the metrics table of several runs, the best per column, and the 2-D code view."""

from __future__ import annotations

import numpy as np
import pytest

from ae_core.analysis.compare import best_index, code_view, default_dataset, finished, held_out_view, metrics_table
from ae_core.data.preprocessing import SplitCode
from ae_core.errors import InputError
from ae_core.runs.store import RunRecord, RunStore


def _rec(run_id, metrics, status="done", variant="vanilla", k=2, dataset="digits"):
    return RunRecord(id=run_id, created=0.0, updated=0.0, dataset=dataset, variant=variant, title="",
                     config={"model": {"latent_dim": k}}, status=status, metrics=metrics)


A = {"test_mse": 0.02, "ae_pca_ratio": 0.8, "knn_accuracy": 0.9, "trustworthiness": 0.95, "train_seconds": 3.5, "epochs_run": 12}
B = {"test_mse": 0.01, "ae_pca_ratio": 0.6, "knn_accuracy": 0.85, "trustworthiness": 0.97, "train_seconds": 5.0, "epochs_run": 20}


def test_metrics_table_has_a_row_per_finished_run_only():
    recs = [_rec("00000000000a", A), _rec("00000000000b", B, variant="sparse", k=8), _rec("00000000000c", {}, status="failed")]
    df = metrics_table(recs)
    assert len(df) == 2 and len(finished(recs)) == 2
    assert list(df.columns) == ["run", "variant", "latent size", "test MSE", "AE/PCA ratio", "kNN accuracy",
                                "trustworthiness", "training time (s)", "epochs"]  # no AUC anywhere: dropped
    assert df["latent size"].tolist() == [2, 8] and df["epochs"].tolist() == [12, 20]
    assert df["test MSE"].tolist() == [0.02, 0.01]


def test_metrics_table_keeps_a_metric_only_some_runs_have():
    df = metrics_table([_rec("00000000000a", {**A, "anomaly_auc": 0.9}), _rec("00000000000b", B)])
    assert df["anomaly AUC"].iloc[0] == 0.9 and np.isnan(df["anomaly AUC"].iloc[1])


def test_metrics_table_of_nothing_is_empty_with_columns():
    df = metrics_table([])
    assert df.empty and "test MSE" in df.columns


def test_best_index_knows_which_direction_is_better():
    df = metrics_table([_rec("00000000000a", A), _rec("00000000000b", B)])
    best = best_index(df)
    assert best == {"test MSE": 1, "AE/PCA ratio": 1, "kNN accuracy": 0, "trustworthiness": 1}
    assert "training time (s)" not in best  # not a quality


def test_best_index_skips_columns_with_a_single_value():
    df = metrics_table([_rec("00000000000a", {**A, "anomaly_auc": 0.9}), _rec("00000000000b", B)])
    assert "anomaly AUC" not in best_index(df)
    assert best_index(metrics_table([_rec("00000000000a", A)])) == {}


def test_code_view_draws_a_2d_code_as_it_is(tmp_path):
    store = RunStore(tmp_path)
    rec = store.create({"dataset": {"name": "digits"}, "variant": "vanilla", "model": {}})
    Z = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    Y, axes, note = code_view(store, rec.id, Z)
    np.testing.assert_array_equal(Y, Z)
    assert axes == ("z1", "z2") and note == "the code itself"


def test_code_view_projects_a_longer_code_with_pca_and_caches_it(tmp_path):
    store = RunStore(tmp_path)
    rec = store.create({"dataset": {"name": "digits"}, "variant": "vanilla", "model": {}})
    Z = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32) * np.arange(1, 7)
    Y, axes, note = code_view(store, rec.id, Z)
    assert Y.shape == (50, 2) and "PCA of the 6-number code" == note
    assert np.var(Y[:, 0]) >= np.var(Y[:, 1])  # PC1 carries the most variance
    assert store.has(rec.id, "proj_latent_pca_2d.npy")
    with pytest.raises(InputError, match="at least two rows"):
        code_view(store, rec.id, Z[:1])


def test_default_dataset_is_the_selected_runs_else_the_one_with_most_runs():
    runs = [_rec("a" * 12, A, dataset="wine"), _rec("b" * 12, A), _rec("c" * 12, B), _rec("d" * 12, B, dataset="wine"),
            _rec("e" * 12, B, dataset="swiss-roll")]
    assert default_dataset(runs, "e" * 12) == "swiss-roll"
    assert default_dataset(runs, None) == "digits"  # a tie of two runs each: the first name in order
    assert default_dataset(runs[1:], "f" * 12) == "digits"
    with pytest.raises(InputError, match="no finished run"):
        default_dataset([], None)


def test_held_out_view_draws_test_rows_only_and_at_most_the_limit(tmp_path):
    store = RunStore(tmp_path)
    rec = store.create({"dataset": {"name": "digits"}, "variant": "vanilla", "model": {}})
    rng = np.random.default_rng(0)
    split = rng.choice([SplitCode.TRAIN, SplitCode.VALIDATION, SplitCode.TEST], size=400).astype(np.int8)
    store.write_array(rec.id, "latent.npy", rng.normal(size=(400, 2)).astype(np.float32))
    store.write_array(rec.id, "split.npy", split)
    Y, rows, axes, _ = held_out_view(store, rec.id)
    assert (split[rows] == SplitCode.TEST).all() and len(rows) == (split == SplitCode.TEST).sum()
    np.testing.assert_array_equal(Y, store.read_array(rec.id, "latent.npy")[rows])
    Y, rows, _, _ = held_out_view(store, rec.id, limit=10)
    assert len(rows) == len(Y) == 10 and (np.diff(rows) > 0).all() and (split[rows] == SplitCode.TEST).all()

