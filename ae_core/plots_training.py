"""What the Home and Train pages show about runs: the loss-curve figure, the
live progress numbers, the AE-vs-PCA comparison, the runs table, and the
dataset preview (thumbnail mosaic and facts).

Pure functions of plain data (progress dicts, metrics dicts, arrays), so every
number a page shows is unit-testable without Streamlit. Plotly is imported
inside the figure builders only: the Home page uses the table helpers and must
start fast.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError
from .runs import RunRecord

# ---- small formatting -------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '18 min', '1 h 02 min'; '—' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 3600:
        return f"{s // 60} min"  # past ten minutes the seconds are noise (and do not fit a metric tile)
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def parse_sizes(text: str, what: str = "hidden sizes") -> tuple[int, ...]:
    """'256, 128' -> (256, 128). Raises InputError on anything else."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise InputError(f"{what}: give at least one layer width, e.g. 256,128.")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a comma-separated list of whole numbers, e.g. 256,128.") from None
    if any(s < 1 or s > 8192 for s in sizes):
        raise InputError(f"{what}: every width must be between 1 and 8192, got {list(sizes)}.")
    return sizes


# ---- live progress ---------------------------------------------------------------


@dataclass(frozen=True)
class ProgressView:
    fraction: float  # 0..1, for a progress bar
    headline: str  # 'Epoch 3 of 60 · batch 5/12'
    elapsed: str
    eta: str
    lr: str
    last_val_loss: str


def progress_view(progress: dict | None, status: str = "running") -> ProgressView:
    """The numbers of the live panel, from a run's `progress` dict."""
    p = progress or {}
    frac = p.get("fraction") or 0.0
    frac = 1.0 if status == "done" else min(max(float(frac), 0.0), 1.0)
    epoch, epochs = p.get("epoch"), p.get("epochs")
    if status == "queued":
        headline = "Waiting for a free worker"
    elif not epoch:
        headline = "Starting: loading PyTorch and the data…"
    else:
        headline = f"Epoch {epoch} of {epochs}"
        if p.get("batches", 1) > 1:
            headline += f" · batch {p.get('batch', 0)}/{p['batches']}"
    lr = p.get("lr")
    hist = p.get("history") or []
    val = hist[-1].get("val_loss") if hist else None
    return ProgressView(
        fraction=frac,
        headline=headline,
        elapsed=format_duration(p.get("elapsed")),
        eta="—" if status != "running" else format_duration(p.get("eta")),
        lr="—" if lr is None else f"{lr:.2g}",
        last_val_loss="—" if val is None else f"{val:.4g}",
    )


def first_line(text: str) -> tuple[str, str]:
    """An error's first line (to show big) and the rest (details)."""
    text = (text or "").strip()
    head, _, rest = text.partition("\n")
    return head or "no error message was recorded", rest.strip()


# ---- figures ---------------------------------------------------------------------


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


# ---- datasets ----------------------------------------------------------------------


def dataset_facts(ds) -> list[tuple[str, str]]:
    """(label, value) pairs that describe a Dataset at a glance."""
    facts = [("rows", f"{ds.n_samples:,}"), ("features", f"{ds.n_features:,}")]
    if ds.image_shape is not None:
        facts.append(("image size", f"{ds.image_shape[0]}x{ds.image_shape[1]} pixels"))
    if ds.y is not None:
        names = ds.class_names or tuple(str(i) for i in np.unique(ds.y))
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        facts.append(("classes", f"{len(names)}: {shown}"))
    else:
        facts.append(("classes", "none (unlabelled)"))
    if ds.is_outlier is not None:
        facts.append(("known outliers", f"{int(np.sum(ds.is_outlier)):,}"))
    return facts


def preview_table(ds, n: int = 20) -> pd.DataFrame:
    """The first `n` rows of a tabular Dataset, with its class column first."""
    names = list(ds.feature_names) if len(ds.feature_names) == ds.n_features else [f"x{i}" for i in range(ds.n_features)]
    df = pd.DataFrame(ds.X[:n], columns=names)
    labels = ds.label_names()
    if labels is not None:
        df.insert(0, "class", labels[:n])
    return df


# ---- results -------------------------------------------------------------------------


