"""ae_core.analysis.projection: codes to 2-D/3-D coordinates, and their cache in a run's folder."""

import sys
import types

import numpy as np
import pytest

from ae_core.analysis import projection
from ae_core.analysis.projection import cache_name, cached_projection, place_by_neighbours, project, subsample_note
from ae_core.errors import InputError


def blobs(n=120, d=5, seed=0):
    """Two well separated clusters in d dimensions, and which cluster each row is."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return (rng.normal(size=(n, d)) + 8.0 * y[:, None]).astype(np.float32), y


def knn_separates(Y, y) -> bool:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(3).fit(Y, y).score(Y, y) == 1.0


@pytest.mark.parametrize("k", [2, 3], ids=["2d", "3d"])
@pytest.mark.parametrize("method", ["latent", "pca", "tsne"])
def test_project_returns_float32_of_requested_shape(method, k):
    Z, _ = blobs(d=3)
    Y = project(Z, method, k)
    assert Y.shape == (len(Z), k) and Y.dtype == np.float32 and np.isfinite(Y).all()


def test_latent_is_the_code_itself_and_pads_a_short_code():
    Z = np.arange(20, dtype=np.float32).reshape(10, 2)
    np.testing.assert_array_equal(project(Z, "latent"), Z)
    Y = project(Z[:, :1], "latent")
    np.testing.assert_array_equal(Y[:, 0], Z[:, 0])
    assert (Y[:, 1] == 0).all()


def test_latent_rejects_a_code_too_long_to_draw():
    with pytest.raises(InputError, match="4 dimensions.*choose pca, umap or tsne"):
        project(np.zeros((10, 4)), "latent")


def test_unknown_method_lists_the_choices():
    with pytest.raises(InputError, match="latent, pca, umap, tsne"):
        project(np.zeros((10, 2)), "isomap")


@pytest.mark.parametrize("bad", [np.zeros(10), np.zeros((1, 3)), np.full((10, 3), np.nan)], ids=["1d", "one-row", "nan"])
def test_rejects_unusable_codes(bad):
    with pytest.raises(InputError):
        project(bad, "pca")


def test_draws_only_two_or_three_dimensions():
    with pytest.raises(InputError, match="2 or 3"):
        project(np.zeros((10, 5)), "pca", 4)


def test_pca_puts_the_widest_direction_first():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 4)) * np.array([10.0, 1.0, 0.1, 0.1])
    Y = project(Z, "pca")
    assert Y[:, 0].var() > 10 * Y[:, 1].var()


def test_pca_of_a_one_dimensional_code_pads_with_zeros():
    Y = project(np.random.default_rng(0).normal(size=(30, 1)), "pca", 3)
    assert Y.shape == (30, 3) and (Y[:, 1:] == 0).all()


def test_tsne_keeps_separate_clusters_apart_and_reports_its_progress():
    Z, y = blobs()
    reports = []
    assert knn_separates(project(Z, "tsne", progress=lambda msg, fraction=None: reports.append((msg, fraction))), y)
    fractions = [f for _, f in reports if f is not None]
    assert len(fractions) == 10 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert reports[-1][0].startswith(f"t-SNE on {len(Z):,} points: iteration 250 of 250")


def test_tsne_finds_exact_neighbours(monkeypatch):
    # openTSNE would use Annoy from 1,000 points: on 10,000 x 32 codes 8.3 s against 1.0 s exact
    import openTSNE

    calls = {}
    real = openTSNE.TSNE

    def spy(**kw):
        calls.update(kw)
        return real(**kw)

    monkeypatch.setattr(openTSNE, "TSNE", spy)
    Z, y = blobs()
    assert knn_separates(project(Z, "tsne"), y)
    assert calls["neighbors"] == "exact"


def test_tsne_above_the_cap_fits_a_subsample_and_places_the_rest(monkeypatch):
    monkeypatch.setattr(projection, "TSNE_MAX", 60)
    Z, y = blobs(n=150)
    messages = []
    Y = project(Z, "tsne", progress=lambda msg, fraction=None: messages.append(msg))
    assert Y.shape == (150, 2) and np.isfinite(Y).all()
    assert knn_separates(Y, y)  # the placed points land with their own cluster
    assert any("placing the other 90" in m for m in messages)
    assert "random 60 of the 150" in subsample_note("tsne", 150)
    assert subsample_note("tsne", 60) is None and subsample_note("pca", 10**6) is None


def test_place_by_neighbours_puts_new_points_with_their_neighbours():
    Z_fit = np.array([[0.0], [0.1], [10.0], [10.1]])
    Y_fit = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]], np.float32)
    out = place_by_neighbours(Z_fit, Y_fit, np.array([[0.05], [10.05]]), k=2)
    np.testing.assert_allclose(out, [[0, 0], [5, 5]])


def test_umap_is_called_with_15_neighbours_and_the_seed(monkeypatch):
    calls = {}

    class FakeUMAP:
        def __init__(self, **kw):
            calls.update(kw)

        def fit_transform(self, Z):
            return np.ones((len(Z), calls["n_components"]))

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    Y = project(np.zeros((40, 5)), "umap", 3, seed=7)
    assert Y.shape == (40, 3) and Y.dtype == np.float32
    assert calls["n_neighbors"] == 15 and calls["random_state"] == 7
    project(np.zeros((8, 5)), "umap")
    assert calls["n_neighbors"] == 7  # never more neighbours than other points
    assert calls["n_epochs"] is None  # umap-learn's own choice for a small set (500 epochs)
    project(np.zeros((projection.UMAP_SMALL, 5)), "umap")
    assert calls["n_epochs"] == 200  # from 4,096 points: 200, as umap-learn itself does above 10,000


@pytest.mark.slow
def test_umap_for_real_keeps_separate_clusters_apart():
    Z, y = blobs(n=80)
    assert knn_separates(project(Z, "umap"), y)


def test_umap_and_tsne_need_a_few_points():
    with pytest.raises(InputError, match="at least 5 points"):
        project(np.random.rand(4, 3), "tsne")


def test_cached_projection_writes_the_run_folder_and_reuses_it(store, monkeypatch):
    rec = store.create({"dataset": {"name": "digits"}, "variant": "vanilla"})
    Z, _ = blobs()
    first = cached_projection(store, rec.id, Z, "pca", 2)
    assert store.has(rec.id, "proj_latent_pca_2d.npy") and cache_name("input", "umap", 3) == "proj_input_umap_3d_n15-e200.npy"

    def boom(*a, **k):
        raise AssertionError("recomputed instead of reading the cache")

    monkeypatch.setattr(projection, "project", boom)
    np.testing.assert_array_equal(cached_projection(store, rec.id, Z, "pca", 2), first)


def test_cached_projection_keeps_sources_and_sizes_apart(store):
    rec = store.create({"dataset": {"name": "digits"}, "variant": "vanilla"})
    Z, _ = blobs(d=3)
    a = cached_projection(store, rec.id, Z, "pca", 2, source="latent")
    b = cached_projection(store, rec.id, Z * np.array([1, 100, 1], np.float32), "pca", 2, source="input")
    assert not np.allclose(np.abs(a), np.abs(b))
    # A cache for a different number of rows is recomputed, not returned.
    assert cached_projection(store, rec.id, Z[:50], "pca", 2).shape == (50, 2)
    with pytest.raises(InputError, match="latent, input"):
        cached_projection(store, rec.id, Z, "pca", 2, source="weights")


def test_a_map_cached_with_other_settings_is_drawn_again_and_its_file_removed(store, monkeypatch):
    rec = store.create({"dataset": {"name": "digits"}, "variant": "vanilla"})
    Z, _ = blobs()
    store.write_array(rec.id, "proj_latent_tsne_2d.npy", np.zeros((len(Z), 2), np.float32))  # before settings tags
    monkeypatch.setitem(projection.SETTINGS_TAG, "tsne", "older")
    store.write_array(rec.id, cache_name("latent", "tsne", 2), np.zeros((len(Z), 2), np.float32))
    store.write_array(rec.id, "proj_latent_tsne_3d.npy", np.zeros((len(Z), 3), np.float32))  # another map: kept
    monkeypatch.undo()
    calls = []
    monkeypatch.setattr(projection, "project", lambda Z, *a, **k: calls.append(a) or np.ones((len(Z), 2), np.float32))
    Y = cached_projection(store, rec.id, Z, "tsne", 2)
    assert calls and (Y == 1).all()
    names = sorted(p.name for p in store.folder(rec.id).glob("proj_*"))
    assert names == [cache_name("latent", "tsne", 2), "proj_latent_tsne_3d.npy"]
    assert cached_projection(store, rec.id, Z, "tsne", 2) is not None and len(calls) == 1  # now cached


def test_umap_above_the_cap_fits_a_subsample_and_places_the_rest_in_chunks(monkeypatch):
    seen = {"transform": []}

    class FakeUMAP:
        def __init__(self, **kw):
            self.n_epochs = kw["n_epochs"]

        def fit_transform(self, Z):
            seen["fit"] = len(Z)
            return np.zeros((len(Z), 2))

        def transform(self, Z):
            seen["transform"].append((len(Z), self.n_epochs))
            return Z[:, :2] + 1.0  # placed points: a value the fitted ones (zeros) never have

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    monkeypatch.setattr(projection, "UMAP_MAX", 50)
    monkeypatch.setattr(projection, "PLACE_CHUNK", 40)
    Z = np.random.default_rng(0).random((150, 4)).astype(np.float32) + 1.0
    messages = []
    Y = project(Z, "umap", progress=lambda msg, fraction=None: messages.append(msg))
    assert seen["fit"] == 50 and [n for n, _ in seen["transform"]] == [40, 40, 20]
    assert {e for _, e in seen["transform"]} == {3 * projection.UMAP_TRANSFORM_EPOCHS}
    placed = (Y != 0).all(axis=1)
    assert placed.sum() == 100  # every point beyond the fitted sample has its own place
    np.testing.assert_allclose(Y[placed], Z[placed, :2] + 1.0)
    assert any("then placing the other 100" in m for m in messages)
    assert "random 50 of the 150" in subsample_note("umap", 150) and subsample_note("umap", 50) is None


@pytest.mark.slow
def test_umap_for_real_places_points_beyond_the_sample_with_their_cluster(monkeypatch):
    monkeypatch.setattr(projection, "UMAP_MAX", 80)
    Z, y = blobs(n=200)
    Y = project(Z, "umap")
    assert Y.shape == (200, 2) and np.isfinite(Y).all() and knn_separates(Y, y)
