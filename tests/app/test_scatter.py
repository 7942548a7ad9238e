"""The WebGL scatter's payload (ui/scatter.py): what the browser gets, and what it may send back."""

import re
from pathlib import Path

import numpy as np
import pytest

from ae_core.errors import InputError
from ui.scatter import LEGEND_MAX, pack, picked_point, selected_rows, unpack


def test_payload_round_trips_coordinates_rows_and_class_codes():
    coords = np.array([[0.5, -1.0], [2.0, 3.0], [np.nan, 1.0]], np.float32)
    meta, cols = unpack(pack(coords, ["10", "2", "10"], rows=[7, 8, 9], title="t", axis_titles=("a", "b")))
    assert meta["n"] == 3 and meta["axes"] == ["a", "b"] and meta["title"] == "t"
    np.testing.assert_array_equal(cols["x"], coords[:, 0])  # NaN too: the browser skips it
    np.testing.assert_array_equal(cols["row"], [7, 8, 9])
    assert meta["colour"]["names"] == ["2", "10"]  # natural order, not "10" before "2"
    assert cols["colour"].tolist() == [1, 0, 1]
    assert len(meta["colour"]["colours"]) == 2


def test_columns_start_on_four_byte_boundaries_for_float32_views():
    for title in ["", "a", "ab", "abc", "ü" * 5]:
        payload = pack(np.zeros((5, 2)), title=title)
        (size,) = np.frombuffer(payload[:4], "<u4")
        assert (4 + size + (4 - (4 + size) % 4) % 4) % 4 == 0
        assert len(payload) % 4 == 0


def test_numbers_colour_on_a_clipped_viridis_scale():
    values = np.r_[np.linspace(0, 1, 998), 100.0, np.nan]  # one outlier, one missing
    meta, cols = unpack(pack(np.zeros((1000, 2)), values, colour_title="error"))
    colour = meta["colour"]
    assert colour["kind"] == "value" and colour["title"] == "error"
    assert colour["hi"] < 2 and "1st to 99th percentile" in colour["clipped"]  # the outlier does not wash it out
    assert np.isnan(cols["colour"][-1])


def test_many_categories_keep_a_legend_with_an_other_entry():
    labels = np.array([f"c{i}" for i in range(LEGEND_MAX + 50)], dtype=object)
    meta, cols = unpack(pack(np.zeros((len(labels), 2)), labels))
    names = meta["colour"]["names"]
    assert len(names) == LEGEND_MAX + 1 and names[-1] == "50 more values"
    assert cols["colour"].max() == LEGEND_MAX


def test_hover_sends_rows_and_the_colour_once_and_text_as_codes():
    labels = np.array(["cat", "dog", "cat", "dog"], dtype=object)
    hover = {"row": np.arange(4), "animal": labels, "owner": ["ann", None, "bo", "ann"], "age": [1, 2, 3, 4],
             "weight": [1.5, 2.25, np.nan, 4.0]}
    meta, cols = unpack(pack(np.zeros((4, 2)), labels, hover_columns=hover))
    by_title = {h["title"]: h for h in meta["hover"]}
    assert by_title["row"]["column"] == "row" and by_title["animal"]["column"] == "colour"
    owner = by_title["owner"]
    assert owner["kind"] == "label" and owner["names"] == ["ann", "bo"]
    assert cols[owner["column"]].tolist() == [0, -1, 1, 0]  # -1: "(missing)" in the tooltip
    assert by_title["age"]["kind"] == "int" and by_title["weight"]["kind"] == "number"
    assert np.isnan(cols[by_title["weight"]["column"]][2])
    assert list(cols) == ["x", "y", "row", "colour", "h0", "h1", "h2"]


def test_user_text_travels_verbatim_and_the_browser_code_never_parses_html():
    evil = "<img src=x onerror=alert(1)>"
    meta, _ = unpack(pack(np.zeros((2, 2)), [evil, "ok"], hover_columns={evil: ["a", "b"]}, title=evil))
    assert evil in meta["colour"]["names"] and meta["title"] == evil
    js = (Path(__file__).resolve().parents[2] / "ui" / "scatter.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", js)  # text only via textContent


