"""ae_core.analysis.latent: the tables, images and frames behind the Latent-space page."""

import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ae_core.analysis import latent as lat
from ae_core.data.registry import Dataset
from ae_core.errors import InputError
from ae_core.runs.loaded import load_run


@pytest.fixture
def digits(trained_store):
    store, ids = trained_store
    return load_run(store, ids["digits"])


@pytest.fixture
def outliers(trained_store):
    store, ids = trained_store
    return load_run(store, ids["outliers"])


def fake_run(n=12, D=2, columns=None, y=True, evolution=None):
    """Just the attributes latent.py reads, for cases the trained runs do not cover."""
    rng = np.random.default_rng(0)
    ds = Dataset(name="fake", X=rng.random((n, 4), dtype=np.float32), kind="tabular", description="",
                 y=(np.arange(n) % 2) if y else None, class_names=("no", "yes") if y else None, columns=columns)
    arrays = evolution or {}
    return SimpleNamespace(dataset=ds, latent=rng.normal(size=(n, D)).astype(np.float32),
                           split=np.arange(n) % 3, recon_error=rng.random(n).astype(np.float32),
                           array=lambda name: arrays.get(name))


def test_projection_and_dims_choices_follow_the_code_size():
    assert lat.projection_choices(2)[0] == "latent" and lat.projection_choices(8) == ["pca", "umap", "tsne"]
    assert lat.dims_choices("latent", 2) == [2] and lat.dims_choices("latent", 3) == [2, 3]
    assert lat.dims_choices("pca", 2) == [2, 3]


def test_latent_frame_has_a_row_per_sample_with_code_label_split_error(digits):
    frame = lat.latent_frame(digits)
    assert len(frame) == len(digits.latent) == 1797
    assert list(frame.columns) == ["row", "z1", "z2", "label", "split", "reconstruction error"]
    np.testing.assert_array_equal(frame[["z1", "z2"]].to_numpy(), digits.latent)
    assert set(frame["split"]) == {"train", "validation", "test"}
    assert (frame["split"] == "test").sum() == (digits.split == 2).sum()
    assert frame["label"].iloc[0] == str(digits.dataset.y[0])


def test_latent_frame_adds_projection_and_data_columns_without_clashes():
    cols = pd.DataFrame({"label": list("abcdefghijkl"), "temperature": np.arange(12.0)})
    run = fake_run(columns=cols)
    frame = lat.latent_frame(run, coords=np.ones((12, 2)), method="tsne")
    assert {"tsne_1", "tsne_2", "label (data)", "temperature"} <= set(frame.columns)
    assert frame["label"].iloc[1] == "yes" and frame["label (data)"].iloc[1] == "b"
    assert lat.colour_choices(frame) == ["label", "reconstruction error", "split", "label (data)", "temperature"]
    with pytest.raises(InputError, match="3 projected points for 12 codes"):
        lat.latent_frame(run, coords=np.ones((3, 2)))


def test_colour_choices_without_labels_or_columns():
    assert lat.colour_choices(lat.latent_frame(fake_run(y=False))) == ["reconstruction error", "split"]


def test_hover_columns_are_row_label_and_error():
    frame = lat.latent_frame(fake_run())
    cols = lat.hover_columns(frame)
    assert list(cols) == ["row", "label", "reconstruction error"]
    assert cols["label"].iloc[1] == "yes" and len(cols["row"]) == 12
    assert list(lat.hover_columns(lat.latent_frame(fake_run(y=False)))) == ["row", "reconstruction error"]


def test_view_rows_keeps_small_sets_and_subsamples_big_ones_reproducibly():
    np.testing.assert_array_equal(lat.view_rows(10, limit=20), np.arange(10))
    rows = lat.view_rows(70_000)
    assert len(rows) == lat.VIEW_MAX and (np.diff(rows) > 0).all() and rows[-1] < 70_000
    np.testing.assert_array_equal(rows, lat.view_rows(70_000))


@pytest.mark.parametrize("cell", ["=SUM(A1:A9)", "+1", "-2+3", "@cmd", "\tx", "\r=1"])
def test_neutralise_defuses_formula_cells(cell):
    assert lat.neutralise(cell) == "'" + cell


def test_safe_csv_defuses_text_cells_and_headers_but_not_numbers():
    frame = pd.DataFrame({"=HYPERLINK(1)": ["=cmd|' /C calc'!A0", "plain"], "value": [-1.5, 2.0]})
    back = pd.read_csv(io.BytesIO(lat.safe_csv(frame)))
    assert list(back.columns) == ["'=HYPERLINK(1)", "value"]
    assert back.iloc[0, 0] == "'=cmd|' /C calc'!A0" and back.iloc[1, 0] == "plain"
    assert back["value"].tolist() == [-1.5, 2.0]


def test_rows_from_selection_reads_customdata_not_trace_indices():
    selection = {"points": [{"point_index": 0, "customdata": [17]}, {"point_index": 0, "customdata": 5},
                            {"point_index": 3, "customdata": [17]}], "point_indices": [0, 0, 3]}
    assert lat.rows_from_selection(selection) == [5, 17]
    assert lat.rows_from_selection(None) == [] and lat.rows_from_selection({"points": []}) == []


def test_rows_from_selection_reads_the_row_of_a_typed_array_customdata():
    # A row of a 2-D Float32Array customdata reaches Python as {"0": row, "1": error}.
    selection = {"points": [{"customdata": {"0": 12.0, "1": 0.25}}, {"customdata": {"0": 3.0, "1": 0.5}}]}
    assert lat.rows_from_selection(selection) == [3, 12]


