"""The thumbnail atlas: layout, tile positions, the sheet's pixels, the run cache, and the scatter payload."""

import io

import numpy as np
import pytest
from PIL import Image

from ae_core.analysis.atlas import (
    MAX_TILE,
    atlas_layout,
    atlas_png,
    build_atlas,
    cached_atlas,
)
from ae_core.errors import InputError


@pytest.mark.parametrize("n,side,tile", [(1797, 8, 8), (70_000, 28, 13), (5000, 64, MAX_TILE), (1, 8, 8)],
                         ids=["digits", "mnist", "photos", "one"])
def test_layout_fits_the_budget_and_never_enlarges(n, side, tile):
    lay = atlas_layout(n, side)
    w, h = lay.size
    assert lay.tile == tile and w * h <= 24_000_000 and lay.cols * lay.rows >= 2 * n
    assert lay.cols % 2 == 0 and 0.5 <= w / h <= 2  # pairs share a sheet row; about square


def test_positions_walk_the_sheet_row_major_in_pairs():
    lay = atlas_layout(10, 8)  # 20 tiles, 6 columns
    assert lay.cols == 6
    assert lay.position(0, 0) == (0, 0) and lay.position(0, 1) == (8, 0)
    assert lay.position(3, 0) == (0, 8) and lay.position(9, 1) == (8, 24)  # tile 19: column 1, row 3


def test_each_tile_holds_its_row_image_then_its_reconstruction():
    n = 7
    images = np.stack([np.full((8, 8), i / 10, np.float32) for i in range(n)])
    rebuilt = np.stack([np.full((8, 8), 0.9 - i / 10, np.float32) for i in range(n)])
    sheet, lay = build_atlas(images, rebuilt)
    assert sheet.shape == (lay.rows * 8, lay.cols * 8) and sheet.dtype == np.uint8
    for row in range(n):
        (x, y), (rx, ry) = lay.position(row, 0), lay.position(row, 1)
        assert np.abs(sheet[y:y + 8, x:x + 8] - 255 * (1 - row / 10)).max() <= 1  # grey is drawn as ink: inverted
        assert np.abs(sheet[ry:ry + 8, rx:rx + 8] - 255 * (1 - (0.9 - row / 10))).max() <= 1
    last = lay.position(n, 0)  # past the last pair: white padding
    assert np.all(sheet[last[1]:last[1] + 8, last[0]:last[0] + 8] == 255)


def test_large_images_are_area_averaged_and_colour_is_kept():
    img = np.zeros((1, 64, 64, 3), np.float32)
    img[0, :, :32, 0] = 1.0  # left half red
    sheet, lay = build_atlas(img)
    assert lay.per_row == 1 and lay.tile == MAX_TILE and lay.colour and sheet.shape == (32, 32, 3)
    assert tuple(sheet[0, 0]) == (255, 0, 0) and tuple(sheet[0, 31]) == (0, 0, 0)  # colour is not inverted
    checker = (np.indices((1, 64, 64)).sum(0) % 2).astype(np.float32)  # alternating pixels average to grey
    grey, _ = build_atlas(checker)
    assert np.all(np.abs(grey.astype(int) - 128) <= 1)


def test_bad_shapes_are_refused():
    with pytest.raises(InputError, match="shape"):
        build_atlas(np.zeros((3, 8), np.float32))
    with pytest.raises(InputError, match="reconstructions of shape"):
        build_atlas(np.zeros((3, 8, 8)), np.zeros((2, 8, 8)))


def test_png_round_trips():
    sheet, _ = build_atlas(np.random.default_rng(0).random((5, 8, 8)))
    back = np.asarray(Image.open(io.BytesIO(atlas_png(sheet, grey_bits=8))))
    assert np.array_equal(back, sheet)
    colour, _ = build_atlas(np.random.default_rng(0).random((5, 8, 8, 3)))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(atlas_png(colour)))), colour)  # colour: always 8-bit


