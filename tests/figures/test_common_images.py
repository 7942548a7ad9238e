"""ae_core.figures.common: figure builders return the right traces, sizes and escaped text."""

import base64
import json
import struct
import zlib

import numpy as np
import plotly.graph_objects as go
import pytest

from ae_core.errors import InputError
from ae_core.figures import common as plots
from ae_core.figures import images as pictures


def decode_png(uri: str) -> np.ndarray:
    """Our own greyscale PNGs back to a uint8 array (no imaging library needed)."""
    data = base64.b64decode(uri.split(",", 1)[1])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w + 1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:]


def n_points(fig) -> int:
    return sum(len(t.x) for t in fig.data)


def test_scatter_2d_draws_one_webgl_trace_per_class_with_row_numbers():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(300, 2))
    labels = np.array([str(i % 3) for i in range(300)], dtype=object)
    fig = plots.latent_scatter(coords, labels, customdata=np.arange(300) + 1000)
    assert [type(t) for t in fig.data] == [go.Scattergl] * 3
    assert [t.name for t in fig.data] == ["0", "1", "2"]
    assert n_points(fig) == 300
    rows = np.sort(np.concatenate([t.customdata for t in fig.data]))
    np.testing.assert_array_equal(rows, np.arange(300) + 1000)


def test_scatter_stays_webgl_with_70000_points():
    coords = np.random.default_rng(0).normal(size=(70_000, 2)).astype(np.float32)
    labels = np.array([str(i % 10) for i in range(70_000)], dtype=object)
    fig = plots.latent_scatter(coords, labels)
    assert len(fig.data) == 10 and all(isinstance(t, go.Scattergl) for t in fig.data)
    assert n_points(fig) == 70_000


def test_scatter_colours_numbers_continuously_on_one_trace():
    coords = np.random.default_rng(0).normal(size=(50, 2))
    fig = plots.latent_scatter(coords, np.linspace(0, 1, 50), color_title="error")
    assert len(fig.data) == 1 and fig.data[0].marker.colorbar.title.text == "error"
    assert len(fig.data[0].marker.color) == 50


def test_scatter_with_many_categories_uses_one_trace():
    coords = np.zeros((100, 2))
    fig = plots.latent_scatter(coords, np.array([f"c{i}" for i in range(100)], dtype=object))
    assert len(fig.data) == 1 and n_points(fig) == 100


def test_scatter_3d_uses_scatter3d():
    fig = plots.latent_scatter(np.zeros((20, 3)), np.array(["a", "b"] * 10, dtype=object))
    assert all(isinstance(t, go.Scatter3d) for t in fig.data) and n_points(fig) == 20


def test_scatter_escapes_user_text():
    fig = plots.latent_scatter(np.zeros((2, 2)), np.array(["<img src=x onerror=alert(1)>", "ok"], dtype=object),
                               hover=["<b>row</b>", "fine"], title="<script>", color_title="<i>col</i>")
    names = {t.name for t in fig.data}
    assert "&lt;img src=x onerror=alert(1)&gt;" in names
    assert "<" not in json.dumps([t.name for t in fig.data] + [fig.layout.title.text, fig.layout.legend.title.text])
    assert any("&lt;b&gt;row&lt;/b&gt;" in list(t.text) for t in fig.data)


@pytest.mark.parametrize("shape", [(10,), (10, 4), (10, 1)])
def test_scatter_rejects_coordinates_it_cannot_draw(shape):
    with pytest.raises(InputError, match=r"\(n, 2\) or \(n, 3\)"):
        plots.latent_scatter(np.zeros(shape))


def test_png_round_trips_grey_values():
    grey = np.array([[0.0, 0.5], [1.0, 0.25]])
    np.testing.assert_array_equal(decode_png(pictures.png_data_uri(grey)), [[0, 128], [255, 64]])


