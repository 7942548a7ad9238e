"""Figures of the Denoising page: clean / noisy / denoised thumbnails, one bar per method, and
quality against noise level."""

from __future__ import annotations

import numpy as np
import pandas as pd

METRIC_LABELS = {"psnr": "PSNR (dB, higher is better)", "ssim": "SSIM (1 = identical)", "mse": "MSE (lower is better)"}


def comparison_figure(comp, image_shape: tuple[int, int]):
    """Three rows of thumbnails: clean, noisy, denoised (an `analysis.denoising.Comparison`); one column per sample."""
    from ae_core.figures.images import image_grid

    n = len(comp.index)
    images = np.clip(np.concatenate([comp.clean, comp.noisy, comp.denoised]), 0, 1).reshape(3 * n, *image_shape)
    titles = [f"{what} · row {r}" if i == 0 else what for what in ("clean", "noisy", "denoised")
              for i, r in enumerate(comp.index)]
    return image_grid(images, titles=titles, ncols=n, cell_px=90)


def metrics_bar_figure(frame: pd.DataFrame, metric: str):
    """One bar per method for `metric`; the noisy input is grey, autoencoders blue, classic filters orange."""
    import plotly.graph_objects as go

    colours = {"input": "#9e9e9e", "autoencoder": "#1f77b4", "classic": "#ff7f0e"}
    values = frame[metric].replace([np.inf, -np.inf], np.nan)
    fig = go.Figure(go.Bar(x=frame["title"], y=values, marker_color=[colours[f] for f in frame["family"]],
                           text=[f"{v:.3g}" for v in values], textposition="outside"))
    fig.update_layout(yaxis_title=METRIC_LABELS[metric], height=340, margin={"l": 10, "r": 10, "t": 20, "b": 10})
    return fig


def quality_curve_figure(curve: pd.DataFrame, metric: str):
    """Quality against noise level, one line per method (dotted: the noisy input, dashed: classic filters).
    graph_objects, not plotly.express: several times faster on every rerun (benchmarks/FINDINGS.md)."""
    import plotly.graph_objects as go

    from ae_core.figures.common import palette

    dash = {"input": "dot", "autoencoder": "solid", "classic": "dash"}
    label = METRIC_LABELS[metric]
    methods = list(curve.groupby("title", sort=False))
    fig = go.Figure([
        go.Scatter(x=rows["level"], y=rows[metric], name=str(title), mode="lines+markers",
                   line={"color": colour, "dash": dash[rows["family"].iloc[0]]},
                   hovertemplate=f"%{{fullData.name}}<br>noise level %{{x}}<br>{label} %{{y:.4g}}<extra></extra>")
        for (title, rows), colour in zip(methods, palette(len(methods)))])
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 20, "b": 10}, legend_title_text="method",
                      xaxis_title="noise level", yaxis_title=label)
    return fig