def comparison_table(metrics: dict) -> pd.DataFrame:
    """AE vs PCA at the same code size, one row per metric the run has.

    Columns: metric, autoencoder, PCA, better (which one wins), and what the metric means.
    """
    specs = [
        ("reconstruction error (test MSE)", "test_mse", "pca_mse", "lower", "mean squared error on held-out rows"),
        ("kNN accuracy on the code", "knn_accuracy", "pca_knn_accuracy", "higher", "5-nearest-neighbour classifier on the code"),
        ("trustworthiness", "trustworthiness", "pca_trustworthiness", "higher", "are code-space neighbours real neighbours? (1 = all)"),
        ("anomaly AUC", "anomaly_auc", "pca_anomaly_auc", "higher", "ranking known outliers by reconstruction error (1 = perfect)"),
    ]
    rows = []
    for label, ae_key, pca_key, sense, meaning in specs:
        ae, pca = metrics.get(ae_key), metrics.get(pca_key)
        if ae is None or (isinstance(ae, float) and math.isnan(ae)):
            continue
        if pca is None or (isinstance(pca, float) and math.isnan(pca)):
            better = "—"
        elif abs(ae - pca) <= 1e-9 + 0.01 * abs(pca):
            better = "tie"
        else:
            better = "autoencoder" if (ae < pca) == (sense == "lower") else "PCA"
        rows.append({"metric": label, "autoencoder": float(ae), "PCA": None if pca is None else float(pca),
                     "better": better, "meaning": meaning})
    return pd.DataFrame(rows, columns=["metric", "autoencoder", "PCA", "better", "meaning"])


def training_facts(metrics: dict) -> list[tuple[str, str]]:
    """How the training went: epochs, best epoch, time, size, why it stopped."""
    facts = []
    if "epochs_run" in metrics:
        facts.append(("epochs run", str(metrics["epochs_run"])))
    if metrics.get("best_epoch"):
        facts.append(("best epoch", str(metrics["best_epoch"])))
    if "train_seconds" in metrics:
        facts.append(("training time", format_duration(metrics["train_seconds"])))
    if "n_params" in metrics:
        facts.append(("parameters", f"{int(metrics['n_params']):,}"))
    if metrics.get("stop_reason"):
        facts.append(("stopped because", str(metrics["stop_reason"])))
    return facts


# ---- the runs table ------------------------------------------------------------------


def runs_table(records: list[RunRecord], link_prefix: str = "latent") -> pd.DataFrame:
    """One row per run for st.dataframe: what, how far, how good, when, and a link.

    `progress` is the fraction done (1 for finished runs); metrics are NaN until a run is done.
    """
    cols = ["open", "dataset", "variant", "latent", "status", "progress", "test_error", "ae_pca_ratio",
            "knn_accuracy", "when", "id"]
    rows = []
    for r in records:
        m = r.metrics or {}
        frac = 1.0 if r.status == "done" else float((r.progress or {}).get("fraction") or 0.0)
        rows.append({
            "open": f"{link_prefix}?run={r.id}",
            "dataset": r.dataset,
            "variant": r.variant,
            "latent": r.latent_dim,
            "status": r.status,
            "progress": min(max(frac, 0.0), 1.0),
            "test_error": m.get("test_mse", np.nan),
            "ae_pca_ratio": m.get("ae_pca_ratio", np.nan),
            "knn_accuracy": m.get("knn_accuracy", np.nan),
            "when": pd.Timestamp(r.created, unit="s", tz="UTC"),
            "id": r.id,
        })
    df = pd.DataFrame(rows, columns=cols)
    for c in ("test_error", "ae_pca_ratio", "knn_accuracy", "progress"):
        df[c] = df[c].astype(float)
    return df


def run_counts(records: list[RunRecord]) -> dict[str, int]:
    """How many runs per status (only statuses that occur), active first."""
    order = ("running", "queued", "done", "failed", "cancelled", "interrupted")
    counts = {s: sum(r.status == s for r in records) for s in order}
    return {s: n for s, n in counts.items() if n}


def age(created: float, now: float | None = None) -> str:
    """'started 42 s ago'-style age of a timestamp."""
    return format_duration((now if now is not None else time.time()) - created) + " ago"
