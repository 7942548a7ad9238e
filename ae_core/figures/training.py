"""Figures of the Home and Train pages: the loss curves and the dataset's thumbnail mosaic. Plotly is
imported inside each builder: importing this module stays cheap."""

from __future__ import annotations

import math

import numpy as np


def loss_curve_figure(history: list[dict], log_y: bool = False, best_epoch: int | None = None):
    """Train and validation loss per epoch; the best validation epoch marked.

    Parameters
    ----------
    history : list of dict with 'epoch', 'train_loss', 'val_loss' (one per epoch)
    log_y : bool, a log-scale loss axis
    best_epoch : int or None; default: the epoch of the lowest validation loss
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    rows = [h for h in history or [] if "epoch" in h]
    epochs = [h["epoch"] for h in rows]
    for key, name, colour in (("train_loss", "train", "#1f77b4"), ("val_loss", "validation", "#ff7f0e")):
        ys = [h.get(key) for h in rows]
        fig.add_trace(go.Scatter(x=epochs, y=ys, mode="lines+markers" if len(rows) < 40 else "lines",
                                 name=name, line={"color": colour}))
    vals = [(h["epoch"], h["val_loss"]) for h in rows if h.get("val_loss") is not None]
    if vals:
        if best_epoch is None:
            best_epoch = min(vals, key=lambda t: t[1])[0]
        best = dict(vals).get(best_epoch)
        if best is not None:
            fig.add_trace(go.Scatter(x=[best_epoch], y=[best], mode="markers", name="best validation",
                                     marker={"symbol": "star", "size": 13, "color": "#d62728"}))
    else:
        fig.add_annotation(text="Waiting for the first epoch…", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5,
                           font={"size": 15})
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    fig.update_layout(
        height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="epoch", yaxis_title="loss" + (" (log scale)" if log_y else ""),
        legend={"orientation": "h", "y": 1.12, "x": 0},
    )
    fig.update_yaxes(type="log" if log_y else "linear")
    if rows and max(epochs) <= 15:
        fig.update_xaxes(tick0=1, dtick=1)  # whole epochs only
    if not vals:
        fig.update_layout(height=160)
    return fig


def image_mosaic(X: np.ndarray, image_shape: tuple[int, int], n: int = 36, cols: int = 12, pad: int = 1) -> np.ndarray:
    """The first `n` images of flattened X tiled `cols` per row, each scaled to [0, 1].

    Returns an array of shape (rows * (h + pad) - pad, cols * (w + pad) - pad); padding is NaN.
    """
    h, w = image_shape
    n = int(min(n, len(X)))
    if n == 0:
        return np.full((h, w), np.nan)
    cols = int(min(cols, n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan)
    for i in range(n):
        img = np.asarray(X[i], dtype=float).reshape(h, w)
        lo, hi = np.nanmin(img), np.nanmax(img)
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        r, c = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = img
    return out


def sample_grid_figure(X: np.ndarray, image_shape: tuple[int, int], labels=None, n: int = 36, cols: int = 12):
    """A crisp grey mosaic of sample images; hovering a tile shows its class."""
    import plotly.graph_objects as go

    h, w = image_shape
    pad = 1
    mosaic = image_mosaic(X, image_shape, n, cols, pad)
    hover = None
    if labels is not None:
        hover = np.full(mosaic.shape, "", dtype=object)
        cols_ = min(cols, n, len(X))
        for i in range(min(n, len(X))):
            r, c = divmod(i, cols_)
            hover[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = f"class {labels[i]}"
    fig = go.Figure(go.Heatmap(z=mosaic, colorscale="gray_r", showscale=False, zmin=0, zmax=1,
                               text=hover, hoverinfo="text" if hover is not None else "skip"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    rows = mosaic.shape[0] / max(mosaic.shape[1], 1)
    fig.update_layout(height=int(80 + 700 * rows), margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      plot_bgcolor="rgba(0,0,0,0)")
    return fig


# ---- results -------------------------------------------------------------------------
