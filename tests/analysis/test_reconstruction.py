"""ae_core.analysis.reconstruction and its figures: samples, per-feature errors, interpolation,
prior samples, code size versus error, compression in words."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ae_core.analysis import reconstruction as rc
from ae_core.analysis.metrics import reconstruct, reconstruction_errors
from ae_core.errors import InputError
from ae_core.figures.reconstruction import (
    feature_error_figure,
    image_rows_figure,
    latent_scatter_figure,
    rate_distortion_figure,
)
from ae_core.model.config import model_config_for
from ae_core.model.networks import Autoencoder
from ae_core.runs.loaded import load_run
from ae_core.runs.spec import config_for_code_size
from ae_core.runs.store import RunRecord


@pytest.fixture(scope="module")
def runs(trained_root):
    from ae_core.runs.store import RunStore

    root, ids = trained_root
    store = RunStore(root)
    return {k: load_run(store, v) for k, v in ids.items()}


def _record(run_id="000000000001", k=2, mse=0.5, status="done", dataset="digits", variant="vanilla", options=None):
    cfg = {"dataset": {"name": dataset, "options": options or {}}, "variant": variant, "model": {"latent_dim": k}}
    return RunRecord(id=run_id, created=0.0, updated=0.0, dataset=dataset, variant=variant, title="", config=cfg,
                     status=status, metrics={"test_mse": mse} if status == "done" else {})


# ---- samples ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["random", "best", "worst"])
def test_pick_samples_come_from_the_test_split(runs, how):
    run = runs["digits"]
    s = rc.pick_samples(run, how, n=6, seed=1)
    assert len(s.rows) == 6 and (run.split[s.rows] == 2).all()
    assert s.original.shape == s.reconstructed.shape == (6, 64)
    np.testing.assert_allclose(s.error, reconstruction_errors(run.X[s.rows], reconstruct(run.model, run.X[s.rows])), rtol=1e-6)
    assert list(s.labels) == list(run.dataset.label_names()[s.rows])


def test_best_and_worst_are_the_extremes_of_the_test_errors(runs):
    run = runs["digits"]
    test = rc.held_out_rows(run.split)
    all_err = reconstruction_errors(run.X[test], reconstruct(run.model, run.X[test]))
    best, worst = rc.pick_samples(run, "best", n=3), rc.pick_samples(run, "worst", n=3)
    np.testing.assert_allclose(best.error, np.sort(all_err)[:3], rtol=1e-6)
    np.testing.assert_allclose(worst.error, np.sort(all_err)[::-1][:3], rtol=1e-6)


def test_pick_samples_by_class_only_returns_that_class(runs):
    run = runs["digits"]
    s = rc.pick_samples(run, "by class", n=4, cls="7")
    assert set(s.labels) == {"7"}
    assert rc.class_choices(run) == sorted(str(i) for i in range(10))


def test_pick_samples_random_is_seeded(runs):
    a, b = (rc.pick_samples(runs["digits"], "random", n=5, seed=3) for _ in range(2))
    np.testing.assert_array_equal(a.rows, b.rows)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"how": "sideways"}, "unknown choice"),
    ({"how": "by class", "cls": "banana"}, "no test sample of class"),
    ({"how": "random", "n": 0}, "at least one"),
])
def test_pick_samples_rejects_bad_choices(runs, kwargs, match):
    with pytest.raises(InputError, match=match):
        rc.pick_samples(runs["digits"], **kwargs)


# ---- tabular ------------------------------------------------------------------------


def test_feature_errors_are_per_column_mse_sorted_worst_first():
    X = np.zeros((4, 3))
    X_hat = np.array([[0, 1, 2]] * 4, dtype=float)
    df = rc.feature_errors(X, X_hat, ["a", "b", "c"])
    assert list(df["feature"]) == ["c", "b", "a"]
    np.testing.assert_allclose(df["mse"], [4.0, 1.0, 0.0])
    with pytest.raises(InputError, match="same 2-D shape"):
        rc.feature_errors(X, X_hat[:, :2], ["a", "b"])


def test_feature_errors_average_to_the_test_mse(runs):
    run = runs["outliers"]
    df = rc.held_out_feature_errors(run)
    assert len(df) == 12 and df["mse"].is_monotonic_decreasing
    assert df["mse"].mean() == pytest.approx(run.metrics["test_mse"], rel=1e-4)


def test_original_vs_reconstructed_is_in_original_units(runs):
    run = runs["outliers"]
    s = rc.pick_samples(run, "worst", n=2)
    df = rc.original_vs_reconstructed(run, s)
    assert list(df["feature"]) == list(run.dataset.feature_names)
    r = s.rows[0]
    np.testing.assert_allclose(df[f"row {r}: original"], run.dataset.X[r], rtol=1e-6)
    np.testing.assert_allclose(df[f"row {r}: reconstructed"], run.scaler.inverse_transform(s.reconstructed[:1])[0], rtol=1e-5)


# ---- generation ---------------------------------------------------------------------


def test_interpolation_starts_and_ends_at_the_two_reconstructions(runs):
    run = runs["digits"]
    a, b = run.X[0], run.X[1]
    frames = rc.interpolate(run.model, a, b, steps=5)
    assert frames.shape == (5, 64)
    ends = reconstruct(run.model, np.stack([a, b]))
    np.testing.assert_allclose(frames[[0, -1]], ends, atol=1e-5)
    with pytest.raises(InputError, match="between 2 and 64"):
        rc.interpolate(run.model, a, b, steps=1)


def test_prior_samples_need_a_vae_and_are_seeded():
    vae = Autoencoder(model_config_for("variational", n_features=10, hidden=(8,), latent_dim=2), seed=0)
    a, b = rc.prior_samples(vae, 4, seed=2), rc.prior_samples(vae, 4, seed=2)
    assert a.shape == (4, 10) and np.array_equal(a, b)
    ae = Autoencoder(model_config_for("vanilla", n_features=10, hidden=(8,), latent_dim=2), seed=0)
    with pytest.raises(InputError, match="only a variational"):
        rc.prior_samples(ae, 4)


# ---- compression ----------------------------------------------------------------------


@pytest.mark.parametrize(("n_features", "extra", "expected"), [
    (64, (), [2, 4, 8, 16, 32]),
    (30, (3,), [2, 3, 4, 8, 16]),
    (13, (40,), [2, 4, 8]),
    (2, (), [1]),
], ids=["digits", "extra-size", "too-large-ignored", "tiny"])
def test_code_sizes_stay_below_the_feature_count(n_features, extra, expected):
    assert rc.code_sizes(n_features, extra) == expected


def test_rate_distortion_pairs_runs_with_pca_at_every_size():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10)) @ rng.normal(size=(10, 10))
    recs = [_record("00000000000a", 2, 0.9), _record("00000000000b", 2, 0.4), _record("00000000000c", 4, 0.3),
            _record("00000000000d", 8, status="running")]
    df = rc.rate_distortion(recs, X[:150], X[150:])
    assert list(df["code size"]) == [2, 4, 8]
    assert list(df["run"]) == ["00000000000b", "00000000000c", ""]  # the best run per size
    assert df["AE test MSE"].iloc[0] == 0.4 and np.isnan(df["AE test MSE"].iloc[2])
    assert df["PCA test MSE"].is_monotonic_decreasing  # more components, less error
    assert rc.missing_sizes(df, recs) == []  # size 8 is already running
    assert rc.missing_sizes(df, recs[:3]) == [8]


def test_rate_distortion_matches_the_runs_own_pca_metric(runs):
    run = runs["digits"]
    train, test = run.X[run.split == 0], run.X[run.split == 2]
    df = rc.rate_distortion([run.record], train, test)
    row = df[df["code size"] == 2].iloc[0]
    assert row["PCA test MSE"] == pytest.approx(run.metrics["pca_mse"], rel=1e-5)
    assert row["AE test MSE"] == pytest.approx(run.metrics["test_mse"])


def test_same_family_matches_dataset_options_and_variant():
    ref = _record("00000000000a")
    others = [_record("00000000000b", 8), _record("00000000000c", variant="sparse"),
              _record("00000000000d", options={"n_samples": 10}), _record("00000000000e", dataset="wine")]
    assert [r.id for r in rc.same_family([ref, *others], ref)] == ["00000000000a", "00000000000b"]


def test_config_for_code_size_keeps_everything_but_the_code_size(runs):
    ref = runs["digits"].record.config
    cfg = json.loads(json.dumps(config_for_code_size(ref, 8)))  # as the store keeps it
    assert cfg["model"]["latent_dim"] == 8
    assert {k: v for k, v in cfg["model"].items() if k != "latent_dim"} == {k: v for k, v in ref["model"].items() if k != "latent_dim"}
    assert cfg["train"] == ref["train"] and cfg["dataset"] == ref["dataset"]


@pytest.mark.parametrize(("args", "text"), [
    ((64, 2, (8, 8)), "each 64-pixel image is stored as 2 numbers: 32x smaller"),
    ((30, 4, None), "each row of 30 values is stored as 4 numbers: 7.5x smaller"),
    ((13, 1, None), "each row of 13 values is stored as 1 number: 13x smaller"),
    ((4, 4, None), "each row of 4 values is stored as 4 numbers: no smaller"),
])
def test_compression_ratio_text(args, text):
    assert rc.compression_ratio_text(*args) == text


# ---- figures ------------------------------------------------------------------------


def test_image_rows_figure_is_one_image_with_a_title_per_tile():
    rows = [np.random.default_rng(0).random((3, 16)), np.zeros((3, 16))]
    fig = image_rows_figure(rows, (4, 4), [["<b>x</b>", "b", "c"], ["MSE 0.1", "", ""]])
    assert len(fig.data) == 1  # one PNG for all thumbnails
    texts = [a.text for a in fig.layout.annotations]
    assert "&lt;b&gt;x&lt;/b&gt;" in texts and "MSE 0.1" in texts  # user text is shown, never rendered
    with pytest.raises(InputError, match="no images"):
        image_rows_figure([np.zeros((0, 16))], (4, 4))
    with pytest.raises(InputError, match="same number"):
        image_rows_figure([np.zeros((2, 16)), np.zeros((3, 16))], (4, 4))


def test_rate_distortion_and_feature_figures_draw_the_table():
    table = pd.DataFrame({"code size": [2, 4], "AE test MSE": [0.2, np.nan], "PCA test MSE": [0.5, 0.3], "run": ["a", ""]})
    fig = rate_distortion_figure(table)
    assert list(fig.data[0].y) == [0.5, 0.3] and list(fig.data[1].y) == [0.2]
    bars = feature_error_figure(pd.DataFrame({"feature": ["a", "b"], "mse": [2.0, 1.0]}))
    assert list(bars.data[0].y) == ["b", "a"]  # worst at the top


def test_latent_scatter_has_a_trace_per_class():
    Y = np.random.default_rng(0).normal(size=(30, 2))
    fig = latent_scatter_figure(Y, np.array(["a", "b", "c"] * 10), "t")
    assert len(fig.data) == 3 and sum(len(t.x) for t in fig.data) == 30
    assert fig.layout.height == 400


# ---- small helpers the page shows -----------------------------------------------------


def test_sample_titles_and_frame_carry_row_class_and_error(runs):
    s = rc.pick_samples(runs["digits"], "best", n=2)
    top, bottom = rc.sample_titles(s)
    assert top[0] == f"row {s.rows[0]} · {s.labels[0]}" and bottom[0] == f"MSE {s.error[0]:.4f}"
    df = rc.samples_frame(s)
    assert list(df.columns) == ["row", "class", "MSE"] and df["MSE"].tolist() == list(s.error)


def test_default_pair_is_two_test_rows_of_different_classes(runs):
    run = runs["digits"]
    a, b = rc.default_pair(run)
    names = run.dataset.label_names()
    assert run.split[a] == run.split[b] == 2 and names[a] != names[b]
    assert rc.row_choice_label(run, a) == f"row {a} · class {names[a]}"


def test_feature_table_is_in_original_units(runs):
    run = runs["outliers"]
    X = run.X[:2]
    df = rc.feature_table(run, X, ["a", "b"])
    np.testing.assert_allclose(df["a"], run.dataset.X[0], rtol=1e-4, atol=1e-4)
    with pytest.raises(InputError, match="column names"):
        rc.feature_table(run, X, ["a"])


def test_pca_errors_precomputed_are_reused():
    X = np.random.default_rng(0).normal(size=(60, 5))
    df = rc.rate_distortion([], X[:40], X[40:], sizes=[2, 3], pca={2: 123.0})
    assert df["PCA test MSE"].iloc[0] == 123.0
    assert df["PCA test MSE"].iloc[1] == pytest.approx(rc.pca_errors(X[:40], X[40:], [3])[3])


def test_subsample_keeps_small_sets_whole_and_is_seeded():
    from ae_core.figures.reconstruction import subsample

    assert subsample(10, 20).tolist() == list(range(10))
    a = subsample(100, 10, seed=1)
    assert len(a) == 10 and (np.diff(a) > 0).all() and a.tolist() == subsample(100, 10, seed=1).tolist()


def test_rate_distortion_summary_says_where_the_autoencoder_wins():
    table = pd.DataFrame({"code size": [2, 4, 16], "AE test MSE": [0.1, np.nan, 0.05], "PCA test MSE": [0.2, 0.1, 0.01],
                          "run": ["a", "", "b"]})
    text = rc.rate_distortion_summary(table)
    assert text.startswith("The autoencoder reconstructs better than PCA at code size 2; PCA is as good or better at 16")
    assert rc.rate_distortion_summary(table.assign(**{"AE test MSE": np.nan})).startswith("No autoencoder run yet")
