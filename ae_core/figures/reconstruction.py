"""Plotly figures for the Reconstructions and Compare pages: rows of image
thumbnails with titles and a small latent scatter (both built on the shared
`ae_core.figures.common`), per-feature error bars and code size versus error. Pure
functions of arrays and DataFrames; plotly is imported inside each builder so
importing this module is cheap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ae_core.errors import InputError

MAX_POINTS = 5000  # a side-by-side scatter draws at most this many points (seeded subsample)


def image_rows_figure(rows: list[np.ndarray], image_shape: tuple[int, int], titles: list[list[str]] | None = None,
                      tile_px: int = 90):
    """Rows of thumbnails (e.g. originals above reconstructions) as one `figures.images.image_grid` figure.

    Parameters
    ----------
    rows : list of arrays of shape (n_cols, h*w), scaled to [0, 1], all of the same length
    titles : per row, a title per thumbnail (escaped by image_grid)
    """
    from ae_core.figures.images import image_grid

    if not rows or max(len(r) for r in rows) == 0:
        raise InputError("nothing to draw: no images were chosen.")
    n_cols = len(rows[0])
    if any(len(r) != n_cols for r in rows):
        raise InputError(f"every row needs the same number of images, got {[len(r) for r in rows]}.")
    images = np.concatenate([np.asarray(r, dtype=np.float32) for r in rows]).reshape(-1, *image_shape)
    flat = None if titles is None else [str(t) for row in titles for t in row]
    return image_grid(images, flat, ncols=n_cols, cell_px=tile_px)


def _plain(text: str) -> str:
    """Text safe to put into a plotly annotation (which renders a little HTML)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feature_error_figure(errors: pd.DataFrame, top: int = 20):
    """Horizontal bars of per-feature MSE (from `reconstruction.feature_errors`), worst at the top."""
    import plotly.graph_objects as go

    df = errors.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=df["mse"], y=[_plain(f) for f in df["feature"]], orientation="h", marker_color="#d62728",
                           hovertemplate="%{y}: MSE %{x:.4f}<extra></extra>"))
    fig.update_layout(height=int(60 + 22 * len(df)), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis_title="mean squared error on the test rows (standardised units)")
    return fig


def rate_distortion_figure(table: pd.DataFrame):
    """Code size (log 2 axis) versus test MSE: one line for the autoencoder, one for PCA."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=table["code size"], y=table["PCA test MSE"], mode="lines+markers", name="PCA",
                             line={"color": "#7f7f7f", "dash": "dash"}))
    ae = table.dropna(subset=["AE test MSE"])
    fig.add_trace(go.Scatter(x=ae["code size"], y=ae["AE test MSE"], mode="lines+markers", name="autoencoder",
                             line={"color": "#1f77b4"}, marker={"size": 10}))
    fig.update_xaxes(type="log", tickvals=list(table["code size"]), ticktext=[str(k) for k in table["code size"]],
                     title="code size (numbers per sample)")
    fig.update_yaxes(title="test reconstruction MSE", rangemode="tozero")
    fig.update_layout(height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": 1.12})
    return fig


def subsample(n: int, limit: int = MAX_POINTS, seed: int = 0) -> np.ndarray:
    """Sorted row indices: all of range(n), or a seeded random `limit` of them."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def latent_scatter_figure(Y: np.ndarray, labels=None, title: str = "", axis_names=("z1", "z2")):
    """`plots.latent_scatter`, sized to sit beside two others (coloured by class name where given)."""
    from ae_core.figures.common import latent_scatter

    fig = latent_scatter(np.asarray(Y, dtype=np.float32)[:, :2], color=labels, title=title, axis_titles=tuple(axis_names))
    fig.update_layout(height=400, title={"font": {"size": 13}}, dragmode="zoom")
    return fig
