"""A page's state in its URL (ae_core.links): round trips, and bad values ignored with the defaults."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from ae_core import links
from ae_core.links import MAX_LINK, Choice, Number, Rows, decode, decode_rows, encode, encode_rows

LATENT = {"proj": Choice(("latent", "pca", "umap", "tsne"), "latent"), "dims": Choice((2, 3), 2),
          "colour": Choice(("label", "split", "error"), "label"), "sel": Rows(1797)}


def test_doctests():
    assert doctest.testmod(links).failed == 0


def test_latent_view_round_trips():
    view = {"proj": "umap", "dims": 3, "colour": "error", "sel": (3, 4, 5, 99)}
    params = encode(view, LATENT)
    assert params == {"proj": "umap", "dims": "3", "colour": "error", "sel": "3-5.99"}
    assert decode(params, LATENT) == view


def test_defaults_are_left_out_of_the_url():
    assert encode({"proj": "latent", "dims": 2, "colour": "label", "sel": ()}, LATENT) == {}
    assert decode({}, LATENT) == {"proj": "latent", "dims": 2, "colour": "label", "sel": ()}


@pytest.mark.parametrize("params", [
    {"proj": "pca; DROP TABLE", "dims": "4", "colour": "<script>", "sel": "1-x"},
    {"proj": "", "dims": "2.0", "colour": "LABEL", "sel": "9-3"},
    {"proj": "umap ", "dims": "three", "colour": "label\n", "sel": "b!!!notbase64"},
], ids=["injected", "near-misses", "garbage"])
def test_bad_values_fall_back_to_the_defaults(params):
    assert decode(params, LATENT) == {"proj": "latent", "dims": 2, "colour": "label", "sel": ()}


def test_a_value_the_page_no_longer_offers_is_dropped_alone():
    """A link made for a run with a 10-D code asks for t-SNE; this run offers only latent and PCA."""
    fields = {**LATENT, "proj": Choice(("latent", "pca"), "latent")}
    assert decode({"proj": "tsne", "colour": "split"}, fields)["proj"] == "latent"
    assert decode({"proj": "tsne", "colour": "split"}, fields)["colour"] == "split"


@pytest.mark.parametrize("raw, value", [("99.5", 99.5), ("80", 80.0), ("99.86", 99.9), ("91.23", 91.2)])
def test_number_snaps_to_the_slider_grid(raw, value):
    assert Number(80.0, 99.9, 99.0, step=0.1).decode(raw) == pytest.approx(value)


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "100", "1e400", "", "0x10"])
def test_number_out_of_range_or_not_a_number_is_ignored(raw):
    assert decode({"pct": raw}, {"pct": Number(80.0, 99.9, 99.0, step=0.1)}) == {"pct": 99.0}


def test_rows_outside_the_data_are_dropped():
    assert decode_rows("5-8.1795-2000", 1797) == [5, 6, 7, 8, 1795, 1796]
    assert decode_rows("3000", 1797) == []


def test_a_large_selection_uses_the_compressed_form_and_round_trips():
    rng = np.random.default_rng(0)
    rows = sorted(set(rng.integers(0, 70_000, 300).tolist()) | set(range(10_000, 20_000)))
    text = encode_rows(rows)
    assert text.startswith("b") and len(text) <= MAX_LINK
    assert decode_rows(text, 70_000) == rows


def test_a_selection_too_large_for_a_link_is_left_out():
    rows = np.random.default_rng(1).choice(70_000, 20_000, replace=False)
    assert encode_rows(rows) is None
    assert encode({"sel": rows}, {"sel": Rows(70_000)}) == {}


def test_a_compressed_bomb_is_cut_at_the_data_size():
    import base64
    import zlib

    bomb = "b" + base64.urlsafe_b64encode(zlib.compress(b"\xff" * 1_000_000, 9)).decode().rstrip("=")
    assert len(bomb) <= MAX_LINK
    assert decode_rows(bomb, 100) == list(range(100))


def test_rows_never_negative():
    with pytest.raises(ValueError):
        encode_rows([-1, 2])