def test_grey_sheets_are_stored_in_16_levels_within_half_a_step():
    sheet, _ = build_atlas(np.random.default_rng(0).random((50, 28, 28)))
    small, full = atlas_png(sheet), atlas_png(sheet, grey_bits=8)
    image = Image.open(io.BytesIO(small))
    back = np.asarray(image)
    assert image.mode == "L" and back.shape == sheet.shape
    assert set(np.unique(back)) <= set(range(0, 256, 17)) and np.abs(back.astype(int) - sheet).max() <= 8
    assert np.array_equal(back[sheet == 255], sheet[sheet == 255])  # unused tiles stay white
    assert len(small) < 0.7 * len(full)
    with pytest.raises(ValueError, match="grey_bits"):
        atlas_png(sheet, grey_bits=2)


def test_training_writes_the_atlas_and_the_page_reads_it(trained_store):
    from ae_core.runs.loaded import load_run

    store, ids = trained_store
    path = store.path(ids["digits"], "atlas.png")
    assert path.is_file()  # written by the worker when training ended
    stamp = path.stat().st_mtime_ns
    run = load_run(store, ids["digits"])
    png, lay = cached_atlas(run)
    assert png == path.read_bytes() and path.stat().st_mtime_ns == stamp  # read, not built again
    assert lay.n == run.dataset.n_samples == 1797 and lay.tile == 8
    sheet = np.asarray(Image.open(io.BytesIO(png)))
    x, y = lay.position(5, 0)
    expected = np.round(255 * (1 - np.clip(run.X[5].reshape(8, 8), 0, 1))).astype(np.uint8)
    assert np.abs(sheet[y:y + 8, x:x + 8].astype(int) - expected).max() <= 9  # 16 grey levels: within half a step


def test_a_run_trained_again_gets_a_new_atlas(tmp_path):
    from ae_core.runs.loaded import load_run
    from ae_core.runs.store import WEIGHTS, RunStore
    from tests.conftest import train_tiny

    store = RunStore(tmp_path / "runs")
    rid = train_tiny(store, "digits", train={"epochs": 2})
    store.path(rid, "atlas.png").write_bytes(b"\x89PNG\r\n\x1a\nstale")
    assert cached_atlas(load_run(store, rid))[0].endswith(b"stale")  # same weights: the kept file
    weights = store.path(rid, WEIGHTS)
    weights.write_bytes(weights.read_bytes())  # new weights file (as a retrain writes)
    png, _ = cached_atlas(load_run(store, rid))
    assert not png.endswith(b"stale") and Image.open(io.BytesIO(png)).size == (480, 480)


def test_tabular_runs_have_no_atlas(trained_store):
    from ae_core.runs.loaded import load_run

    store, ids = trained_store
    with pytest.raises(InputError, match="image datasets"):
        cached_atlas(load_run(store, ids["outliers"]))


def test_the_scatter_payload_carries_the_atlas_after_the_columns():
    from ui.scatter import pack, unpack

    sheet, lay = build_atlas(np.random.default_rng(0).random((4, 8, 8)), np.zeros((4, 8, 8)))
    png = atlas_png(sheet)
    payload = pack(np.zeros((4, 2)), ["a", "b", "a", "b"], atlas=(png, lay))
    meta, cols = unpack(payload)
    assert payload.endswith(png) and meta["atlas"]["bytes"] == len(png)
    assert (meta["atlas"]["cols"], meta["atlas"]["tile"], meta["atlas"]["per_row"]) == (lay.cols, 8, 2)
    assert len(cols["x"]) == 4
    with pytest.raises(InputError, match="must be a PNG"):
        pack(np.zeros((4, 2)), atlas=(b"GIF89a", lay))
    with pytest.raises(InputError, match="atlas holds 4 rows"):
        pack(np.zeros((5, 2)), atlas=(png, lay))


def test_a_pending_atlas_is_announced_without_its_bytes():
    from ui.scatter import pack, unpack

    meta, _ = unpack(pack(np.zeros((4, 2)), atlas_pending=True))
    assert meta["atlas_pending"] is True and "atlas" not in meta
