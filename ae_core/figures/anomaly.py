"""Figures of the Anomalies page: the score histogram with its threshold, ROC and precision-recall
curves, and the code coloured by score with the flagged rows ringed."""

from __future__ import annotations

import numpy as np
import pandas as pd


def error_histogram_figure(frame: pd.DataFrame, threshold: float, log_x: bool = True, bins: int = 60,
                           score_title: str = "reconstruction error"):
    """Overlaid histograms of the score per group (share of the group), the threshold as a dashed line."""
    import plotly.graph_objects as go

    from ae_core.figures.common import plain

    err = frame["error"].to_numpy(np.float64)
    floor = max(float(err[err > 0].min()) if (err > 0).any() else 1e-12, 1e-12)
    x_all = np.log10(np.maximum(err, floor)) if log_x else err
    edges = np.linspace(x_all.min(), x_all.max() + 1e-9, bins + 1)
    fig = go.Figure()
    for name in pd.unique(frame["group"]):
        sel = (frame["group"] == name).to_numpy()
        counts, _ = np.histogram(x_all[sel], edges)
        centres = (edges[:-1] + edges[1:]) / 2
        fig.add_trace(go.Bar(x=10**centres if log_x else centres, y=counts / max(sel.sum(), 1), name=f"{plain(name)} ({sel.sum():,})",
                             opacity=0.6, width=(10 ** edges[1:] - 10 ** edges[:-1]) if log_x else edges[1] - edges[0]))
    fig.add_vline(x=threshold, line_dash="dash", line_color="crimson", annotation_text="threshold",
                  annotation_position="top right")
    fig.update_layout(barmode="overlay", height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      xaxis_title=f"{score_title} (anomaly score)" + (", log scale" if log_x else ""),
                      yaxis_title="share of the group", legend_title_text="")
    # An explicit range: plotly's autorange of widened bars on a log axis reached 1e21 for scores below 200.
    t = np.log10(max(threshold, floor)) if log_x else threshold
    lo, hi = min(edges[0], t), max(edges[-1], t)
    pad = 0.02 * (hi - lo or 1.0)
    fig.update_xaxes(type="log" if log_x else "linear", range=[lo - pad, hi + pad])
    return fig


def roc_figure(curves: dict):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=curves["fpr"], y=curves["tpr"], mode="lines", name=f"autoencoder (AUC {curves['roc_auc']:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line_dash="dot", line_color="grey", name="random (AUC 0.5)"))
    fig.update_layout(xaxis_title="false positive rate", yaxis_title="true positive rate (recall)", height=360,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"x": 0.4, "y": 0.05})
    return fig


def pr_figure(curves: dict):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=curves["recall"], y=curves["precision"], mode="lines",
                               name=f"autoencoder (AP {curves['pr_auc']:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[curves["prevalence"]] * 2, mode="lines", line_dash="dot", line_color="grey",
                             name=f"random (AP {curves['prevalence']:.3f})"))
    fig.update_layout(xaxis_title="recall", yaxis_title="precision", height=360, yaxis_range=[0, 1.05],
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"x": 0.02, "y": 0.05})
    return fig


def score_scatter_figure(coords: np.ndarray, score: np.ndarray, flags: np.ndarray, hover=None, axis_note: str = ""):
    """The code coloured by log10 anomaly score (ae_core.figures.common.latent_scatter), flagged points ringed in red."""
    import plotly.graph_objects as go

    from ae_core.figures.common import latent_scatter, plain

    s = np.log10(np.maximum(np.asarray(score, np.float64), 1e-12))
    axes = (f"{axis_note} 1".strip(), f"{axis_note} 2".strip())
    fig = latent_scatter(coords, color=s, hover=hover, color_title="log10 score", axis_titles=axes)
    f = np.asarray(flags, bool)
    rows = np.flatnonzero(f)
    text = None if hover is None else [plain(h) for h in np.asarray(hover, dtype=object)[f]]
    fig.add_trace(go.Scattergl(x=coords[f, 0], y=coords[f, 1], mode="markers", name=f"flagged ({f.sum():,})",
                               customdata=rows, text=text,
                               hovertemplate=("%{text}" if text is not None else "row %{customdata}") + "<extra>flagged</extra>",
                               marker={"size": 11, "color": "rgba(0,0,0,0)", "line": {"color": "crimson", "width": 1.5}}))
    fig.update_layout(height=520, dragmode="zoom", showlegend=True, legend={"orientation": "h", "y": 1.06, "x": 0})
    return fig
