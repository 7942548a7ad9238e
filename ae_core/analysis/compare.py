"""Several finished runs side by side: one metrics table (with the best value
per column) and 2-D views of their codes drawn the same way.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ae_core.data.preprocessing import held_out_rows
from ae_core.errors import InputError

SCATTER_MAX = 5000  # test rows drawn per run: several scatters share one page

# Column -> (metrics key, which is better). None: nothing to rank.
COLUMNS = {
    "test MSE": ("test_mse", "min"),
    "AE/PCA ratio": ("ae_pca_ratio", "min"),
    "kNN accuracy": ("knn_accuracy", "max"),
    "trustworthiness": ("trustworthiness", "max"),
    "anomaly AUC": ("anomaly_auc", "max"),
    "training time (s)": ("train_seconds", None),
    "epochs": ("epochs_run", None),
}


def finished(records) -> list:
    """Only runs that finished and have metrics."""
    return [r for r in records if r.status == "done" and r.metrics]


def metrics_table(records) -> pd.DataFrame:
    """One row per finished run: run, variant, latent size and the metrics every run carries.

    Metrics a run does not have (kNN accuracy without labels, anomaly AUC
    without known outliers) are NaN. Columns that are NaN for every run are dropped.
    """
    rows = []
    for r in finished(records):
        row = {"run": r.label(), "variant": r.variant, "latent size": r.latent_dim}
        for col, (key, _) in COLUMNS.items():
            v = r.metrics.get(key)
            row[col] = float(v) if isinstance(v, (int, float)) and v is not None else np.nan
        rows.append(row)
    df = pd.DataFrame(rows, columns=["run", "variant", "latent size", *COLUMNS])
    if len(df):
        df["epochs"] = df["epochs"].astype("Int64")
    keep = [c for c in df.columns if c not in COLUMNS or df[c].notna().any() or not len(df)]
    return df[keep]


def best_index(table: pd.DataFrame) -> dict[str, int]:
    """For each ranked column of a `metrics_table`, the row position of the best run.

    Columns with fewer than two values are left out: a lone number is not "best".
    """
    best = {}
    for col, (_, better) in COLUMNS.items():
        if better is None or col not in table or table[col].notna().sum() < 2:
            continue
        values = table[col].to_numpy(dtype=float)
        best[col] = int(np.nanargmin(values) if better == "min" else np.nanargmax(values))
    return best


def code_view(store, run_id: str, Z: np.ndarray) -> tuple[np.ndarray, tuple[str, str], str]:
    """2-D coordinates of a run's codes, the axis names and a note on how they were made.

    A code of one or two numbers is drawn as it is; a longer code is projected
    with PCA (cached in the run's folder by `projection.cached_projection`).
    """
    from ae_core.analysis.projection import cached_projection, project

    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 2 or len(Z) < 2:
        raise InputError(f"need the codes of at least two rows, got shape {Z.shape}.")
    if Z.shape[1] <= 2:
        note = "the code itself" if Z.shape[1] == 2 else "the 1-number code (drawn on a line)"
        return project(Z, "latent"), ("z1", "z2" if Z.shape[1] == 2 else "—"), note
    Y = cached_projection(store, run_id, Z, "pca")
    return Y, ("PC1 of the code", "PC2 of the code"), f"PCA of the {Z.shape[1]}-number code"


def default_dataset(records, current_id: str | None = None) -> str:
    """The dataset to open on: the selected run's, else the one with the most finished runs (most to compare)."""
    if not records:
        raise InputError("no finished run to compare; train one first.")
    for r in records:
        if r.id == current_id:
            return r.dataset
    counts = Counter(r.dataset for r in records)
    return max(sorted(counts), key=counts.get)


def held_out_view(store, run_id: str, limit: int = SCATTER_MAX, seed: int = 0):
    """A run's test rows drawn the same way as every other run's (`code_view`), at most `limit` of them
    (a seeded random subset): (coordinates, their row numbers, axis names, how they were made)."""
    Z, split = store.read_array(run_id, "latent.npy"), store.read_array(run_id, "split.npy")
    Y, axes, note = code_view(store, run_id, Z)
    rows = held_out_rows(split, limit, seed)
    return Y[rows], rows, axes, note

