"""The latent page's 2-D scatter: our own WebGL component (``ui/scatter.js``).

Plotly's bundle made a new browser tab on a large latent page slow to draw
(benchmarks/FINDINGS.md §6); this component is a small script inside the page
and gets the points as one binary payload
(float32 columns behind a small JSON header, `pack`) instead of JSON numbers.
It draws, pans, zooms, shows a tooltip, toggles classes in its legend and
selects by lasso, box or click; the selection comes back as row numbers.
The same figure as a Plotly chart (for scripts and the HTML download) is
`ae_core.figures.common.latent_scatter`.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from plotly.colors import sequential

from ae_core.errors import InputError
from ae_core.figures.common import MAX_CATEGORIES, _short, colour_classes, colour_limits, palette

LEGEND_MAX = 200  # categories beyond this share a grey "other" entry in the legend

_CSS = """
.aes-root { display: flex; flex-direction: column; width: 100%; font-family: inherit; color: var(--st-text-color, #31333f);
            user-select: none; -webkit-user-select: none; }
.aes-head { display: flex; align-items: center; justify-content: space-between; gap: 8px; min-height: 30px; }
.aes-title { font-weight: 600; font-size: 15px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.aes-tools { display: flex; gap: 4px; flex-wrap: wrap; justify-content: flex-end; }
.aes-btn { font: inherit; font-size: 13px; padding: 2px 9px; border: 1px solid var(--st-border-color, #d5d7de);
           border-radius: 6px; background: var(--st-background-color, #fff); color: inherit; cursor: pointer; }
.aes-btn:hover { border-color: #ff4b4b; color: #ff4b4b; }
.aes-btn.aes-on { background: var(--st-text-color, #31333f); border-color: var(--st-text-color, #31333f);
                  color: var(--st-background-color, #fff); }
.aes-body { flex: 1; display: flex; min-height: 0; }
.aes-stage { flex: 1; position: relative; min-width: 0; }
.aes-back { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
.aes-gl, .aes-dens, .aes-front { position: absolute; }
.aes-front { touch-action: none; }
.aes-tip { position: absolute; display: none; pointer-events: none; background: var(--st-background-color, #fff);
           border: 1px solid var(--st-border-color, #c9ccd4); border-radius: 6px; padding: 5px 8px; font-size: 13px; line-height: 1.35;
           box-shadow: 0 2px 6px rgba(0, 0, 0, 0.12); white-space: nowrap; z-index: 2; }
.aes-tip-note { opacity: 0.7; }
.aes-tip-pics { display: flex; gap: 6px; margin-bottom: 4px; }
.aes-tip-pic { text-align: center; font-size: 11px; }
.aes-tip-pic canvas { display: block; border: 1px solid var(--st-border-color, #e6e8ee); }
.aes-hint-zoom { position: absolute; left: 50%; top: 45%; transform: translate(-50%, -50%); padding: 6px 12px;
                 border-radius: 6px; background: rgba(49, 51, 63, 0.85); color: #fff; font-size: 14px;
                 pointer-events: none; opacity: 0; transition: opacity 0.2s; z-index: 3; }
.aes-hint-zoom.aes-show { opacity: 1; }
.aes-side { width: 150px; padding: 4px 0 0 10px; overflow-y: auto; font-size: 13px; }
.aes-side-title { font-weight: 600; margin-bottom: 4px; overflow-wrap: anywhere; }
.aes-item { display: flex; align-items: center; gap: 6px; padding: 1px 3px; border-radius: 4px; cursor: pointer;
            overflow-wrap: anywhere; }
.aes-item:hover { background: var(--st-secondary-background-color, #f0f2f6); }
.aes-item.aes-off { opacity: 0.35; }
.aes-swatch { flex: none; width: 10px; height: 10px; border-radius: 50%; }
.aes-hint, .aes-note { opacity: 0.7; font-size: 12px; margin-top: 6px; }
.aes-bar { float: left; margin-right: 6px; width: 16px; height: 200px; border: 1px solid var(--st-border-color, #d5d7de); }
.aes-bar-labels { height: 202px; display: flex; flex-direction: column; justify-content: space-between; }
"""

_component = st.components.v2.component("ae_scatter", js=(Path(__file__).with_name("scatter.js")).read_text(),
                                         css=_CSS, isolate_styles=False)


def _marker_px(n: int) -> float:
    """Point diameter in CSS pixels: big for a few points, small for a crowd (as `plots._marker_size`, a bit larger)."""
    return 7 if n < 2000 else 5 if n < 20_000 else 3.5


def _colour(values, n: int, title: str) -> tuple[dict, np.ndarray]:
    """(header entry, float32 column) for the points' colour: category codes or values."""
    if values is None:
        return {"kind": "none", "title": title}, np.zeros(n, np.float32)
    labels, cats = colour_classes(values, n)
    if cats is not None:
        codes = pd.Categorical(labels, categories=cats).codes.astype(np.float32)
        names = [_short(c) for c in cats[:LEGEND_MAX]]
        if len(cats) > LEGEND_MAX:
            codes[codes >= LEGEND_MAX] = LEGEND_MAX
            names.append(f"{len(cats) - LEGEND_MAX:,} more values")
        colours = palette(len(names)) if len(names) <= MAX_CATEGORIES else \
            [palette(24)[k % 24] for k in range(len(names))]
        if len(cats) > LEGEND_MAX:
            colours[-1] = "#9a9ca5"
        return {"kind": "category", "title": title, "names": names, "colours": colours}, codes
    v = labels  # numbers
    lo, hi = colour_limits(v)
    stops = [[k / (len(sequential.Viridis) - 1), c] for k, c in enumerate(sequential.Viridis)]
    clipped = "Colours span the 1st to 99th percentile." if np.isfinite(v).sum() > 100 else ""
    return {"kind": "value", "title": title, "lo": lo, "hi": hi, "scale": stops,
            "clipped": clipped}, v.astype(np.float32)


def _hover(hover_columns, n: int, rows: np.ndarray, colour_meta: dict, colour_col: np.ndarray, colour_values,
           digits: int) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Tooltip lines: (header entries, extra float32 columns). A column equal to the rows or to the
    colour is not sent twice."""
    lines, extra = [], {}
    for name, values in (hover_columns or {}).items():
        s = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
        if len(s) != n:
            raise InputError(f"the hover column {str(name)!r} has {len(s)} values for {n} points.")
        title = _short(str(name))
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric and np.array_equal(s.to_numpy(), rows):
            lines.append({"title": title, "column": "row", "kind": "int"})
            continue
        if colour_values is not None and colour_meta["kind"] == "category" and not numeric and \
                np.array_equal(s.astype(str).to_numpy(), np.asarray(colour_values).astype(str)):
            lines.append({"title": title, "column": "colour", "kind": "label", "names": colour_meta["names"]})
            continue
        column = f"h{len(extra)}"
        if numeric:
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
            whole = pd.api.types.is_integer_dtype(s) and np.nanmax(np.abs(v), initial=0) < 2 ** 24
            lines.append({"title": title, "column": column, "kind": "int" if whole else "number", "digits": digits})
            extra[column] = v.astype(np.float32)
        else:
            codes, uniques = pd.factorize(s.astype(object))  # missing -> -1, shown as "(missing)"
            lines.append({"title": title, "column": column, "kind": "label",
                          "names": [_short(str(u)) for u in uniques]})
            extra[column] = codes.astype(np.float32)
    return lines, extra


def pack(coords, colour=None, *, selected=(), **options) -> bytes:
    """The component's payload: uint32 header length, JSON header, padding to 4 bytes, float32 columns.

    Parameters
    ----------
    coords : array of shape (n, 2)
    colour : None, or n values: strings/booleans are categories (legend), numbers a colour bar
    rows : n row numbers, returned in the selection (default 0..n-1; below 2**24, exact in float32)
    hover_columns : mapping of name -> n values, one tooltip line each (text is shown as text, never HTML)
    equal_aspect : True: one unit is as long on both axes; a number k: a y unit is k times as long
        as an x unit on screen (the decoded plane's square cells); False: fill the frame
    view : names the view; a new payload with the same view keeps the user's zoom (a new colouring)
    selected : row numbers to show as selected (what the page holds after a rerun)
    title, colour_title, axis_titles, height, hover_digits, file_name : the chart's texts and size
    note : a last, constant tooltip line
    image : (PNG data URI, (x0, x1), (y0, y1)): a picture drawn under the points, spanning that
        rectangle of data coordinates (`ae_core.figures.images.plane_picture`)
    pick : a click chooses a point (state "point" = {"x", "y"}) instead of selecting; the points
        are drawn as rings (the chosen point)
    atlas : (PNG bytes, `ae_core.analysis.atlas.AtlasLayout`): every row's picture (and reconstruction) as
        one sprite sheet, sent after the columns; hovering a point shows its tiles, and a zoomed-in view
        can draw the pictures in place of the dots

    Examples
    --------
    >>> meta, cols = unpack(pack(np.zeros((3, 2)), ["a", "b", "a"]))
    >>> meta["colour"]["names"], cols["colour"].tolist()
    (['a', 'b'], [0.0, 1.0, 0.0])
    """
    return _assemble(*_parts(coords, colour, **options), selected)


def _parts(coords, colour=None, *, rows=None, hover_columns=None, title: str = "", colour_title: str = "",
           axis_titles: tuple[str, str] = ("1", "2"), equal_aspect: bool | float = False, height: int = 600,
           view: str = "", hover_digits: int = 4, note: str = "", file_name: str = "latent",
           image: tuple[str, tuple[float, float], tuple[float, float]] | None = None,
           pick: bool = False, atlas=None, atlas_pending: bool = False) -> tuple[dict, bytes]:
    """`pack` but the selection: (header, column bytes)."""
    coords = np.asarray(coords, dtype=np.float32)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise InputError(f"the scatter needs coordinates of shape (n, 2), got {coords.shape}.")
    n = len(coords)
    rows = np.arange(n) if rows is None else np.asarray(rows)
    if len(rows) != n:
        raise InputError(f"got {len(rows)} row numbers for {n} points.")
    if n and (rows.dtype.kind not in "iu" or rows.min() < 0 or rows.max() >= 2 ** 24):
        raise InputError("row numbers must be whole numbers from 0 to 16,777,215.")
    colour_meta, colour_col = _colour(colour, n, colour_title)
    lines, extra = _hover(hover_columns, n, rows, colour_meta, colour_col, colour, hover_digits)
    columns = {"x": coords[:, 0], "y": coords[:, 1], "row": rows.astype(np.float32), "colour": colour_col, **extra}
    body = b"".join(np.ascontiguousarray(c, dtype="<f4").tobytes() for c in columns.values())
    meta = {"n": n, "title": title, "axes": list(axis_titles), "aspect": float(equal_aspect) if equal_aspect else None,
            "height": int(height), "size": _marker_px(n), "colour": colour_meta, "hover": lines, "columns": list(columns), "view": view,
            "note": note, "file": file_name, "pick": bool(pick)}
    if image is not None:
        src, (x0, x1), (y0, y1) = image
        if not str(src).startswith("data:image/png;base64,"):
            raise InputError("the scatter's picture must be a PNG data URI.")
        meta["image"] = {"src": src, "x0": float(x0), "x1": float(x1), "y0": float(y0), "y1": float(y1)}
    if atlas is not None:
        png, layout = atlas
        if not bytes(png[:8]) == b"\x89PNG\r\n\x1a\n":
            raise InputError("the scatter's atlas must be a PNG.")
        if n and rows.max() >= layout.n:
            raise InputError(f"the atlas holds {layout.n:,} rows; the points name row {int(rows.max()):,}.")
        # After the columns, at the end of the payload: the browser reads it as a Blob, no base64.
        meta["atlas"] = {"bytes": len(png), "cols": layout.cols, "tile": layout.tile, "per_row": layout.per_row,
                         "id": hashlib.blake2b(png, digest_size=12).hexdigest()}
        body += png
    elif atlas_pending:
        meta["atlas_pending"] = True  # the chart asks for the pictures once it has drawn the points (`scatter`)
    meta["id"] = hashlib.blake2b(body + json.dumps(meta, sort_keys=True).encode(), digest_size=12).hexdigest()
    return meta, body


def _assemble(meta: dict, body: bytes, selected) -> bytes:
    meta = {**meta, "selected": sorted(int(r) for r in selected)}
    head = json.dumps(meta, ensure_ascii=False, allow_nan=False).encode()
    pad = b"\0" * ((4 - (4 + len(head)) % 4) % 4)
    return struct.pack("<I", len(head)) + head + pad + body


def unpack(payload: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """`pack`'s inverse (what the browser reads): (header, {column: float32 array})."""
    (size,) = struct.unpack_from("<I", payload)
    meta = json.loads(payload[4:4 + size])
    offset = 4 + size + (4 - (4 + size) % 4) % 4
    cols = {}
    for name in meta["columns"]:
        cols[name] = np.frombuffer(payload, "<f4", meta["n"], offset)
        offset += 4 * meta["n"]
    return meta, cols


def selected_rows(selection, n_rows: int) -> list[int]:
    """Sorted, distinct row numbers from the component's state; anything else the browser sent is ignored."""
    got = selection.get("rows") if isinstance(selection, dict) else None
    if not isinstance(got, list):
        return []
    return sorted({int(r) for r in got if isinstance(r, int) and not isinstance(r, bool) and 0 <= r < n_rows})


def pick_point(point, image, *, key: str, on_pick=None, **kwargs) -> None:
    """A picture in data coordinates (the decoded plane) with `point` ringed; a click sends the
    clicked point as state "point" = {"x", "y"} and calls `on_pick` before the rerun (where it can
    move the sliders that own the point). See `pack` for the other arguments."""
    _component(key=key, data=pack(np.asarray([point], np.float32), image=image, pick=True, **kwargs),
               default={"point": None}, on_point_change=on_pick or (lambda: None), height="content")


def picked_point(state) -> tuple[float, float] | None:
    """(x, y) from `pick_point`'s state, or None when the browser sent anything but two finite numbers."""
    got = state.get("point") if isinstance(state, dict) else None
    if not isinstance(got, dict):
        return None
    x, y = got.get("x"), got.get("y")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in (x, y)):
        return None
    return float(x), float(y)


@st.cache_resource(show_spinner=False, max_entries=6)
def _kept_parts(cache_key, _coords, _colour, _options: dict) -> tuple[dict, bytes]:
    """`_parts`, kept server-wide by `cache_key` alone: a rerun that changes nothing but the selection (a widget
    elsewhere on the page, a live panel's timer) reuses the packed points. 70,000 points: ~0.1 s saved per rerun,
    ~1.7 MB each."""
    return _parts(_coords, _colour, **_options)


def scatter(coords, colour=None, *, key: str, n_rows: int | None = None, cache_key=None, initial=(),
            **kwargs) -> list[int]:
    """Draw the scatter (see `pack` for the arguments) and return the selected row numbers.

    `key` keeps the widget (and its selection) across reruns; use one key per set of points.
    `cache_key`: a hashable value that names everything the points, colours and tooltips depend on
    (e.g. run, its version, projection, colouring); a later call with the same one reuses the packed
    points instead of building them again. None: build every time.
    `initial`: the selection when the session has none yet for `key` (a shared link's).
    `atlas`: the pictures (see `pack`) follow the points: the first payload leaves them out, the chart asks
    for them once it has drawn (state "atlas_wanted", one rerun), and later payloads carry them. A 70,000-image
    atlas is about 17 MB; sent with the points it delayed their first drawing by 0.7 s (benchmarks/FINDINGS.md).
    It may be a function that makes it: called only then (an older run's atlas is built on first use).
    """
    n_rows = len(coords) if n_rows is None else n_rows
    held = st.session_state.get(key)
    first = selected_rows({"rows": list(initial)}, n_rows) if held is None else []
    before = selected_rows(held.get("selection"), n_rows) if held is not None else first
    atlas = kwargs.pop("atlas", None)
    ready = atlas is not None and bool((held or {}).get("atlas_wanted"))
    if ready and callable(atlas):
        atlas = atlas()
    kwargs = {**kwargs, "atlas": atlas if ready else None, "atlas_pending": atlas is not None and not ready}
    parts = _parts(coords, colour, **kwargs) if cache_key is None else \
        _kept_parts((cache_key, ready), coords, colour, kwargs)
    result = _component(key=key, data=_assemble(*parts, before),
                        default={"selection": {"rows": first} if first else None, "atlas_wanted": False},
                        on_selection_change=lambda: None, on_atlas_wanted_change=lambda: None, height="content")
    return selected_rows(result.get("selection"), n_rows)
