"""ae_core.runs.image_sets: the image sets a store knows, as datasets to choose."""

from __future__ import annotations

import pytest

from ae_core.runs import upload
from ae_core.runs.image_sets import image_sets
from ae_core.runs.spec import make_config
from ae_core.runs.store import RunStore
from tests.image_samples import shapes_zip


def test_an_uploaded_zip_is_an_image_set_under_its_file_name(tmp_path):
    store = RunStore(tmp_path / "runs")
    data = shapes_zip(tmp_path / "s.zip", n=6).read_bytes()
    path = upload.save_upload(store.root, "My Shapes.zip", data)
    (s,) = image_sets(store)
    assert s.name == "My Shapes" and s.title == "Your images: My Shapes"
    assert s.options == {"path": str(path), "display_name": "My Shapes"} and s.key.startswith("images:")


def test_a_source_runs_used_is_listed_once_per_side_and_colour_with_their_settings(tmp_path):
    store = RunStore(tmp_path / "runs")
    folder = tmp_path / "photos.zip"
    shapes_zip(folder, n=6)
    for side, colour in ((12, "rgb"), (12, "rgb"), (8, "grayscale")):
        store.create(make_config("images", "vanilla", {"path": str(folder), "side": side, "colour": colour}))
    store.create(make_config("digits"))  # not an image set of the person's
    sets = image_sets(store)
    assert [s.title for s in sets] == ["Your images: photos (8 px, grayscale)", "Your images: photos (12 px, rgb)"]
    assert len({s.key for s in sets}) == 2


def test_an_upload_a_run_used_is_not_listed_again_with_automatic_settings(tmp_path):
    store = RunStore(tmp_path / "runs")
    path = upload.save_upload(store.root, "shapes.zip", shapes_zip(tmp_path / "s.zip", n=6).read_bytes())
    store.create(upload.quick_image_config(path, display_name="shapes"))
    (s,) = image_sets(store)
    assert s.options["side"] == 16 and s.options["colour"] == "rgb" and s.name == "shapes"


def test_a_source_that_is_gone_is_left_out(tmp_path):
    store = RunStore(tmp_path / "runs")
    z = shapes_zip(tmp_path / "gone.zip", n=6)
    store.create(make_config("images", "vanilla", {"path": str(z)}))
    z.unlink()
    assert image_sets(store) == []


@pytest.mark.slow
def test_an_uploaded_set_trains_in_a_background_worker_like_any_dataset(tmp_path):
    import os

    from ae_core.runs.jobs import JobManager
    from ae_core.runs.loaded import load_run

    store = RunStore(tmp_path / "runs")
    upload.save_upload(store.root, "shapes.zip", shapes_zip(tmp_path / "s.zip", n=10).read_bytes())
    (s,) = image_sets(store)
    manager = JobManager(store, max_parallel=1, poll_seconds=0.1, standby=False)
    try:
        rec = manager.submit(make_config("images", "convolutional", s.options, train={"epochs": 3}))
        done = manager.wait(rec.id, timeout=120)
    finally:
        manager.shutdown()
    assert done.status == "done", done.error
    assert done.pid != os.getpid()
    run = load_run(store, rec.id)
    assert run.dataset.image_shape == (16, 16, 3) and run.latent.shape == (20, 2)
    assert store.path(rec.id, "atlas.png").is_file()  # the pictures for the latent scatter, written by the worker
