"""Real-world CSV -> numeric feature matrix, plus a report of every decision.

Two steps, both usable on their own:

* :func:`read_csv` (in :mod:`ae_core.data.csv_io`, re-exported here) turns bytes of
  unknown origin into a DataFrame, whatever the encoding and delimiter.
* :func:`prepare_table` turns that frame into a float32 matrix for the
  autoencoder: numeric-looking text becomes numbers, useless columns are
  dropped with a reason, small categoricals are one-hot encoded, and the
  :class:`PreparationReport` records it all so the CLI and the app can show
  the user exactly what happened to their file.

Missing values stay NaN here: imputation is fitted later on the training split
only, so the test split never leaks into the medians.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ae_core.data.columns import clean_numeric, label_values, split_columns
from ae_core.data.csv_io import DELIMITER_NAMES as _DELIMITER_NAMES
from ae_core.data.csv_io import DELIMITERS, MIN_ROWS, read_csv
from ae_core.data.csv_io import clean_headers as _clean_headers
from ae_core.errors import InputError

__all__ = ["DELIMITERS", "MIN_ROWS", "MIN_FEATURES", "PreparationReport", "PreparedTable", "prepare_table", "read_csv"]

MIN_FEATURES = 2


@dataclass(frozen=True)
class PreparationReport:
    """What :func:`prepare_table` did to a table, in words a person can check.

    Attributes
    ----------
    n_rows_read, n_rows_kept, n_columns_read : int
        Data rows in the input, rows in the output matrix, columns in the input.
    kept : tuple of str
        Feature names of the output matrix (one-hot features as ``col=value``).
    dropped : tuple of (column, reason)
        Columns not used, e.g. ``("id", "id-like: unique integer per row")``.
    converted : tuple of (column, how)
        Columns whose values were transformed (numeric text, one-hot, booleans).
    n_imputed : int
        Missing cells in the matrix; filled later with training-split medians.
    encoding, delimiter : str
        As detected by :func:`read_csv` (``"n/a"`` for a DataFrame input; ``"Parquet"`` and ``"n/a"`` for a
        Parquet file).
    notes : tuple of str
        Anything else worth knowing (ragged lines, sampling, dropped rows).
    label_column : str or None
        The column used as labels, never as a feature.
    """

    n_rows_read: int
    n_rows_kept: int
    n_columns_read: int
    kept: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    converted: tuple[tuple[str, str], ...]
    n_imputed: int
    encoding: str
    delimiter: str
    notes: tuple[str, ...]
    label_column: str | None

    def to_dict(self) -> dict:
        """Return a JSON-able dict (tuples become lists)."""
        return {
            "n_rows_read": self.n_rows_read, "n_rows_kept": self.n_rows_kept,
            "n_columns_read": self.n_columns_read, "kept": list(self.kept),
            "dropped": [list(d) for d in self.dropped],
            "converted": [list(c) for c in self.converted],
            "n_imputed": self.n_imputed, "encoding": self.encoding,
            "delimiter": self.delimiter, "notes": list(self.notes),
            "label_column": self.label_column,
        }

    def summary_lines(self) -> list[str]:
        """Return plain-English lines for the CLI and the app, most important first."""
        sep = _DELIMITER_NAMES.get(self.delimiter, self.delimiter)
        source = "a Parquet file" if self.encoding == "Parquet" else f"encoding {self.encoding}, delimiter: {sep}"
        lines = [f"Read {self.n_rows_read:,} rows x {self.n_columns_read:,} columns ({source}).",
                 f"Using {self.n_rows_kept:,} rows and {len(self.kept):,} features."]
        if self.label_column is not None:
            lines.append(f"Label column '{self.label_column}' colours the plots; it is not a feature.")
        lines += [f"Dropped '{col}': {why}." for col, why in self.dropped]
        lines += [f"Converted '{col}': {how}." for col, how in self.converted]
        if self.n_imputed:
            lines.append(f"{self.n_imputed:,} missing value(s) will be filled with the "
                         "column median of the training split.")
        lines += [f"Note: {note}." for note in self.notes]
        return lines


@dataclass(frozen=True)
class PreparedTable:
    """A table ready for training.

    Attributes
    ----------
    X : ndarray of shape (n_rows_kept, n_features), float32
        Features; NaN where a value is missing (imputed later, on the train split).
    feature_names : tuple of str
    labels : ndarray of shape (n_rows_kept,), object, or None
        The label column's values as strings.
    row_index : ndarray of shape (n_rows_kept,), int64
        0-based data row number of each kept row in the input (header excluded).
    frame : DataFrame
        The kept rows with their raw values and all columns, indexed by row_index.
    report : PreparationReport
    """

    X: np.ndarray
    feature_names: tuple[str, ...]
    labels: np.ndarray | None
    row_index: np.ndarray
    frame: pd.DataFrame
    report: PreparationReport


def prepare_table(source_or_frame, *, label_column: str | None = None, max_rows: int = 100_000,
                  random_state: int = 0, rows_in_source: int | None = None) -> PreparedTable:
    """Turn a CSV (or DataFrame) into a float32 feature matrix and a report.

    Parameters
    ----------
    source_or_frame : path, bytes, binary file-like or DataFrame
        Anything :func:`read_csv` takes, or a DataFrame already read.
    label_column : str, optional
        A column kept as string labels (for colouring) and never used as a feature.
    max_rows : int, default=100_000
        Larger inputs are randomly sampled down to this many rows (kept in file order).
    random_state : int, default=0
        Seed of that sample.
    rows_in_source : int, optional
        When `source_or_frame` is already a sample of a larger table (``ae_core.data.large_table``): that
        table's row count, reported as the rows read and used by the id rule (a row counter spans it).

    Returns
    -------
    PreparedTable

    Raises
    ------
    InputError
        Unreadable input, unknown label column, fewer than 2 usable numeric
        features or fewer than 10 usable rows; the message says what to change.

    Examples
    --------
    >>> csv_text = "id,a,b\\n" + "".join(f"{i},{i % 3},{i * 7 % 5}\\n" for i in range(12))
    >>> table = prepare_table(csv_text.encode())
    >>> table.X.shape, table.feature_names, table.report.dropped
    ((12, 2), ('a', 'b'), (('id', 'id-like: unique integer per row'),))
    """
    frame, encoding, delimiter, notes = _read_frame(source_or_frame)
    n_rows_read, n_columns_read = rows_in_source or len(frame), len(frame.columns)
    label_column = _check_label(frame, label_column)
    frame = _sample_rows(frame, max_rows, random_state, notes)

    columns = [c for c in frame.columns if c != label_column]
    numeric, parsed, converted, dropped, onehot, text_present, dates = split_columns(frame, columns, delimiter)
    values, kept_numeric, dropped_numeric, n_absurd = clean_numeric(frame, numeric, parsed, n_rows_read)
    dropped.update(dropped_numeric)
    if n_absurd:
        notes.append(f"{n_absurd:,} infinite or absurdly large value(s) (|x| > 1e30) treated as missing")
    numeric_values = values[:, [numeric.index(c) for c in kept_numeric]]
    names, X = _assemble(columns, kept_numeric, numeric_values, onehot, len(frame), dates)
    if len(names) < MIN_FEATURES:
        _raise_too_few_features(names, dropped, delimiter)
    X, frame = _drop_empty_rows(X, frame, numeric_values, list(text_present.values()), notes)

    labels = label_values(frame[label_column]) if label_column is not None else None
    report = PreparationReport(
        n_rows_read=n_rows_read, n_rows_kept=len(frame), n_columns_read=n_columns_read,
        kept=tuple(names), dropped=tuple((c, dropped[c]) for c in columns if c in dropped),
        converted=tuple((c, converted[c]) for c in columns if c in converted and c not in dropped),
        n_imputed=int(np.isnan(X).sum()), encoding=encoding, delimiter=delimiter,
        notes=tuple(notes), label_column=label_column)
    return PreparedTable(X=np.ascontiguousarray(X), feature_names=tuple(names), labels=labels,
                         row_index=frame.index.to_numpy(dtype=np.int64), frame=frame, report=report)


def _is_parquet(source) -> bool:
    """A Parquet file, by its first bytes ("PAR1"), whatever its name."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:4]) == b"PAR1"
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        with open(source, "rb") as f:
            return f.read(4) == b"PAR1"
    return False


