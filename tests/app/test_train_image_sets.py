"""The Train page on a person's image set (AppTest): an uploaded zip is a dataset like digits, trains with any
variant (convolutional on RGB included), and every explore page and the export work on the run it makes."""

from __future__ import annotations

import io
import zipfile

import pytest

from ae_core.runs import upload
from ae_core.runs.execute import execute_run
from ae_core.runs.export import run_bundle
from tests.conftest import app_errors, app_text, page_app, page_on_run
from tests.image_samples import shapes_zip

EXPLORE = ["latent.py", "reconstructions.py", "denoising.py", "anomalies.py", "compare.py"]


def _train_page_on_upload(store, tmp_path):
    """The Train page with an uploaded zip of 40 RGB discs chosen as the dataset."""
    upload.save_upload(store.root, "shapes.zip", shapes_zip(tmp_path / "s.zip", n=20).read_bytes())
    at = page_app("train.py").run()
    assert not at.exception, at.exception
    box = at.selectbox(key="train_dataset")
    (key,) = [o for o in box.options if o.startswith("Your images")]
    box.select(key).run()
    assert not at.exception, at.exception
    return at


def test_an_uploaded_zip_is_a_dataset_on_the_train_page(store, tmp_path):
    at = _train_page_on_upload(store, tmp_path)
    text = app_text(at)
    assert "Images: shapes" in text and "**image size:** 16x16 pixels, RGB" in text and "**classes:** 2: blue, red" in text
    assert len(at.get("plotly_chart")) == 1  # the first images, in colour
    assert not app_errors(at)


@pytest.mark.parametrize("variant", ["convolutional", "vanilla"])
def test_train_starts_any_variant_on_an_uploaded_image_set(fake_manager, store, tmp_path, variant):
    at = _train_page_on_upload(store, tmp_path)
    at.radio(key="train_variant").set_value(variant).run()
    assert not app_errors(at), app_errors(at)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    (rec,) = store.list()
    assert rec.status == "queued" and rec.variant == variant and rec.dataset == "shapes"
    assert rec.config["dataset"]["name"] == "images" and rec.config["dataset"]["options"]["path"].endswith(".zip")
    assert tuple(rec.config["model"]["image_shape"]) == (16, 16, 3)


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    """A convolutional run on an uploaded RGB zip, configured by the Train page and trained as the worker does."""
    from streamlit.testing.v1 import AppTest  # noqa: F401 - fail early where streamlit is missing

    from ae_core.runs.store import RunStore

    root = tmp_path_factory.mktemp("train_images")
    store = RunStore(root / "runs")
    mp = pytest.MonkeyPatch()
    mp.setenv("AE_RUNS_DIR", str(store.root))
    try:
        import ui.state
        from tests.conftest import FakeManager

        fake = FakeManager(store)
        mp.setattr(ui.state, "manager", lambda: fake)
        at = _train_page_on_upload(store, root)
        at.radio(key="train_variant").set_value("convolutional").run()
        at.number_input(key=next(n.key for n in at.number_input if n.key.startswith("epochs_"))).set_value(4).run()
        at.button(key="train_start").click().run()
        assert not at.exception, at.exception
    finally:
        mp.undo()
    (rec,) = store.list()
    assert execute_run(store, rec.id) == "done", store.get(rec.id).error
    return store, rec.id


@pytest.mark.parametrize("page", EXPLORE, ids=[p.removesuffix(".py") for p in EXPLORE])
def test_every_explore_page_draws_a_run_started_on_the_train_page(conv_run, monkeypatch, page):
    store, run_id = conv_run
    monkeypatch.setenv("AE_RUNS_DIR", str(store.root))
    at = page_on_run(page, run_id)
    assert not app_errors(at), app_errors(at)
    assert at.get("plotly_chart") or at.get("bidi_component")  # it drew something for the run


def test_the_export_of_a_run_started_on_the_train_page_names_the_images(conv_run):
    store, run_id = conv_run
    with zipfile.ZipFile(io.BytesIO(run_bundle(store, run_id))) as zf:
        readme = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("README.txt"))
    assert "--images" in readme and "--variant convolutional" in readme


def test_the_upload_page_points_to_the_train_page_for_other_variants(store, tmp_path):
    from tests.conftest import choose_file, upload_page

    at = choose_file(upload_page().run(), shapes_zip(tmp_path / "s.zip", n=5).read_bytes(), "shapes.zip",
                     "application/zip")
    assert "choose these images on the Train page" in app_text(at)
    at = page_app("train.py").run()
    assert "Your images: shapes" in at.selectbox(key="train_dataset").options  # the options as shown