def test_image_grid_is_one_image_with_a_title_per_cell():
    images = np.random.default_rng(0).random((10, 8, 8))
    fig = pictures.image_grid(images, [f"#{i}" for i in range(10)], ncols=4)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    assert [a.text for a in fig.layout.annotations] == [f"#{i}" for i in range(10)]
    canvas = decode_png(fig.data[0].source)
    scale = -(-plots.THUMB_PX // 8)
    assert canvas.shape[1] == 4 * 8 * scale + 3 * scale  # four cells and three gaps per row
    # Ink (1.0) is drawn dark: the first cell (below its title) starts with 255 * (1 - value).
    title_gap = max(6, 8 * scale // 4)
    assert canvas[title_gap, 0] == int(255 * (1 - images[0, 0, 0]) + 0.5)


def test_image_grid_draws_ink_dark_and_paper_white():
    fig = pictures.image_grid(np.ones((1, 4, 4)))
    assert (decode_png(fig.data[0].source) == 0).all()
    fig = pictures.image_grid(np.ones((1, 4, 4)), invert=False)
    assert (decode_png(fig.data[0].source) == 255).all()


def test_image_grid_checks_titles():
    with pytest.raises(InputError, match="2 titles for 3 images"):
        pictures.image_grid(np.zeros((3, 4, 4)), ["a", "b"])


def test_decoded_plane_labels_the_axes_with_code_values_and_marks_a_point():
    images = np.random.default_rng(0).random((5, 6, 8, 8))
    fig = pictures.decoded_plane(images, np.linspace(-1, 1, 6), np.linspace(0, 4, 5), marker=(0.0, 2.0))
    assert isinstance(fig.data[0], go.Image) and isinstance(fig.data[1], go.Scatter)
    assert len(fig.layout.xaxis.tickvals) == 6 and fig.layout.yaxis.ticktext[0] == "4"  # top row = highest z2
    canvas = decode_png(fig.data[0].source)
    H, W = canvas.shape
    assert fig.data[1].x[0] == pytest.approx(W / 2) and fig.data[1].y[0] == pytest.approx(H / 2)


def test_plane_picture_spans_the_cells_in_code_coordinates_top_row_highest():
    images = np.zeros((3, 4, 8, 8))
    images[0, 0] = 1.0  # top-left cell: highest z2, lowest z1 (full ink: black when inverted)
    src, (x0, x1), (y0, y1) = pictures.plane_picture(images, np.linspace(-1, 2, 4), np.linspace(0, 2, 3))
    assert (x0, x1) == pytest.approx((-1.5, 2.5)) and (y0, y1) == pytest.approx((-0.5, 2.5))  # half a step beyond
    canvas = decode_png(src)
    assert canvas.shape == (24, 32)  # one image pixel per data pixel: the browser scales it up, sharp
    assert canvas[:8, :8].max() == 0 and canvas[8:, 8:].min() == 255
    with pytest.raises(InputError, match="needs 4 z1 values"):
        pictures.plane_picture(images, [0, 1], [0, 1, 2])


def test_decoded_plane_checks_the_axis_values():
    with pytest.raises(InputError, match="needs 3 z1 values"):
        pictures.decoded_plane(np.zeros((2, 3, 4, 4)), [0, 1], [0, 1])


def test_evolution_animation_has_a_frame_per_epoch_and_play_controls():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(6, 40, 2))
    labels = np.array(["a", "b"] * 20, dtype=object)
    fig = plots.evolution_animation(frames, list(range(6)), labels)
    assert len(fig.frames) == 6 and all(len(f.data) == len(fig.data) == 2 for f in fig.frames)
    assert [s.label for s in fig.layout.sliders[0].steps] == [str(e) for e in range(6)]
    assert fig.layout.updatemenus[0].buttons[0].method == "animate"
    # The first drawn state is epoch 0; frame "5" holds the last epoch's positions of class "b".
    b_rows = np.arange(1, 40, 2)
    np.testing.assert_allclose(fig.frames[5].data[1].x, frames[5][b_rows, 0], rtol=1e-6)
    np.testing.assert_allclose(fig.data[1].x, frames[0][b_rows, 0], rtol=1e-6)


def test_scatter_height_and_legend_switch():
    fig = plots.latent_scatter(np.zeros((4, 2)), np.array(["a", "b"] * 2, dtype=object), height=300, legend=False)
    assert fig.layout.height == 300 and fig.layout.showlegend is False


# ---- the tooltip: customdata + hovertemplate, no per-point HTML ---------------------


def test_hover_columns_travel_as_typed_customdata_with_the_row_first():
    coords = np.random.default_rng(0).normal(size=(6, 2))
    labels = np.array(["a", "b"] * 3, dtype=object)
    error = np.linspace(0.5, 1.0, 6)
    fig = plots.latent_scatter(coords, labels, customdata=np.arange(6) + 100,
                               hover_columns={"row": np.arange(6) + 100, "label": labels, "error": error})
    a = fig.data[0]
    assert a.hovertemplate == "row: %{customdata[0]:d}<br>label: a<br>error: %{customdata[1]:.4~g}<extra></extra>"
    assert a.text is None and a.customdata.dtype == np.float32 and a.customdata.shape == (3, 2)
    np.testing.assert_array_equal(a.customdata[:, 0], [100, 102, 104])  # the row is not sent twice
    np.testing.assert_allclose(a.customdata[:, 1], error[::2], rtol=1e-6)
    spec = json.loads(fig.to_json())["data"][0]["customdata"]
    assert spec["dtype"] == "f4" and "bdata" in spec  # base64, not a JSON list


def test_hover_reads_the_colour_instead_of_sending_a_number_twice():
    error = np.linspace(0, 1, 8)
    labels = np.array(list("abcdabcd"), dtype=object)
    fig = plots.latent_scatter(np.zeros((8, 2)), error, hover_columns={"label": labels, "error": error})
    (t,) = fig.data
    assert t.hovertemplate == "label: %{text}<br>error: %{marker.color:.4~g}<extra></extra>"
    assert list(t.text) == list(labels) and np.asarray(t.customdata).ndim == 1  # row numbers only
    assert t.marker.color.dtype == np.float32


def test_hover_escapes_user_text_in_template_and_values():
    labels = np.array(["<b>x</b>", "ok", "<b>x</b>", "ok"], dtype=object)
    cols = {"<i>col</i>": ["<b>x</b>", "100%{y}", None, "plain"], "note": ["a & b", "c", "d", "e"],
            "n": [1.5, np.nan, 2.0, 3.0]}
    fig = plots.latent_scatter(np.zeros((4, 2)), labels, hover_columns={"class": labels, **cols})
    first = fig.data[0]
    assert first.name == "&lt;b&gt;x&lt;/b&gt;"
    # A class shared by the whole trace is written once into the template, escaped.
    assert "class: &lt;b&gt;x&lt;/b&gt;<br>" in first.hovertemplate
    assert "&lt;i&gt;col&lt;/i&gt;: %{customdata[" in first.hovertemplate
    assert "<b>" not in first.hovertemplate.replace("<br>", "") and "<i>" not in first.hovertemplate
    values = [v for t in fig.data for row in t.customdata for v in row[1:]]
    assert "&lt;b&gt;x&lt;/b&gt;" in values and "a &amp; b" in values and "(missing)" in values
    assert not any(isinstance(v, str) and "<" in v for v in values)


def test_hover_template_text_cannot_open_a_template_field():
    labels = np.array(["50%{x}", "50%{x}"], dtype=object)
    fig = plots.latent_scatter(np.zeros((2, 2)), labels, hover_columns={"share %{y}": labels}, hover_note="%{z}")
    template = fig.data[0].hovertemplate
    assert template.count("%{") == 0 and "50&#37;{x}" in template and "share &#37;{y}" in template


def test_hover_shortens_long_text_and_ends_with_the_note():
    fig = plots.latent_scatter(np.zeros((2, 2)), hover_columns={"c": ["v" * 100, "w"]}, hover_note="… and 3 more")
    (t,) = fig.data
    assert t.hovertemplate.endswith("<br>… and 3 more<extra></extra>")
    assert len(t.text[0]) == plots.HOVER_CHARS and t.text[0].endswith("…")


def test_hover_checks_column_lengths():
    with pytest.raises(InputError, match="hover column 'c' has 1 values for 2 points"):
        plots.latent_scatter(np.zeros((2, 2)), hover_columns={"c": [1]})


def test_scatter_of_70000_points_with_hover_stays_small():
    rng = np.random.default_rng(0)
    n = 70_000
    labels = np.array([f"class {i}" for i in range(10)], dtype=object)[rng.integers(0, 10, n)]
    fig = plots.latent_scatter(rng.normal(size=(n, 2)), labels, customdata=np.arange(n),
                               hover_columns={"row": np.arange(n), "label": labels, "error": rng.random(n)})
    # x, y, row and error as float32 base64: about 4 x 4 x 4/3 bytes a point, no strings per point.
    assert len(fig.to_json()) < 2.2e6
