"""Pictures as Plotly figures: a grid of images with titles, the decoder's plane of images with a marker, and
PNG data URIs. Grey images are (h, w) in [0, 1], colour ones (h, w, 3); grey ones are drawn dark on light."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import plotly.graph_objects as go

from ae_core.errors import InputError
from ae_core.figures.common import THUMB_PX, plain


def png_data_uri(grey) -> str:
    """An 8-bit PNG of a 2-D (grey) or (h, w, 3) (RGB) array in [0, 1], as a data URI (no imaging library needed)."""
    a = (np.clip(np.nan_to_num(np.asarray(grey, np.float64), nan=1.0), 0, 1) * 255 + 0.5).astype(np.uint8)
    h, w = a.shape[:2]
    colour_type = 2 if a.ndim == 3 else 0  # PNG colour types: 0 grey, 2 RGB
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h))  # filter byte 0 per scanline

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _check_images(images, ndim: int) -> np.ndarray:
    """`ndim` dimensions of grey images, or one more ending in 3 for RGB."""
    images = np.asarray(images, dtype=np.float32)
    rgb = images.ndim == ndim + 1 and images.shape[-1] == 3
    if (images.ndim != ndim and not rgb) or 0 in images.shape:
        raise InputError(f"expected an image array with {ndim} dimensions, got shape {images.shape}.")
    return images


def _mosaic(images: np.ndarray, ncols: int, gap: int, title_gap: int, invert: bool, scale: int) -> np.ndarray:
    """(n, h, w) -> one (H, W) canvas of upscaled cells on white, row-major; (n, h, w, 3) -> (H, W, 3).
    `invert` applies to grey images only: colour photos are shown as they are."""
    n, h, w = images.shape[:3]
    nrows = -(-n // ncols)
    ch, cw = h * scale, w * scale
    canvas = np.ones((nrows * (ch + gap + title_gap) - gap, ncols * (cw + gap) - gap, *images.shape[3:]), np.float32)
    cells = np.clip(images, 0, 1)
    cells = 1.0 - cells if invert and images.ndim == 3 else cells
    cells = cells.repeat(scale, axis=1).repeat(scale, axis=2)
    for i in range(n):
        r, c = divmod(i, ncols)
        y0, x0 = r * (ch + gap + title_gap) + title_gap, c * (cw + gap)
        canvas[y0:y0 + ch, x0:x0 + cw] = cells[i]
    return canvas


def _image_figure(canvas: np.ndarray, height: int) -> go.Figure:
    H, W = canvas.shape[:2]
    fig = go.Figure(go.Image(source=png_data_uri(canvas), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    fig.update_xaxes(visible=False, range=[-0.5, W - 0.5])
    fig.update_yaxes(visible=False, range=[H - 0.5, -0.5], scaleanchor="x", scaleratio=1)
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0), plot_bgcolor="white", dragmode=False)
    return fig


def image_grid(images, titles=None, ncols: int = 8, invert: bool = True, cell_px: int = 56) -> go.Figure:
    """A gallery of (n, h, w) images in [0, 1] as one figure, dark ink on white by default.

    Parameters
    ----------
    images : array of shape (n, h, w) or (n, h, w, 3) (RGB), values in [0, 1]
    titles : None or n short strings drawn above the cells (escaped)
    ncols : cells per row
    invert : draw 1 as black (ink) and 0 as white (grey images only)
    cell_px : how many screen pixels a cell is wide; sets the figure's width and height
    """
    images = _check_images(images, 3)
    n, h, w = images.shape[:3]
    ncols = max(1, min(ncols, n))
    scale = max(1, -(-THUMB_PX // max(h, w)))
    title_gap = 0 if titles is None else max(6, (h * scale) // 4)
    canvas = _mosaic(images, ncols, gap=max(2, scale), title_gap=title_gap, invert=invert, scale=scale)
    # A fixed pixel size (draw with width="content"): thumbnails stay square with no blank band.
    zoom = cell_px / (max(h, w) * scale)
    fig = _image_figure(canvas, height=int(canvas.shape[0] * zoom) + 10)
    fig.update_layout(width=int(canvas.shape[1] * zoom), autosize=False, margin=dict(l=0, r=0, t=5, b=5))
    if titles is not None:
        if len(titles) != n:
            raise InputError(f"got {len(titles)} titles for {n} images.")
        ch, cw, gap = h * scale, w * scale, max(2, scale)
        cells = [divmod(i, ncols) for i in range(n)]
        # One assignment: add_annotation per title re-validates the whole list each time (FINDINGS.md).
        fig.update_layout(annotations=[
            dict(x=c * (cw + gap) + cw / 2, y=r * (ch + gap + title_gap) + title_gap - 1, text=plain(t),
                 showarrow=False, yanchor="bottom", font=dict(size=10))
            for (r, c), t in zip(cells, titles)])
    return fig


def _plane_images(images, z1_values, z2_values) -> np.ndarray:
    """A decoded plane's (n_rows, n_cols, h, w[, 3]) images, checked against its axis values."""
    images = _check_images(images, 4)
    nr, nc = images.shape[:2]
    if len(z1_values) != nc or len(z2_values) != nr:
        raise InputError(f"a {nr}x{nc} plane needs {nc} z1 values and {nr} z2 values.")
    return images