def test_selection_images_pair_originals_with_reconstructions(digits):
    orig, rebuilt, titles, errors = lat.selection_images(digits, [3, 1, 2])
    assert orig.shape == rebuilt.shape == (3, 8, 8)
    assert orig.min() >= 0 and rebuilt.max() <= 1
    np.testing.assert_allclose(orig[0].ravel(), digits.X[3], atol=1e-6)
    assert titles[0] == f"#3 · {digits.dataset.y[3]}" and float(errors[0]) == pytest.approx(digits.recon_error[3], abs=1e-3)


def test_selection_images_shows_at_most_max_shown(digits):
    orig, *_ = lat.selection_images(digits, range(100))
    assert len(orig) == lat.MAX_SHOWN


def test_selection_images_refuses_tabular_runs(outliers):
    with pytest.raises(InputError, match="image datasets"):
        lat.selection_images(outliers, [0])


def test_compare_rows_are_in_original_units(outliers):
    table = lat.compare_rows(outliers, [4, 9])
    assert list(table[""]) == ["original", "reconstructed"] * 2
    assert list(table["row"]) == [4, 4, 9, 9] and "sensor_1" in table.columns
    np.testing.assert_allclose(table.loc[0, "sensor_1"], outliers.dataset.X[4, 0], rtol=1e-4, atol=1e-4)


def test_latent_range_covers_most_codes(digits):
    (a, b), (c, d) = lat.latent_range(digits.latent)
    Z = digits.latent
    inside = (Z[:, 0] >= a) & (Z[:, 0] <= b) & (Z[:, 1] >= c) & (Z[:, 1] <= d)
    assert inside.mean() >= 0.96 and a < b and c < d


def test_decode_plane_puts_high_z2_on_top_and_low_z1_left(digits):
    z_range = ((-1.0, 1.0), (-2.0, 2.0))
    plane = lat.decode_plane(digits.model, z_range, n=5)
    assert plane.shape == (5, 5, 64)
    np.testing.assert_allclose(plane[0, 0], lat.decode_point(digits.model, [-1.0, 2.0]), atol=1e-5)
    np.testing.assert_allclose(plane[4, 4], lat.decode_point(digits.model, [1.0, -2.0]), atol=1e-5)
    z1, z2 = lat.plane_values(z_range, 5)
    assert z1[0] == -1 and z2[-1] == 2


def test_decode_plane_needs_a_2d_code():
    model = SimpleNamespace(cfg=SimpleNamespace(latent_dim=3))
    with pytest.raises(InputError, match="2-D code.*3 dimensions"):
        lat.decode_plane(model, ((0, 1), (0, 1)))


def test_decode_point_checks_the_code_size(digits):
    with pytest.raises(InputError, match="2 dimensions; got a point with 3"):
        lat.decode_point(digits.model, [0, 0, 0])


def test_evolution_frames_of_a_2d_code(digits):
    evo = lat.evolution_frames(digits, "latent")
    codes = digits.array("evolution.npy")
    assert evo.frames.shape == (codes.shape[0], 300, 2) and evo.epochs[0] == 0
    np.testing.assert_array_equal(evo.index, digits.array("evolution_index.npy"))
    radius = np.sqrt((evo.frames ** 2).sum(axis=2).mean(axis=1))
    np.testing.assert_allclose(radius, 1.0, rtol=1e-4)  # every frame the same size
    np.testing.assert_allclose(evo.frames.mean(axis=1), 0.0, atol=1e-5)


def test_evolution_frames_of_a_wide_code_use_one_pca():
    rng = np.random.default_rng(0)
    final = rng.normal(size=(50, 6)) * np.array([5, 3, 0.1, 0.1, 0.1, 0.1])
    codes = np.stack([final * 0.01, final * 0.5, final])
    evo = lat.evolution_frames(fake_run(evolution={"evolution.npy": codes, "evolution_index.npy": np.arange(50)}), "pca")
    assert evo.frames.shape == (3, 50, 2)
    # The same linear map on a scaled copy, normalised per frame: all frames agree.
    np.testing.assert_allclose(evo.frames[0], evo.frames[2], atol=1e-4)
    with pytest.raises(InputError, match="6-D code"):
        lat.evolution_frames(fake_run(evolution={"evolution.npy": codes, "evolution_index.npy": np.arange(50)}), "latent")


def test_evolution_frames_missing_or_bad_method():
    assert lat.evolution_frames(fake_run()) is None
    run = fake_run(evolution={"evolution.npy": np.zeros((2, 5, 2)), "evolution_index.npy": np.arange(5)})
    with pytest.raises(InputError, match="'latent' or 'pca'"):
        lat.evolution_frames(run, "tsne")


def test_decoded_row_is_in_the_data_units(outliers):
    table = lat.decoded_row(outliers, [0.0, 0.0])
    assert list(table["feature"]) == list(outliers.dataset.feature_names)
    expected = outliers.scaler.inverse_transform(lat.decode_point(outliers.model, [0.0, 0.0])[None])[0]
    np.testing.assert_allclose(table["decoded value"], expected, rtol=1e-5, atol=1e-5)  # numpy decoder vs torch: float32 rounding


def test_as_thumbnail_is_dark_ink_on_white_with_sharp_square_pixels():
    x = np.zeros(64, np.float32)
    x[0] = 1.0  # top-left pixel full ink
    img = lat.as_thumbnail(x, (8, 8), px=220)
    assert img.dtype == np.uint8 and img.shape == (216, 216)  # 27 screen pixels per image pixel
    assert (img[:27, :27] == 0).all() and (img[27:, 27:] == 255).all()
