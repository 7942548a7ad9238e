"""Every row of a table run that trained on a sample: its code, kept as run artifacts so the pages draw them all.

A run on a big table trains on a random sample of its file (`ae_core.data.large_table`); its `latent.npy` holds
the sample's codes. After training, the worker streams the file again, a chunk at a time, through the same
column decisions, the run's scaler and its encoder (:func:`encode_every_row`), and writes:

* ``every_latent.npy``: array of shape (n_rows, latent_dim), float32, every kept row's code
* ``every_row.npy``: array of shape (n_rows,), int64, its data row number in the file (header excluded)
* ``every_label.npy`` and ``every_labels.json``: with a label column, int32 codes into the names (-1: missing)

Memory holds one chunk plus the codes (a million 2-D codes are 8 MB), never the file. The Latent and Upload
pages ask :func:`rows_drawn` whether their chart draws every row or the sample, and what to tell the person.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ae_core.analysis.projection import METHOD_TITLES
from ae_core.data.large_table import SAMPLE_ROWS, open_large_table
from ae_core.data.tabular import PreparationReport
from ae_core.errors import InputError

log = logging.getLogger(__name__)

LATENT, ROWS, LABELS, LABEL_NAMES = "every_latent.npy", "every_row.npy", "every_label.npy", "every_labels.json"
EVERY_ROW_METHODS = ("latent", "pca")  # projections of every row that cost a moment (UMAP, t-SNE: the sample)


@dataclass(frozen=True)
class EveryRow:
    """Every kept row of a run's file with its code.

    Attributes
    ----------
    latent : ndarray of shape (n_rows, latent_dim), float32
    rows : ndarray of shape (n_rows,), int64
        Data row numbers in the file.
    label_codes : ndarray of shape (n_rows,), int32, or None
        Index into ``label_names``; -1 where the label is missing.
    label_names : tuple of str
    label_column : str or None
    """

    latent: np.ndarray
    rows: np.ndarray
    label_codes: np.ndarray | None = None
    label_names: tuple[str, ...] = ()
    label_column: str | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def labels(self) -> pd.Categorical | None:
        """The label of each row as a categorical (cheap for a million rows: codes, not strings), or None."""
        if self.label_codes is None:
            return None
        return pd.Categorical.from_codes(self.label_codes, categories=list(self.label_names))


def trained_on_a_sample(ds) -> bool:
    """Whether a table dataset is a sample of its file's rows (its preparation report says so)."""
    report = getattr(ds, "report", None)
    return isinstance(report, PreparationReport) and any(
        n.startswith(("trained on ", "sampled ")) for n in report.notes)


def stream_codes(options: dict, feature_names, model, scaler, chunk_rows: int = 100_000) -> Iterator[tuple]:
    """(row numbers, labels or None, codes float32) per chunk of the run's file.

    `options` are the run's dataset options (``path``, ``label_column``, ``max_rows``). The file is read with
    the column decisions of a fresh sample; if they differ from `feature_names` (what the model was trained on)
    the file has changed and an InputError says so.
    """
    from ae_core.analysis.metrics import encode

    path = options.get("path")
    if not path or not Path(path).is_file():
        raise InputError("this run's file is no longer on the server; upload it again to encode every row.")
    table = open_large_table(path, label_column=options.get("label_column"),
                             sample_rows=int(options.get("max_rows") or SAMPLE_ROWS), stream_bytes=0)
    if tuple(table.sample.feature_names) != tuple(feature_names):
        raise InputError("the file's columns no longer match what this run trained on (was it changed?); "
                         "train it again to encode every row.")
    for chunk in table.chunks(chunk_rows):
        Z = encode(model, scaler.transform(chunk.X)).astype(np.float32)  # (chunk, D)
        yield chunk.row_index, chunk.labels, Z


def encode_every_row(options: dict, feature_names, model, scaler, chunk_rows: int = 100_000) -> EveryRow:
    """Every kept row of the run's file through its scaler and encoder (see :func:`stream_codes`)."""
    codes, rows, label_codes = [], [], []
    names: dict[str, int] = {}
    has_labels = bool(options.get("label_column"))
    for row, labels, Z in stream_codes(options, feature_names, model, scaler, chunk_rows):
        codes.append(Z)
        rows.append(row)
        if has_labels and labels is not None:
            values = pd.Series(labels, dtype=object)
            known = values.notna().to_numpy()
            text = values[known].astype(str)
            for name in pd.unique(text):
                names.setdefault(name, len(names))
            c = np.full(len(values), -1, np.int32)
            c[known] = text.map(names).to_numpy(np.int32)
            label_codes.append(c)
    latent = np.vstack(codes) if codes else np.empty((0, 0), np.float32)
    row = np.concatenate(rows) if rows else np.empty(0, np.int64)
    if not (has_labels and label_codes):
        return EveryRow(latent, row)
    return EveryRow(latent, row, np.concatenate(label_codes), tuple(names), options["label_column"])