def decoded_plane(images, z1_values, z2_values, marker: tuple[float, float] | None = None,
                  invert: bool = True) -> go.Figure:
    """The decoder's view of a 2-D code: images decoded on a grid across the plane.

    Parameters
    ----------
    images : array of shape (n_rows, n_cols, h, w) in [0, 1]; row 0 is the highest z2
        (drawn at the top), column 0 the lowest z1
    z1_values : the n_cols code values along the horizontal axis, increasing
    z2_values : the n_rows code values along the vertical axis, increasing (drawn bottom to top)
    marker : an optional (z1, z2) point to mark on the plane
    """
    images = _plane_images(images, z1_values, z2_values)
    nr, nc, h, w = images.shape[:4]
    scale = max(1, -(-28 // max(h, w)))
    canvas = _mosaic(images.reshape(nr * nc, *images.shape[2:]), nc, gap=0, title_gap=0, invert=invert, scale=scale)
    ch, cw = h * scale, w * scale
    fig = _image_figure(canvas, height=720)
    fig.update_layout(margin=dict(l=60, r=10, t=10, b=50))
    fig.update_xaxes(visible=True, showgrid=False, zeroline=False, title="z1",
                     tickvals=[(c + 0.5) * cw for c in range(nc)], ticktext=[f"{v:.2g}" for v in z1_values])
    fig.update_yaxes(visible=True, showgrid=False, zeroline=False, title="z2",
                     tickvals=[(r + 0.5) * ch for r in range(nr)], ticktext=[f"{v:.2g}" for v in z2_values[::-1]])
    if marker is not None:
        px_x = _to_pixel(marker[0], z1_values, cw)
        px_y = nr * ch - _to_pixel(marker[1], z2_values, ch)
        fig.add_trace(go.Scatter(x=[px_x], y=[px_y], mode="markers", hoverinfo="skip", showlegend=False,
                                 marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color="#e4572e", width=3))))
    return fig


def plane_picture(images, z1_values, z2_values, invert: bool = True):
    """The decoded plane as one PNG placed in code coordinates (for the app's WebGL chart).

    Takes `decoded_plane`'s arguments; returns (data URI, (z1_lo, z1_hi), (z2_lo, z2_hi)), the
    extent of the picture: each cell is centred on its code value and one step wide.
    """
    images = _plane_images(images, z1_values, z2_values)
    nr, nc, h, w = images.shape[:4]
    canvas = _mosaic(images.reshape(nr * nc, *images.shape[2:]), nc, gap=0, title_gap=0, invert=invert, scale=1)

    def extent(values):
        v = np.asarray(values, np.float64)
        half = (v[-1] - v[0]) / (len(v) - 1) / 2 if len(v) > 1 else 0.5
        return float(v[0] - half), float(v[-1] + half)

    return png_data_uri(canvas), extent(z1_values), extent(z2_values)


def _to_pixel(value: float, centres, cell: int) -> float:
    """Position of a code value on a cell axis whose cell centres are `centres`."""
    centres = np.asarray(centres, np.float64)
    step = (centres[-1] - centres[0]) / (len(centres) - 1) if len(centres) > 1 else 1.0
    return float(((value - centres[0]) / step + 0.5) * cell) if step else cell / 2
