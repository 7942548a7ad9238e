"""The Upload page with a zip of images (AppTest): the report, hostile zips, Train, and the finished run."""

from __future__ import annotations

import io
import zipfile

from ae_core.runs import upload
from ae_core.runs.execute import execute_run
from tests.conftest import app_text, choose_file, upload_page
from tests.image_samples import shapes_zip


def _upload(at, data: bytes, name: str = "shapes.zip"):
    return choose_file(at, data, name, "application/zip")


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_a_zip_of_images_shows_the_preparation_report(store, tmp_path):
    data = shapes_zip(tmp_path / "s.zip").read_bytes()
    at = _upload(upload_page().run(), data)
    assert _metrics(at) == {"Images read": "60", "Skipped": "0", "Classes": "2", "Size used": "16x16",
                            "Colour": "RGB", "Sizes found": "1"}
    assert "2 classes from the sub-folders: blue (30), red (30)." in app_text(at)
    assert len(at.get("plotly_chart")) == 1  # the prepared images
    assert list(store.root.joinpath("uploads").glob("*.zip"))  # kept content-addressed for the run
    at.button_group(key=next(b.key for b in at.button_group if b.key.startswith("upload_colour_mode"))).set_value(
        "grayscale").run()
    assert _metrics(at)["Colour"] == "grayscale"


def test_a_hostile_zip_is_a_message_and_nothing_to_train(store):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../etc/evil.png", b"x")
    at = _upload(upload_page().run(), buf.getvalue(), "evil.zip")
    assert [e for e in at.error if "unsafe path" in e.value], app_text(at)
    assert "upload_train_images" not in [b.key for b in at.button]
    assert not list(store.root.joinpath("uploads").glob("*.png"))


def test_train_queues_a_conv_run_on_the_images_and_shows_the_result(fake_manager, store, tmp_path):
    at = _upload(upload_page().run(), shapes_zip(tmp_path / "s.zip").read_bytes())
    at.button(key="upload_train_images").click().run()
    assert not at.exception, at.exception
    (rec,) = store.list()
    opts = rec.config["dataset"]["options"]
    assert rec.status == "queued" and upload.is_upload_run(rec) and rec.variant == "convolutional"
    assert (opts["side"], opts["colour"]) == (16, "rgb") and opts["path"].endswith(".zip")
    assert execute_run(store, rec.id) == "done"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key=f"upload_colour_{rec.id}").options == ["class", upload.RECON]
    scatters = [e for e in at.get("bidi_component") if e.proto.component_name == "ae_scatter"]
    assert len(scatters) == 2 and at.get("download_button")  # the code and PCA of the input


def test_samples_are_shipped_and_go_through_the_upload_steps(store):
    at = upload_page().run()
    box = at.button_group(key="upload_sample")
    assert box.options == [s.title for s in upload.SAMPLES.values()]
    box.set_value("digits-images.zip").run()
    assert not at.exception, at.exception
    assert _metrics(at)["Images read"] == "600" and _metrics(at)["Classes"] == "10"
    at.button_group(key="upload_sample").set_value("wine.csv").run()
    assert not at.exception, at.exception
    assert at.selectbox[0].value == "cultivar" and _metrics(at)["Features"] == "13"
    at.button_group(key="upload_sample").set_value("orders-messy.csv").run()
    table = at.dataframe[0].value.set_index("column")
    assert table.loc["Order date", "used as"] == "feature (converted)"  # dates become numbers
    assert table.loc["Order ID", "used as"] == "dropped"