def _read_parquet(source) -> pd.DataFrame:
    """A Parquet file (pyarrow) as a DataFrame; its types come through (dates stay dates)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview))
                              else source)
        return table.to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read the Parquet file ({str(exc)[:200]}); write it again with pandas' "
                         "to_parquet or pyarrow, or export a CSV.") from None


def _read_frame(source_or_frame) -> tuple[pd.DataFrame, str, str, list[str]]:
    """(frame, encoding, delimiter, notes) of a CSV or Parquet source, or of a DataFrame given as it is."""
    kind = "n/a"
    if _is_parquet(source_or_frame):
        source_or_frame, kind = _read_parquet(source_or_frame), "Parquet"
    elif not isinstance(source_or_frame, pd.DataFrame):
        return read_csv(source_or_frame)
    frame = source_or_frame.copy()
    frame.columns, renamed = _clean_headers([str(c) for c in frame.columns], True)
    frame.index = pd.RangeIndex(len(frame), name="row")
    return frame, kind, "n/a", list(renamed)


def _check_label(frame: pd.DataFrame, label_column: str | None) -> str | None:
    """The label column as the frame names it (surrounding spaces forgiven), or a clear error."""
    if label_column is None or label_column in frame.columns:
        return label_column
    if label_column.strip() in frame.columns:
        return label_column.strip()
    shown = ", ".join(f"'{c}'" for c in frame.columns[:30])
    more = f" and {len(frame.columns) - 30} more" if len(frame.columns) > 30 else ""
    raise InputError(f"Label column '{label_column}' is not in the file. Available "
                     f"columns: {shown}{more}. Pick one of these, or use no label column.")


def _sample_rows(frame: pd.DataFrame, max_rows: int, random_state: int, notes: list[str]) -> pd.DataFrame:
    if max_rows < MIN_ROWS:
        raise InputError(f"max_rows must be at least {MIN_ROWS}; got {max_rows}.")
    n = len(frame)
    if n < MIN_ROWS:
        # Decided before looking at columns: with a row or two every column looks
        # constant, and "add numeric columns" would be the wrong advice.
        raise InputError(f"Only {n} data row(s); at least {MIN_ROWS} are needed to train and "
                         "validate. Add more rows below the header.")
    if n <= max_rows:
        return frame
    keep = np.sort(np.random.default_rng(random_state).choice(n, max_rows, replace=False))
    notes.append(f"sampled {max_rows:,} of {n:,} rows at random (row cap max_rows={max_rows:,})")
    return frame.iloc[keep]


def _assemble(columns, kept_numeric, numeric_values: np.ndarray, onehot: dict, n: int,
              dates: dict | None = None) -> tuple[list[str], np.ndarray]:
    """Feature names and the float32 matrix, in the file's column order."""
    dates = dates or {}
    names, blocks = [], []
    position = {c: j for j, c in enumerate(kept_numeric)}
    for c in columns:
        if c in position:
            names.append(c)
            blocks.append(numeric_values[:, position[c]][:, None])
        elif c in onehot:
            cats, matrix = onehot[c]
            names += [f"{c}={v}" for v in cats]
            blocks.append(matrix)
        elif c in dates:
            date_names, matrix = dates[c]
            names += date_names
            blocks.append(matrix)
    return names, (np.hstack(blocks).astype(np.float32) if blocks else np.empty((n, 0), np.float32))


