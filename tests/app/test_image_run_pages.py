"""Every explore page, and the export, on runs trained on a person's images (RGB conv, grey dense)."""

from __future__ import annotations

import io
import zipfile

import pytest

from ae_core.runs.execute import execute_run
from ae_core.runs.export import run_bundle
from ae_core.runs.spec import make_config
from tests.conftest import app_errors, page_on_run
from tests.image_samples import shapes_zip

PAGES = ["latent.py", "reconstructions.py", "denoising.py", "anomalies.py", "compare.py"]


@pytest.fixture(scope="module")
def image_runs(tmp_path_factory):
    from ae_core.runs.store import RunStore

    root = tmp_path_factory.mktemp("image_runs")
    store = RunStore(root / "runs")
    z = str(shapes_zip(root / "shapes.zip", n=40))
    ids = {}
    for key, variant, colour in (("rgb", "convolutional", "rgb"), ("grey", "denoising", "grayscale")):
        config = make_config("images", variant, {"path": z, "colour": colour}, train={"epochs": 3})
        ids[key] = store.create(config).id
        assert execute_run(store, ids[key]) == "done", store.get(ids[key]).error
    return store, ids


@pytest.mark.parametrize("kind", ["rgb", "grey"])
@pytest.mark.parametrize("page", PAGES, ids=[p.removesuffix(".py") for p in PAGES])
def test_every_explore_page_draws_an_image_run(image_runs, monkeypatch, page, kind):
    store, ids = image_runs
    monkeypatch.setenv("AE_RUNS_DIR", str(store.root))
    at = page_on_run(page, ids[kind])
    assert not app_errors(at), app_errors(at)


def test_the_export_of_an_image_run_reproduces_it_from_the_zip(image_runs):
    store, ids = image_runs
    with zipfile.ZipFile(io.BytesIO(run_bundle(store, ids["rgb"]))) as zf:
        readme = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("README.txt"))
    assert "--images" in readme and "--colour rgb" in readme