def write_every_row(store, run_id: str, every: EveryRow) -> None:
    """The arrays as run artifacts (NPY and JSON, atomically, as every artifact of a run)."""
    store.write_array(run_id, LATENT, every.latent.astype(np.float32))
    store.write_array(run_id, ROWS, every.rows.astype(np.int64))
    if every.label_codes is not None:
        store.write_array(run_id, LABELS, every.label_codes.astype(np.int32))
        store.write_json(run_id, LABEL_NAMES, {"column": every.label_column, "names": list(every.label_names)})


def read_every_row(store, run_id: str) -> EveryRow | None:
    """The run's every-row codes, or None when it has none (it trained on every row, or is older than them).
    Arrays whose lengths disagree (a damaged folder) are an InputError."""
    latent, rows = store.read_array(run_id, LATENT), store.read_array(run_id, ROWS)
    if latent is None or rows is None:
        return None
    codes, meta = store.read_array(run_id, LABELS), store.read_json(run_id, LABEL_NAMES)
    if len(latent) != len(rows) or (codes is not None and len(codes) != len(rows)):
        raise InputError(f"run {run_id}'s every-row codes are damaged (lengths differ); retrain the run.")
    if codes is None or meta is None:
        return EveryRow(latent, rows)
    return EveryRow(latent, rows, codes, tuple(meta["names"]), meta.get("column"))


def every_row_for(run) -> EveryRow | None:
    """A finished `LoadedRun`'s every-row codes: read from its folder, or, for a run that trained on a sample
    before they were written, encoded now and kept. None for a run that trained on every row."""
    if not trained_on_a_sample(run.dataset):
        return None
    every = read_every_row(run.store, run.id)
    if every is None:
        options = run.record.config["dataset"].get("options") or {}
        every = encode_every_row(options, run.dataset.feature_names, run.model, run.scaler)
        write_every_row(run.store, run.id, every)
        log.info("run %s: encoded all %d rows of its file", run.id, len(every))
    return every


def selection_frame(every: EveryRow, rows, limit: int | None = None) -> pd.DataFrame:
    """The chosen rows (row numbers in the file) with their label and code: ``row``, the label column, ``z1..zD``.

    Row numbers the run does not hold are left out; `limit` keeps the first that many.
    """
    rows = np.unique(np.asarray(list(rows), dtype=np.int64))
    at = np.searchsorted(every.rows, rows)  # every.rows is in file order, ascending
    found = at < len(every.rows)
    found[found] = every.rows[at[found]] == rows[found]
    at = at[found][:limit]
    out = pd.DataFrame({"row": every.rows[at]})
    if every.label_codes is not None:
        out[every.label_column or "label"] = np.asarray(every.labels()[at], dtype=object)
    for j in range(every.latent.shape[1]):
        out[f"z{j + 1}"] = every.latent[at, j]
    return out


@dataclass(frozen=True)
class RowsDrawn:
    """What a chart of a run's code draws (see :func:`rows_drawn`).

    Attributes
    ----------
    every : EveryRow or None
        Every row of the file, when the chart draws them all; None when it draws the rows trained on.
    caption : str or None
        The line that tells the person which rows they see; None for a run that trained on every row.
    """

    every: EveryRow | None = None
    caption: str | None = None


def rows_drawn(ds, every: EveryRow | None, method: str = "latent", dims: int = 2,
               beside: str | None = None) -> RowsDrawn:
    """Whether a chart of a run's code draws every row of its file or the rows it trained on, and what to say.

    Parameters
    ----------
    ds : Dataset
        The run's dataset: how many rows it trained on, and whether they are a sample of the file.
    every : EveryRow or None
        The run's every-row codes (:func:`every_row_for`); None when it has none (it trained on every row, or
        its file is gone or changed: the page warns about that itself).
    method, dims : str, int
        The chart's projection of the code (a key of ``METHOD_TITLES``) and its 2 or 3 axes. Every row is drawn
        only in 2-D and by ``EVERY_ROW_METHODS``; the others draw the rows trained on.
    beside : str or None
        The title of a projection of the input drawn beside the code (the Upload page's "PCA" or "UMAP"): it
        can only show the rows trained on, and the caption says so.
    """
    if every is None or not trained_on_a_sample(ds):
        return RowsDrawn()
    n, total = ds.n_samples, len(every)
    if beside is not None:
        return RowsDrawn(every, f"The code of all {total:,} rows of your file (left; where points pile up, their "
                                f"density: zoom in to see each point); the model trained on a random sample of "
                                f"{n:,} of them, which the input's {beside} (right) draws. The code is coloured "
                                "by the label only: the other colourings are of the sample.")
    sample = f"The model trained on a random sample of {n:,} of this file's {total:,} rows. "
    if dims == 2 and method in EVERY_ROW_METHODS:
        return RowsDrawn(every, sample + f"Drawing all {total:,} rows: where points pile up the chart shows their "
                                         "density; zoom in to see each point.")
    title = METHOD_TITLES[method]  # "the code itself" starts a sentence here; "t-SNE" keeps its small t
    title = "T" + title[1:] if title.startswith("the ") else title
    return RowsDrawn(None, sample + f"{title} in {dims}-D draws the {n:,} rows trained on; "
                                    "the code itself and PCA in 2-D draw every row.")
