"""What the Home and Train pages say about runs, as plain numbers and tables: live progress, an
error's headline, the AE-vs-PCA table, the runs table, its ticked rows and counts. Pure functions of progress and
metrics dicts, so every number a page shows is unit-testable without Streamlit. Imports no plotly:
the Home page uses these and must start fast."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ae_core.runs.store import RunRecord


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


@dataclass(frozen=True)
class ProgressView:
    fraction: float  # 0..1, for a progress bar
    headline: str  # 'Epoch 3 of 60 · batch 5/12'
    elapsed: str
    eta: str
    lr: str
    last_val_loss: str
    where: str = ""  # 'local · cpu', 'ray 10.0.0.5 GPU 1 · cuda:0 (NVIDIA H100 80GB HBM3)'; '' until it starts


def placement(info: dict | None) -> str:
    """Where a run trains or trained, from its progress or metrics: the executor's place and the device."""
    info = info or {}
    return " · ".join(str(info[k]) for k in ("where", "device") if info.get(k))


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
    elif p.get("budget_s"):  # a time budget: as many epochs as fit
        headline = f"Epoch {epoch} · training for {format_duration(p['budget_s'])}"
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
        where=placement(p),
    )


def first_line(text: str) -> tuple[str, str]:
    """An error's first line (to show big) and the rest (details)."""
    text = (text or "").strip()
    head, _, rest = text.partition("\n")
    return head or "no error message was recorded", rest.strip()


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


SCALING_WORDS = {"range": "range: values into [0, 1] (pixels)", "standard": "standardised: mean 0, sd 1 per column"}


def training_facts(metrics: dict) -> list[tuple[str, str]]:
    """How the training went: epochs, best epoch, time, size, why it stopped."""
    facts = []
    if "epochs_run" in metrics:
        facts.append(("epochs run", str(metrics["epochs_run"])))
    if metrics.get("best_epoch"):
        facts.append(("best epoch", str(metrics["best_epoch"])))
    if "train_seconds" in metrics:
        facts.append(("training time", format_duration(metrics["train_seconds"])))
    if metrics.get("epoch_seconds"):
        facts.append(("time per epoch", f"{float(metrics['epoch_seconds']):.3g} s"))
    if "n_params" in metrics:
        facts.append(("parameters", f"{int(metrics['n_params']):,}"))
    if metrics.get("scaling"):
        facts.append(("scaling", SCALING_WORDS.get(metrics["scaling"], str(metrics["scaling"]))))
    if metrics.get("front_dim"):
        facts.append(("networks work in", f"the top {int(metrics['front_dim'])} principal coordinates of the rows"))
    augmentation = [words for key, words in (("mirror", "half of each batch mirrored left to right"),
                                             ("shift", "a fifth moved by a pixel")) if metrics.get(key)]
    if augmentation:
        facts.append(("augmentation", "; ".join(augmentation)))
    if placement(metrics):
        facts.append(("trained on", placement(metrics)))
    if metrics.get("stop_reason"):
        facts.append(("stopped because", str(metrics["stop_reason"])))
    return facts


def runs_table(records: list[RunRecord], link_prefix: str = "latent") -> pd.DataFrame:
    """One row per run for st.dataframe: what, how far, how good, when, and a link.

    `progress` is the fraction done (1 for finished runs); metrics are NaN until a run is done.
    """
    cols = ["open", "dataset", "variant", "latent", "status", "progress", "test_error", "ae_pca_ratio",
            "knn_accuracy", "trained_on", "when", "id"]
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
            "trained_on": placement(m) or placement(r.progress),
            "when": pd.Timestamp(r.created, unit="s", tz="UTC"),
            "id": r.id,
        })
    df = pd.DataFrame(rows, columns=cols)
    for c in ("test_error", "ae_pca_ratio", "knn_accuracy", "progress"):
        df[c] = df[c].astype(float)
    return df


def table_key(records: list[RunRecord]) -> str:
    """A widget key for a table of `records`: it changes when the set of runs changes (a new one at the top, a
    deletion) and not when one progresses, so a ticked row never shifts onto another run."""
    return "runs_" + hashlib.sha1(" ".join(r.id for r in records).encode()).hexdigest()[:10]


def ticked_runs(state, records: list[RunRecord], drawn_key: str, what: str) -> tuple[list[str], str | None]:
    """The ids of the runs ticked in a runs table, or none and what to tell the person.

    Parameters
    ----------
    state : mapping or None
        The table's widget state as Streamlit keeps it: ``{"selection": {"rows": [0, 2], ...}}``.
    records : list of RunRecord
        The runs now, in the table's order.
    drawn_key : str
        The :func:`table_key` of the table that was ticked. When the runs have changed since, a tick may point
        at another run now, so nothing is taken.
    what : str
        What the ticks are for ("delete", "pin"): the message names it.

    Returns
    -------
    run_ids : list of str
        The ticked runs, in the order ticked; rows past the end of `records` are left out.
    message : str or None
        Why `run_ids` is empty (the runs changed, or nothing is ticked); None when it is not.
    """
    if table_key(records) != drawn_key:
        return [], f"The list of runs changed just now: tick the runs to {what} again."
    rows = ((state or {}).get("selection") or {}).get("rows") or []
    if chosen := [records[i].id for i in rows if i < len(records)]:
        return chosen, None
    return [], f"Tick the runs to {what} in the table first (the boxes at its left)."


def run_counts(records: list[RunRecord]) -> dict[str, int]:
    """How many runs per status (only statuses that occur), active first."""
    order = ("running", "queued", "done", "failed", "cancelled", "interrupted")
    counts = {s: sum(r.status == s for r in records) for s in order}
    return {s: n for s, n in counts.items() if n}


def age(created: float, now: float | None = None) -> str:
    """'started 42 s ago'-style age of a timestamp."""
    return format_duration((now if now is not None else time.time()) - created) + " ago"
