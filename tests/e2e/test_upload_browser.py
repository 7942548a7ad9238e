"""The Upload data journey (a CSV) in a real headless Chromium: upload through the real
file input, read the report, pick a label column, train, see the scatter,
download the coordinates; then a bad file, which must not cost the result."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import no_exception, serve_app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
N_ROWS = 300
TRAIN_TIMEOUT = 120_000  # ms: spawning a worker that imports torch, then up to 40 epochs


@pytest.fixture(scope="module")
def upload_url(tmp_path_factory):
    """A `streamlit run app.py` server with its own run store; the Upload page's URL."""
    tmp = tmp_path_factory.mktemp("upload-e2e")
    with serve_app(tmp / "runs", tmp) as base:
        yield f"{base}/upload"


def _write_csv(path: Path) -> Path:
    """300 rows: three numbers on a curve, money as text ("$1,234"), a class column, an id and a note."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 3, N_ROWS)
    pd.DataFrame({
        "customer_id": np.arange(1000, 1000 + N_ROWS),
        "x": np.sin(t), "y": np.cos(t) + 0.02 * rng.normal(size=N_ROWS), "z": t ** 2,
        "spend": [f"${v:,.0f}" for v in 1000 + 900 * t + rng.normal(0, 50, N_ROWS)],
        "segment": np.array(["bronze", "silver", "gold"])[(t // 1).astype(int)],
        "note": [f"<b>VIP</b> & co #{i}" for i in range(N_ROWS)],  # markup that must show as text
    }).to_csv(path, index=False)
    return path


def test_upload_train_download(upload_url, page, shot, tmp_path):
    # A fresh server answering a deep link first runs app_pages/ as an old-style multipage app (no st.navigation,
    # no wide layout); the root first makes it learn app.py's navigation. See the report to the lead.
    page.goto(upload_url.rsplit("/upload", 1)[0] + "/")
    expect(page.get_by_test_id("stSidebarNav")).to_be_visible(timeout=30_000)
    page.goto(upload_url)
    expect(page.get_by_role("heading", name="Upload your data")).to_be_visible(timeout=30_000)  # cold server
    expect(page.get_by_text("CSV or Parquet file, or a zip of images (up to 400 MB)")).to_be_visible()
    no_exception(page)
    shot(page, "upload-01-empty")

    # 1. Upload through the real <input type=file>; the report appears.
    page.locator("input[type=file]").set_input_files(str(_write_csv(tmp_path / "customers.csv")))
    expect(page.get_by_role("heading", name="What preparation did")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Rows read")).to_contain_text("300", timeout=15_000)
    no_exception(page)
    shot(page, "upload-02-report")

    # 2. Pick the label column; the report now keeps it out of the features.
    page.get_by_test_id("stSelectbox").filter(has_text="Label / colour column").click()
    page.get_by_role("option", name="segment", exact=True).click()
    expect(page.get_by_test_id("stMetric").filter(has_text="Features")).to_contain_text("4", timeout=15_000)
    no_exception(page)

    # 3. Train in the background; the scatter and the PCA comparison appear when it is done.
    page.get_by_role("button", name="Train").click()
    download = page.get_by_role("button", name="Download coordinates with your rows (CSV)")
    expect(download).to_be_visible(timeout=TRAIN_TIMEOUT)
    code_plot = page.locator("[class*='st-key-upload_code_'] .aes-root")  # the Latent page's WebGL chart
    expect(page.locator(".aes-root[data-drawn]")).to_have_count(2, timeout=30_000)  # the code and PCA of the input
    no_exception(page)
    shot(page, "upload-03-result")

    # Hovering a point shows its row from the file, markup as literal text (escaped, not rendered).
    code_plot.scroll_into_view_if_needed()
    x, y = page.evaluate("""() => {
        const v = document.querySelector("[class*='st-key-upload_code_'] .aes-root").aesView;
        const b = v.front.getBoundingClientRect(), [px, py] = v.toPx(v.cols.x[0], v.cols.y[0]);
        return [b.left + px, b.top + py];
    }""")
    page.mouse.move(x, y)
    label = code_plot.locator(".aes-tip")
    expect(label).to_contain_text("<b>VIP</b> & co #", timeout=10_000)
    expect(label).to_contain_text("row: ", timeout=10_000)
    page.screenshot(path=str(ROOT / "test-artifacts" / "upload-03b-hover.png"))  # the viewport, hover label included

    # 4. The download: one line per kept row, its row number, the code and PCA, then the file's columns.
    with page.expect_download() as info:
        download.click()
    saved = tmp_path / "coordinates.csv"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "customers-coordinates.csv"
    out = pd.read_csv(saved)
    assert len(out) == N_ROWS
    assert list(out.columns[:5]) == ["row", "ae_1", "ae_2", "pca_1", "pca_2"]
    assert out["row"].tolist() == list(range(N_ROWS))
    assert np.isfinite(out[["ae_1", "ae_2", "pca_1", "pca_2"]].to_numpy()).all()
    assert out["spend"].str.startswith("$").all() and set(out["segment"]) == {"bronze", "silver", "gold"}
    assert out["note"].str.startswith("<b>VIP</b> & co #").all()

    # 5. A zip renamed .csv: a plain error, and the finished result is still on the page.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner.csv", "a,b\n1,2\n")
    bad = tmp_path / "renamed.csv"
    bad.write_bytes(buf.getvalue())
    page.locator("input[type=file]").set_input_files(str(bad))
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("zip archive", timeout=30_000)
    expect(download).to_be_visible(timeout=15_000)
    no_exception(page)
    shot(page, "upload-04-bad-file")