def test_same_points_keep_their_id_and_a_new_colouring_gets_a_new_one():
    xy = np.random.default_rng(0).normal(size=(50, 2))
    a = unpack(pack(xy, ["a"] * 50, view="v"))[0]
    b = unpack(pack(xy, ["a"] * 50, view="v", selected=[3]))[0]
    c = unpack(pack(xy, np.arange(50.0), view="v"))[0]
    assert a["id"] == b["id"] != c["id"]  # a selection alone does not redraw
    assert b["selected"] == [3] and a["view"] == c["view"] == "v"


@pytest.mark.parametrize("coords, kwargs, message", [
    (np.zeros((3, 3)), {}, r"shape \(n, 2\)"),
    (np.zeros((3, 2)), {"rows": [0, 1]}, "2 row numbers for 3 points"),
    (np.zeros((3, 2)), {"rows": [0.5, 1, 2]}, "whole numbers"),
    (np.zeros((3, 2)), {"colour": ["a"]}, "1 colour values for 3 points"),
    (np.zeros((3, 2)), {"hover_columns": {"h": [1]}}, "'h' has 1 values for 3 points"),
], ids=["3-d", "rows-length", "rows-float", "colour-length", "hover-length"])
def test_bad_input_is_refused_with_a_clear_message(coords, kwargs, message):
    colour = kwargs.pop("colour", None)
    with pytest.raises(InputError, match=message):
        pack(coords, colour, **kwargs)


@pytest.mark.parametrize("state, expected", [
    (None, []),
    ({"rows": [5, 1, 5, 2]}, [1, 2, 5]),
    ({"rows": [1, -1, 10, 2.0, "3", None, True]}, [1]),
    ({"rows": "1,2"}, []),
    ([1, 2], []),
], ids=["none", "sorted-distinct", "junk-ignored", "not-a-list", "not-a-dict"])
def test_selected_rows_keeps_only_row_numbers_of_this_view(state, expected):
    assert selected_rows(state, 10) == expected


def test_plane_payload_carries_the_picture_and_the_ringed_point():
    picture = ("data:image/png;base64,AAAA", (-1.0, 1.0), (0.0, 3.0))
    meta, cols = unpack(pack(np.array([[0.25, 1.5]]), image=picture, pick=True, equal_aspect=0.5))
    assert meta["pick"] and meta["aspect"] == 0.5
    assert meta["image"] == {"src": picture[0], "x0": -1.0, "x1": 1.0, "y0": 0.0, "y1": 3.0}
    assert cols["x"].tolist() == [0.25] and cols["y"].tolist() == [1.5]
    with pytest.raises(InputError, match="PNG data URI"):
        pack(np.zeros((1, 2)), image=("javascript:alert(1)", (0, 1), (0, 1)), pick=True)


@pytest.mark.parametrize("state, expected", [
    ({"point": {"x": 1, "y": -2.5}}, (1.0, -2.5)),
    ({"point": {"x": float("nan"), "y": 0}}, None),
    ({"point": {"x": "1", "y": 0}}, None),
    ({"point": {"x": True, "y": 0}}, None),
    ({"point": None}, None),
    (None, None),
], ids=["numbers", "nan", "text", "bool", "none", "no-state"])
def test_picked_point_accepts_only_two_finite_numbers(state, expected):
    assert picked_point(state) == expected


def test_every_rows_payload_is_16_bytes_a_point_with_file_rows_and_categorical_labels():
    """What the Latent page sends for every row of a big table: a categorical label (codes, not a string per row)
    as colour and tooltip, the file's row numbers as rows and tooltip, nothing else."""
    import pandas as pd

    n = 200_000
    rows = np.arange(n) * 3 + 1  # the file's row numbers: kept rows, not positions
    labels = pd.Categorical.from_codes(np.arange(n) % 3, categories=["10", "2", "1"])
    payload = pack(np.zeros((n, 2), np.float32), labels, rows=rows, hover_columns={"row": rows, "label": labels})
    meta, cols = unpack(payload)
    assert list(cols) == ["x", "y", "row", "colour"] and len(payload) < 16 * n + 4096
    assert [h["column"] for h in meta["hover"]] == ["row", "colour"]
    assert meta["colour"]["names"] == ["1", "2", "10"]  # natural order
    assert cols["colour"][:3].tolist() == [2, 1, 0] and cols["row"][-1] == rows[-1]
    assert selected_rows({"rows": [1, 4, int(rows[-1])]}, int(rows[-1]) + 1) == [1, 4, int(rows[-1])]