def _drop_empty_rows(X: np.ndarray, frame: pd.DataFrame, numeric_values: np.ndarray, text_present: list, notes: list):
    """Rows with nothing to learn from (blank lines, ",,,") carry no information: dropped, and counted."""
    empty = np.isnan(numeric_values).all(axis=1)
    if text_present:
        empty &= ~np.column_stack(text_present).any(axis=1)
    if empty.any():
        notes.append(f"{int(empty.sum()):,} row(s) with no feature values dropped")
        X, frame = X[~empty], frame.iloc[~empty]
    if len(frame) < MIN_ROWS:
        raise InputError(f"Only {len(frame)} usable row(s); at least {MIN_ROWS} are needed to "
                         "train and validate. Add more rows (rows with no numeric values do not count).")
    return X, frame


def _raise_too_few_features(names: list[str], dropped: dict, delimiter: str):
    found = f"found {len(names)}" + (f" ({', '.join(repr(c) for c in names)})" if names else "")
    why = "; ".join(f"'{c}' ({r})" for c, r in list(dropped.items())[:8])
    more = f" and {len(dropped) - 8} more" if len(dropped) > 8 else ""
    sep = _DELIMITER_NAMES.get(delimiter, delimiter)
    raise InputError(f"The table needs at least {MIN_FEATURES} numeric columns; {found}. " + (f"Dropped: {why}{more}. " if why else "")
                     + "Add numeric columns, or check that the file's delimiter "
                     f"(read as: {sep}) and the label column are right.")


