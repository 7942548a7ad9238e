"""ae_core.analysis.anomaly: thresholds, ROC/PR, frames and exports; one-class training in ae_core.runs.execute."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from ae_core.analysis.anomaly import (
    anomaly_truth,
    confusion_counts,
    error_histogram_frame,
    flag,
    flagged_csv,
    flagged_frame,
    graded_truth,
    most_anomalous,
    roc_pr,
    row_hover,
    run_scores,
    scatter_coordinates,
    threshold_for,
    threshold_from_contamination,
    threshold_from_percentile,
    tile_titles,
)
from ae_core.analysis.anomaly_scores import SCORES
from ae_core.data.preprocessing import SplitCode, restrict_to_classes, split_indices
from ae_core.data.registry import load_dataset
from ae_core.errors import InputError
from ae_core.figures.anomaly import error_histogram_figure, pr_figure, roc_figure, score_scatter_figure
from ae_core.runs.loaded import load_run
from ae_core.runs.spec import one_class_setup
from ae_core.runs.store import RunStore

ERR = np.arange(1, 101, dtype=float)  # 1..100


# ---- thresholds ----------------------------------------------------------------------------


def test_threshold_from_percentile():
    assert threshold_from_percentile(ERR, 50) == pytest.approx(50.5)
    assert threshold_from_percentile(ERR, 100) == 100.0
    assert flag(ERR, threshold_from_percentile(ERR, 95)).sum() == 5


def test_threshold_from_contamination_flags_that_fraction():
    t = threshold_from_contamination(ERR, 0.03)
    assert flag(ERR, t).sum() == 3


@pytest.mark.parametrize("call, match", [
    (lambda: threshold_from_percentile(ERR, 101), "between 0 and 100"),
    (lambda: threshold_from_contamination(ERR, 0), "fraction between 0 and 1"),
    (lambda: threshold_from_percentile([], 50), "no reconstruction errors"),
    (lambda: threshold_from_percentile([1.0, np.nan], 50), "NaN or infinite"),
], ids=["pct>100", "c=0", "empty", "nan"])
def test_thresholds_reject_bad_input(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_threshold_for_uses_validation_rows_for_a_percentile_and_all_rows_for_contamination():
    errors = np.arange(100, dtype=float)
    split = np.array([SplitCode.TRAIN] * 40 + [SplitCode.VALIDATION] * 10 + [SplitCode.TEST] * 50, np.int8)
    assert threshold_for(errors, split, "percentile", 100.0) == 49.0  # the largest validation score
    keep = split != SplitCode.VALIDATION  # a run without validation rows: the training rows
    assert threshold_for(errors[keep], split[keep], "percentile", 100.0) == 39.0
    assert threshold_for(errors, split, "contamination", 10.0) == pytest.approx(np.quantile(errors, 0.9))
    with pytest.raises(InputError, match="'percentile' or 'contamination'"):
        threshold_for(errors, split, "median", 50.0)


def test_a_percentile_flags_about_that_share_of_new_normal_rows_with_the_default_score(runs):
    run = runs["digits"]  # every row is normal: a 90th percentile should flag about 10 % of the test rows
    scores, split = run_scores(run), np.asarray(run.split)
    flagged = flag(scores, threshold_for(scores, split, "percentile", 90.0))[split == SplitCode.TEST].mean()
    assert 0.03 <= flagged <= 0.2, flagged


def test_test_truth_grades_only_when_test_rows_hold_both_kinds():
    split = np.array([SplitCode.TRAIN, SplitCode.TEST, SplitCode.TEST, SplitCode.VALIDATION, SplitCode.TEST])
    truth = np.array([True, False, True, True, False])
    np.testing.assert_array_equal(graded_truth(truth, split), [False, True, False])
    assert graded_truth(None, split) is None
    assert graded_truth(np.array([True, False, False, True, False]), split) is None  # no anomaly among the test rows
    assert graded_truth(np.array([False, True, True, False, True]), split) is None  # nothing normal to compare


def test_flag_is_strictly_above():
    np.testing.assert_array_equal(flag([1, 2, 3], 2), [False, False, True])


# ---- ROC / PR --------------------------------------------------------------------------------


def test_roc_pr_perfect_and_random_scores():
    y = np.r_[np.zeros(90, bool), np.ones(10, bool)]
    perfect = roc_pr(np.r_[np.zeros(90), np.ones(10)] + np.linspace(0, 0.1, 100), y)
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == pytest.approx(1.0)
    assert perfect["prevalence"] == pytest.approx(0.1)
    inverted = roc_pr(-np.arange(100.0), y)
    assert inverted["roc_auc"] == 0.0
    assert len(roc_figure(perfect).data) == 2 and len(pr_figure(perfect).data) == 2


def test_roc_pr_needs_both_kinds():
    with pytest.raises(InputError, match="only one kind"):
        roc_pr([1.0, 2.0], [False, False])


def test_confusion_counts():
    c = confusion_counts([True, True, False, False], [True, False, True, False])
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (1, 1, 1, 1)
    assert c["precision"] == 0.5 and c["recall"] == 0.5


# ---- CSV safety ------------------------------------------------------------------------------


def test_flagged_csv_is_formula_safe(runs, monkeypatch):
    run = runs["outliers"]
    names = np.array(["=HYPERLINK(\"x\")", "plain"], dtype=object)
    monkeypatch.setattr(type(run.dataset), "label_names", lambda self: names[np.arange(self.n_samples) % 2])
    f = pd.read_csv(io.BytesIO(flagged_csv(run, -1.0)))
    assert set(f["label"]) == {"'=HYPERLINK(\"x\")", "plain"}
    assert (f["score"] >= 0).all() and f["score"].dtype == float  # numbers stay numbers


# ---- one-class training ------------------------------------------------------------------------


def test_restrict_to_classes_moves_other_classes_to_test():
    ds = load_dataset("digits")
    split = split_indices(ds.n_samples, ds.y, seed=0)
    one = restrict_to_classes(split, ds, [0, 1])
    assert set(ds.y[one.train]) == {0, 1} and set(ds.y[one.val]) == {0, 1}
    assert set(ds.y[one.test]) == set(range(10))
    assert len(one.train) + len(one.val) + len(one.test) == ds.n_samples
    assert restrict_to_classes(split, ds, None) is split


def test_one_class_setup_validates_classes():
    cfg = one_class_setup("digits", ["3", 7])
    assert cfg["train_classes"] == [3, 7]
    with pytest.raises(InputError, match="not a class of digits"):
        one_class_setup("digits", ["eleven"])
    with pytest.raises(InputError, match="leave at least one class out"):
        one_class_setup("digits", list(range(10)))
    with pytest.raises(InputError, match="at least one normal class"):
        one_class_setup("digits", [])


def test_one_class_run_scores_left_out_classes(tmp_path):
    store = RunStore(tmp_path / "runs")
    cfg = one_class_setup("digits", [0, 1], train={"epochs": 4, "evolution_samples": 50})
    rid = store.create(cfg).id
    from ae_core.runs.execute import execute_run

    assert execute_run(store, rid) == "done", store.get(rid).error
    run = load_run(store, rid)
    truth = anomaly_truth(run)
    assert truth.sum() == (~np.isin(run.dataset.y, [0, 1])).sum()
    assert not truth[run.split != 2].any()  # train and validation hold normal rows only
    assert "anomaly_auc" in run.metrics and "knn_accuracy" not in run.metrics


# ---- on trained runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(trained_root):
    root, ids = trained_root
    store = RunStore(root)
    return {k: load_run(store, v) for k, v in ids.items()}


def test_error_histogram_frame_groups(runs):
    f = error_histogram_frame(runs["digits"], "split")
    assert set(f["group"]) == {"train", "validation", "test"} and len(f) == 1797
    c = error_histogram_frame(runs["digits"], "class")
    assert set(c["group"]) == {str(i) for i in range(10)}
    fig = error_histogram_figure(f, threshold=float(f["error"].median()))
    assert len(fig.data) == 3
    with pytest.raises(InputError, match="'split' or 'class'"):
        error_histogram_frame(runs["digits"], "colour")


@pytest.mark.parametrize("log_x", [True, False])
def test_error_histogram_axis_spans_the_scores_and_the_threshold(log_x):
    scores = np.random.default_rng(0).lognormal(2.0, 0.5, 500)  # composite scores run 3..200
    frame = pd.DataFrame({"error": scores, "group": "test"})
    fig = error_histogram_figure(frame, threshold=300.0, log_x=log_x)
    lo, hi = fig.layout.xaxis.range
    to = np.log10 if log_x else (lambda v: v)
    assert lo <= to(scores.min()) and hi >= to(300.0)  # every bar and the threshold line are in view
    assert hi - lo < 1.1 * (to(300.0) - to(scores.min()))  # and nothing far beyond them


@pytest.mark.parametrize("method", SCORES)
def test_every_score_of_a_run_finds_the_labelled_outliers(runs, method):
    run = runs["outliers"]
    scores = run_scores(run, method)
    assert scores.shape == (len(run.X),) and np.isfinite(scores).all() and (scores >= 0).all()
    if method == "reconstruction":
        np.testing.assert_array_equal(scores, run.recon_error)  # the stored error, as before
    test = run.split == 2
    assert roc_pr(scores[test], anomaly_truth(run)[test])["roc_auc"] > 0.8
    frame = error_histogram_frame(run, "split", scores=scores)
    np.testing.assert_array_equal(frame["error"], scores)
    assert most_anomalous(run, 3, scores=scores)["row"].tolist() == np.argsort(-scores, kind="stable")[:3].tolist()


def test_run_scores_refuses_an_unknown_score(runs):
    with pytest.raises(InputError, match="choose one of: reconstruction"):
        run_scores(runs["outliers"], "mahalanobis")


def test_outliers_run_finds_the_outliers(runs):
    run = runs["outliers"]
    truth = anomaly_truth(run)
    assert truth is not None and truth.sum() == 90
    test = run.split == 2
    curves = roc_pr(run.recon_error[test], truth[test])
    assert curves["roc_auc"] > 0.8 and curves["pr_auc"] > curves["prevalence"]


def test_most_anomalous_tabular_names_worst_features(runs):
    run = runs["outliers"]
    top = most_anomalous(run, 5)
    assert len(top) == 5 and top["score"].is_monotonic_decreasing
    assert top["score"].iloc[0] == pytest.approx(run.recon_error.max())
    assert top["worst_features"].str.contains("sensor_").all()
    assert top["worst_features"].str.count(";").eq(2).all()
    assert "worst_features" not in most_anomalous(runs["digits"], 3).columns


def test_flagged_frame_has_scores_flags_and_values(runs):
    run = runs["outliers"]
    t = threshold_from_percentile(run.recon_error[run.split == 0], 97)
    f = flagged_frame(run, t)
    assert f["flagged"].all() and len(f) == flag(run.recon_error, t).sum()
    assert {"row", "split", "score", "label", "known_anomaly", "sensor_1"} <= set(f.columns)
    assert len(flagged_frame(run, t, only_flagged=False)) == run.dataset.n_samples


def test_scatter_coordinates_and_figure(runs):
    run = runs["digits"]
    xy, note = scatter_coordinates(run)
    assert xy.shape == (1797, 2) and note == "the code itself"
    flags = flag(run.recon_error, np.quantile(run.recon_error, 0.9))
    fig = score_scatter_figure(xy, run.recon_error, flags, hover=[f"row {i}" for i in range(1797)])
    assert len(fig.data[-1].x) == flags.sum()
    assert list(fig.data[-1].customdata) == list(np.flatnonzero(flags))


def test_one_class_setup_from_a_stored_run_config(runs):
    """The page passes a finished run's model and train settings back in; data-derived keys must not clash."""
    rec = runs["digits"].record
    cfg = one_class_setup("digits", ["0"], rec.config["variant"], model=rec.config["model"], train=rec.config["train"])
    assert cfg["train_classes"] == [0] and cfg["model"]["n_features"] == 64


def test_hover_and_tile_titles(runs):
    run = runs["digits"]
    hover = row_hover(run)
    assert len(hover) == 1797 and hover[0].startswith("row 0 · score ") and hover[0].endswith(" · 0")
    top = most_anomalous(run, 2)
    assert tile_titles(top)[0] == f"{top['score'].iloc[0]:.3g} · {top['label'].iloc[0]}"
