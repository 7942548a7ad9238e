"""The figures' shared pieces: colours, the latent scatter and its tooltip, and the latent-evolution
animation; pictures are in `ae_core.figures.images`.

Scatter plots use WebGL (``Scattergl``) so 70,000 points stay smooth. Text that comes from the user's data (labels, column names) is
HTML-escaped with `plain` before Plotly sees it: Plotly renders a subset of
HTML in labels and hover text, and decodes the escapes back to the literal
characters.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from ae_core.errors import InputError

MAX_CATEGORIES = 20  # more distinct values than this colour as one continuous trace
CONTINUOUS_SCALE = "Viridis"
HOVER_CHARS = 40  # longer hover text is shortened with "…"
THUMB_PX = 56  # thumbnails are upscaled (nearest neighbour) to at least this many pixels


def plain(text) -> str:
    """User text made safe for Plotly labels: shown literally, never as markup."""
    return html.escape(str(text), quote=False)


def palette(n: int) -> list[str]:
    colours = qualitative.Plotly if n <= 10 else qualitative.Dark24
    return [colours[i % len(colours)] for i in range(n)]


def is_categorical(values) -> bool:
    """Strings, booleans and categoricals are categories; numbers are continuous."""
    s = pd.Series(values)
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def colour_classes(color, n: int) -> tuple[np.ndarray, list[str] | None]:
    """n colour values as (values, None) when they are numbers, or as (labels as strings, their
    categories in natural order) when they are categories (`is_categorical`)."""
    values = pd.Series(np.asarray(color, dtype=object) if is_categorical(color) else np.asarray(color))
    if len(values) != n:
        raise InputError(f"got {len(values)} colour values for {n} points.")
    if not is_categorical(values):
        return values.to_numpy(dtype=np.float64), None
    labels = values.astype(str).to_numpy()
    return labels, sorted(pd.unique(labels), key=_natural_key)


def colour_limits(values) -> tuple[float, float]:
    """The colour scale's ends: the 1st and 99th percentiles of the finite values (an outlier does
    not wash out the rest), never equal."""
    v = np.asarray(values, np.float64)
    finite = v[np.isfinite(v)]
    lo, hi = (np.percentile(finite, [1, 99]) if len(finite) else (0.0, 1.0))
    return float(lo), float(hi) if hi > lo else float(lo) + 1e-9


def _marker_size(n: int, three_d: bool) -> float:
    if three_d:
        return 3 if n < 5000 else 1.5
    return 6 if n < 2000 else 4 if n < 20_000 else 2.5


def latent_scatter(coords, color=None, hover=None, title: str = "", customdata=None, color_title: str = "",
                   axis_titles: tuple[str, ...] | None = None, equal_aspect: bool = False,
                   height: int | None = None, legend: bool = True, hover_columns=None, hover_digits: int = 4,
                   hover_note: str = "", dragmode: str = "lasso") -> go.Figure:
    """A scatter of (n, 2) or (n, 3) coordinates, coloured by category or value.

    The tooltip is a ``hovertemplate`` over per-point numbers (``customdata``, sent
    as a typed array) and short labels, so 70,000 points cost a few bytes each
    rather than a preformatted HTML string each.

    Parameters
    ----------
    coords : array of shape (n, 2) or (n, 3)
    color : None, or n values: strings/booleans (one WebGL trace per category, up to
        MAX_CATEGORIES; more become one trace coloured by category code) or numbers
        (one trace with a colour bar)
    hover : None, or n strings shown on hover (escaped); prefer `hover_columns`
    customdata : n row indices, returned by Streamlit's selection events (always the
        first value of a point's customdata); default 0..n-1
    axis_titles : names of the axes, default ("1", "2"[, "3"])
    equal_aspect : one unit is the same length on both axes (2-D only)
    height : figure height in pixels (default 600, 650 for 3-D)
    legend : show the legend (turn off for a second chart with the same classes)
    hover_columns : None, or a mapping (dict, DataFrame) of name -> n values, one
        "name: value" line each, in order. Numbers are formatted by the browser
        (`hover_digits` significant digits, integers whole); text (escaped, at most
        HOVER_CHARS characters) that is the same across a trace is written once.
        A column equal to `customdata` or to the colour values is not sent twice.
        Without `hover` and `hover_columns` the tooltip is "row <customdata>".
    hover_note : a last, constant tooltip line (escaped)
    dragmode : "lasso" (select points) or "zoom" (2-D only)

    Returns
    -------
    plotly.graph_objects.Figure with Scattergl traces (2-D) or Scatter3d traces (3-D)

    Examples
    --------
    >>> fig = latent_scatter(np.zeros((3, 2)), ["a", "b", "a"], hover_columns={"error": [0.1, 0.2, 0.3]})
    >>> fig.data[0].hovertemplate
    'error: %{customdata[1]:.4~g}<extra></extra>'
    """
    coords = np.asarray(coords, dtype=np.float32)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise InputError(f"a scatter needs coordinates of shape (n, 2) or (n, 3), got {coords.shape}.")
    n, three_d = len(coords), coords.shape[1] == 3
    rows = np.arange(n) if customdata is None else np.asarray(customdata)
    if len(rows) != n:
        raise InputError(f"got {len(rows)} row numbers (customdata) for {n} points.")
    rows = rows.astype(np.int32) if rows.dtype.kind in "iu" and (n == 0 or np.abs(rows).max() < 2 ** 31) else rows
    hover_text = None if hover is None else np.array([plain(h) for h in hover], dtype=object)
    columns = [] if hover_columns is None else _hover_columns(hover_columns, n, hover_digits)
    note = "<br>" + _literal(hover_note) if hover_note else ""
    size = _marker_size(n, three_d)
    Trace = go.Scatter3d if three_d else go.Scattergl

    def trace(mask, colour_values=None, **kw):
        xyz = dict(x=coords[mask, 0], y=coords[mask, 1])
        if three_d:
            xyz["z"] = coords[mask, 2]
        custom, text, template = _hover(rows, mask, hover_text, columns, colour_values, hover_digits)
        return Trace(mode="markers", customdata=custom, text=text, hovertemplate=template + note + "<extra></extra>",
                     **xyz, **kw)

    traces = []
    all_rows = np.ones(n, bool)
    if color is None:
        traces.append(trace(all_rows, marker=dict(size=size, opacity=0.8), showlegend=False, name="points"))
    else:
        labels, cats = colour_classes(color, n)
        if cats is not None:
            if len(cats) <= MAX_CATEGORIES:
                for cat, colour in zip(cats, palette(len(cats))):
                    traces.append(trace(labels == cat, name=plain(cat), legendgroup=plain(cat),
                                        marker=dict(size=size, opacity=0.8, color=colour)))
            else:
                codes = pd.Categorical(labels, categories=cats).codes
                traces.append(trace(all_rows, showlegend=False, name=plain(color_title),
                                    marker=dict(size=size, opacity=0.8, color=codes, colorscale="Turbo",
                                                colorbar=dict(title=dict(text=plain(color_title) + " (code)")))))
        else:
            v = labels  # numbers
            lo, hi = colour_limits(v)
            # float32 colours: half the bytes of float64, and plenty for a colour scale.
            traces.append(trace(all_rows, colour_values=v, showlegend=False, name=plain(color_title),
                                marker=dict(size=size, opacity=0.8, color=v.astype(np.float32),
                                            colorscale=CONTINUOUS_SCALE, cmin=lo, cmax=hi,
                                            colorbar=dict(title=dict(text=plain(color_title))))))
    fig = go.Figure(traces)
    names = axis_titles or tuple(str(i + 1) for i in range(coords.shape[1]))
    fig.update_layout(title=dict(text=plain(title)), height=height or (650 if three_d else 600), showlegend=legend,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(itemsizing="constant", title=plain(color_title)),
                      uirevision="keep")  # keep zoom and legend toggles across reruns
    if three_d:
        fig.update_layout(scene=dict(xaxis_title=plain(names[0]), yaxis_title=plain(names[1]),
                                     zaxis_title=plain(names[2])))
    else:
        fig.update_layout(xaxis_title=plain(names[0]), yaxis_title=plain(names[1]), dragmode=dragmode)
        if equal_aspect:
            fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


# ---- the scatter's tooltip ------------------------------------------------------------


def _literal(text) -> str:
    """User text written into a hovertemplate: escaped, and '%' as an entity so it never starts a field."""
    return plain(text).replace("%", "&#37;")


def _short(text: str, n: int = HOVER_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass(frozen=True)
class _HoverColumn:
    title: str  # escaped for the template
    values: np.ndarray  # float64 numbers (kind "number") or escaped short strings (kind "label")
    kind: str  # "number" | "label"
    fmt: str = ""  # d3 format of a number


def _hover_columns(columns, n: int, digits: int) -> list[_HoverColumn]:
    """Each name -> values pair as numbers (a typed array, formatted by the browser) or short labels.

    Numbers with a missing value become labels, so the tooltip can say "(missing)";
    labels are escaped once per distinct value, not once per point.
    """
    out = []
    for name, values in columns.items():
        s = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
        if len(s) != n:
            raise InputError(f"the hover column {str(name)!r} has {len(s)} values for {n} points.")
        title = _literal(_short(str(name)))
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isfinite(v).all():
                whole = pd.api.types.is_integer_dtype(s)
                out.append(_HoverColumn(title, v, "number", "d" if whole else f".{digits}~g"))
                continue
            s = s.map(lambda x: f"{x:.{digits}g}", na_action="ignore")
        codes, uniques = pd.factorize(s.astype(object))
        shown = np.array([plain(_short(str(u))) for u in uniques] + ["(missing)"], dtype=object)
        out.append(_HoverColumn(title, shown[codes], "label"))  # code -1 (missing) is the last entry
    return out


def _round_sig(v: np.ndarray, digits: int) -> np.ndarray:
    """Numbers rounded to `digits` significant digits, so they print short in JSON."""
    v = np.asarray(v, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = digits - 1 - np.floor(np.log10(np.abs(v)))
    e = np.where(np.isfinite(e), e, 0).astype(int)
    up = np.round(v * 10.0 ** np.maximum(e, 0)) / 10.0 ** np.maximum(e, 0)
    return np.where(e >= 0, up, np.round(v / 10.0 ** np.maximum(-e, 0)) * 10.0 ** np.maximum(-e, 0))


def _hover(rows, mask, text, columns: list[_HoverColumn], colour_values, digits: int):
    """(customdata, text, hovertemplate without <extra>) of one trace.

    customdata holds the row first (for selections), then the numbers that vary within
    the trace. A label that is the same for every point of the trace (the class, when
    colouring by class) is written into the template once; one varying label travels as
    `text`; several make customdata one object array (JSON lists, for small tables).
    """
    r = rows[mask]
    custom_cols, labels, lines = [r], [], []
    if text is not None:
        text = text[mask]
        lines.append("%{text}")
    for c in columns:
        v = c.values[mask]
        if c.kind == "label":
            if len(v) == 0 or (v == v[0]).all():
                lines.append(f"{c.title}: " + (v[0].replace("%", "&#37;") if len(v) else ""))
            else:
                labels.append(len(lines))
                lines.append((c.title, v))
        elif np.array_equal(c.values, rows):
            lines.append(f"{c.title}: %{{customdata[0]:d}}")
        elif colour_values is not None and np.array_equal(c.values, colour_values):
            lines.append(f"{c.title}: %{{marker.color:{c.fmt}}}")
        else:
            custom_cols.append(v)
            lines.append(f"{c.title}: %{{customdata[{len(custom_cols) - 1}]:{c.fmt}}}")
    as_object = len(labels) > 1 or (len(labels) == 1 and text is not None)
    if labels and not as_object:
        title, text = lines[labels[0]]
        lines[labels[0]] = f"{title}: %{{text}}"
    for i in labels if as_object else ():
        title, v = lines[i]
        custom_cols.append(v)
        lines[i] = f"{title}: %{{customdata[{len(custom_cols) - 1}]}}"
    if as_object:
        custom = np.empty((len(r), len(custom_cols)), dtype=object)
        custom[:, 0] = r.tolist()
        for j, col in enumerate(custom_cols[1:], start=1):
            custom[:, j] = col if col.dtype == object else _round_sig(col, digits + 2).tolist()
    elif len(custom_cols) > 1:
        numbers = np.column_stack(custom_cols).astype(np.float64)
        big = float(np.abs(numbers).max()) if numbers.size else 0.0
        custom = numbers.astype(np.float32) if big < 2 ** 24 else numbers  # rows stay exact in float32
    else:
        custom = r
    template = "<br>".join(lines) or "row %{customdata[0]:d}"
    if custom.ndim == 1:
        template = template.replace("%{customdata[0]:d}", "%{customdata}")
    return custom, text, template


def _natural_key(s: str):
    """'2' before '10', numbers before words."""
    try:
        return (0, float(s), "")
    except ValueError:
        return (1, 0.0, s)


# ---- latent evolution -------------------------------------------------------------


def evolution_animation(frames, epochs, color=None, hover=None, title: str = "", color_title: str = "",
                        axis_titles: tuple[str, str] = ("1", "2")) -> go.Figure:
    """An animated scatter of (n_frames, n, 2) coordinates with Play/Pause and an epoch slider.

    One trace per category (as `latent_scatter`), the same traces in every frame,
    fixed axes covering all frames so the motion is visible.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3 or frames.shape[2] != 2 or len(frames) != len(epochs):
        raise InputError(f"expected frames of shape (n_epochs, n, 2) with one epoch number each, got {frames.shape}.")
    base = latent_scatter(frames[-1], color=color, hover=hover, title=title, color_title=color_title,
                          axis_titles=axis_titles)
    groups = [np.asarray(t.customdata, dtype=np.int64) for t in base.data]  # the rows of each trace
    # Plain SVG scatter here: a few thousand points animate smoothly, WebGL traces redraw every frame.
    traces = [go.Scatter({k: v for k, v in t.to_plotly_json().items() if k != "type"}) for t in base.data]
    fig = go.Figure(traces, layout=base.layout)
    fig.frames = [go.Frame(name=str(e), data=[go.Scatter(x=f[g, 0], y=f[g, 1]) for g in groups])
                  for e, f in zip(epochs, frames)]
    for t, g in zip(fig.data, groups):
        t.x, t.y = frames[0][g, 0], frames[0][g, 1]
    lo, hi = np.percentile(frames.reshape(-1, 2), [0.5, 99.5], axis=0)
    pad = 0.05 * (hi - lo + 1e-9)
    fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]], autorange=False)
    fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]], autorange=False)
    step = dict(frame=dict(duration=250, redraw=False), transition=dict(duration=200), mode="immediate")
    fig.update_layout(
        dragmode="zoom", height=600,
        updatemenus=[dict(type="buttons", showactive=False, x=0, y=-0.08, xanchor="left", yanchor="top",
                          buttons=[dict(label="▶ Play", method="animate", args=[None, {**step, "fromcurrent": True}]),
                                   dict(label="❚❚ Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.15, len=0.85, y=-0.05, currentvalue=dict(prefix="epoch "),
                      steps=[dict(label=str(e), method="animate", args=[[str(e)], step]) for e in epochs])],
        margin=dict(l=10, r=10, t=50, b=110),
    )
    return fig
