"""runs.every_row: a run that trained on a sample of its table keeps every row's code as an artifact."""

import numpy as np
import pytest

from ae_core.errors import InputError
from ae_core.runs import every_row
from ae_core.runs.loaded import load_run
from tests.conftest import train_tiny
from tests.data.test_large_table import N, messy, write


@pytest.fixture
def sampled_run(store, tmp_path):
    path = write(messy(), tmp_path / "t.csv")
    run_id = train_tiny(store, "csv", dataset_options={"path": str(path), "label_column": "label", "max_rows": 200})
    return load_run(store, run_id), path


def test_a_sampled_run_keeps_every_rows_code_after_training(sampled_run):
    run, _ = sampled_run
    every = every_row.read_every_row(run.store, run.id)
    assert every is not None and len(every) == N - 1  # row 5 has nothing to learn from
    assert every.rows.tolist() == [r for r in range(N) if r != 5]
    assert every.latent.dtype == np.float32 and every.latent.shape == (N - 1, run.latent.shape[1])
    assert np.isfinite(every.latent).all()
    # The rows it trained on carry exactly the codes of latent.npy: the same model, the same scaling.
    at = np.searchsorted(every.rows, run.dataset.row_index)
    np.testing.assert_allclose(every.latent[at], run.latent, atol=1e-4)
    assert every.label_column == "label" and set(every.label_names) == {"p", "q"}
    labels = every.labels()
    assert len(labels) == N - 1 and set(labels.astype(str)) == {"p", "q"}
    assert (np.asarray(labels[at]).astype(str) == run.dataset.label_names().astype(str)).all()


def test_a_run_on_every_row_has_no_every_row_artifact(store, tmp_path):
    path = write(messy(), tmp_path / "t.csv")
    run = load_run(store, train_tiny(store, "csv", dataset_options={"path": str(path)}))
    assert not every_row.trained_on_a_sample(run.dataset)
    assert every_row.read_every_row(store, run.id) is None and every_row.every_row_for(run) is None


def test_an_older_sampled_run_is_encoded_on_first_use_and_kept(sampled_run):
    run, _ = sampled_run
    kept = every_row.read_every_row(run.store, run.id)
    for name in (every_row.LATENT, every_row.ROWS, every_row.LABELS, every_row.LABEL_NAMES):
        run.store.path(run.id, name).unlink()
    assert every_row.read_every_row(run.store, run.id) is None
    again = every_row.every_row_for(run)
    np.testing.assert_allclose(again.latent, kept.latent, atol=1e-5)
    assert again.rows.tolist() == kept.rows.tolist() and run.store.has(run.id, every_row.LATENT)


def test_a_changed_file_is_refused_with_a_reason(sampled_run):
    run, path = sampled_run
    trained_on = run.dataset.feature_names  # read before the file changes
    write(messy().drop(columns=["x", "kind"]), path)
    with pytest.raises(InputError, match="no longer match"):
        list(every_row.stream_codes(run.record.config["dataset"]["options"], trained_on, run.model, run.scaler))


def test_damaged_every_row_arrays_are_an_input_error(sampled_run):
    run, _ = sampled_run
    run.store.write_array(run.id, every_row.ROWS, np.arange(3))
    with pytest.raises(InputError, match="damaged"):
        every_row.read_every_row(run.store, run.id)


def test_a_table_without_labels_keeps_codes_only(store, tmp_path):
    path = write(messy().drop(columns=["label"]), tmp_path / "t.parquet")
    run_id = train_tiny(store, "csv", dataset_options={"path": str(path), "max_rows": 100})
    every = every_row.read_every_row(store, run_id)
    assert len(every) == N - 1 and every.label_codes is None and every.labels() is None


def test_selection_frame_lists_chosen_rows_with_label_and_code(sampled_run):
    run, _ = sampled_run
    every = every_row.read_every_row(run.store, run.id)
    got = every_row.selection_frame(every, [599, 5, 0, 7, 10_000, 7])  # 5 was dropped, 10,000 is not a row
    assert got["row"].tolist() == [0, 7, 599] and list(got.columns) == ["row", "label", "z1", "z2"]
    np.testing.assert_array_equal(got[["z1", "z2"]].to_numpy(), every.latent[[0, 6, 598]])
    assert every_row.selection_frame(every, range(600), limit=3)["row"].tolist() == [0, 1, 2]


# ---- what a chart of the code draws: every row of the file, or the rows trained on ---------------


@pytest.fixture
def sampled_ds(tmp_path):
    """A table dataset that is a random sample of 200 of its file's 600 rows (no training: the report says so)."""
    from ae_core.data.registry import load_dataset

    return load_dataset("csv", path=str(write(messy(), tmp_path / "t.csv")), label_column="label", max_rows=200)


def codes(n: int = N - 1) -> every_row.EveryRow:
    """Every-row codes as `read_every_row` returns them (row 5 of the file dropped)."""
    return every_row.EveryRow(np.zeros((n, 2), np.float32), np.array([r for r in range(n + 1) if r != 5]))


@pytest.mark.parametrize("method", ["latent", "pca"])
def test_a_sampled_run_with_its_every_row_codes_draws_every_row_and_says_so(sampled_ds, method):
    every = codes()
    drawn = every_row.rows_drawn(sampled_ds, every, method, 2)
    assert drawn.every is every
    assert drawn.caption == ("The model trained on a random sample of 200 of this file's 599 rows. Drawing all 599 "
                             "rows: where points pile up the chart shows their density; zoom in to see each point.")


@pytest.mark.parametrize("method, dims, said", [("umap", 2, "UMAP in 2-D"), ("tsne", 2, "t-SNE in 2-D"),
                                                ("pca", 3, "PCA in 3-D"), ("latent", 3, "The code itself in 3-D")],
                         ids=["umap", "tsne", "pca-3d", "latent-3d"])
def test_a_view_that_cannot_draw_every_row_draws_the_sample_and_says_where_every_row_is(sampled_ds, method, dims,
                                                                                         said):
    drawn = every_row.rows_drawn(sampled_ds, codes(), method, dims)
    assert drawn.every is None
    assert drawn.caption == (f"The model trained on a random sample of 200 of this file's 599 rows. {said} draws the "
                             "200 rows trained on; the code itself and PCA in 2-D draw every row.")


def test_a_sampled_run_without_its_every_row_codes_draws_the_sample_without_a_caption(sampled_ds):
    """Its file is gone or changed (the page's warning says so): nothing claims to draw every row."""
    assert every_row.rows_drawn(sampled_ds, None, "latent", 2) == every_row.RowsDrawn(None, None)


def test_a_run_on_every_row_draws_its_own_codes_without_a_caption(tmp_path):
    from ae_core.data.registry import load_dataset

    ds = load_dataset("csv", path=str(write(messy(), tmp_path / "t.csv")))
    assert not every_row.trained_on_a_sample(ds)
    assert every_row.rows_drawn(ds, codes(), "latent", 2) == every_row.RowsDrawn(None, None)


def test_beside_a_projection_of_the_input_every_row_is_drawn_and_the_caption_says_which_chart_is_the_sample(sampled_ds):
    drawn = every_row.rows_drawn(sampled_ds, codes(), beside="UMAP")
    assert drawn.every is not None
    assert drawn.caption == ("The code of all 599 rows of your file (left; where points pile up, their density: zoom "
                             "in to see each point); the model trained on a random sample of 200 of them, which the "
                             "input's UMAP (right) draws. The code is coloured by the label only: the other colourings "
                             "are of the sample.")
