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
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ae_core.data.csv_io import DELIMITER_NAMES as _DELIMITER_NAMES
from ae_core.data.csv_io import DELIMITERS, MIN_ROWS, read_csv
from ae_core.data.csv_io import clean_headers as _clean_headers
from ae_core.errors import InputError

__all__ = ["DELIMITERS", "MIN_ROWS", "MIN_FEATURES", "PreparationReport", "PreparedTable", "prepare_table", "read_csv"]

MAX_CATEGORIES = 10  # one-hot up to this many distinct values; beyond it is free text
MIN_FEATURES = 2
ABSURD = 1e30  # |x| above this becomes missing: squares must stay finite when scaling


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


_ID_NAME = re.compile(r"(^|[\s_.-])(id|uuid|guid|index|idx|key|row|rownum|row_?number)$|^unnamed: ?\d+$",
                      re.IGNORECASE)
_US_NUMBER = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
_EU_NUMBER = r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?|[+-]?\d+,\d+"
_CURRENCY = "$\u20ac\u00a3\u00a5\u20b9"  # $ € £ ¥ ₹


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
    numeric, parsed, converted, dropped, onehot, text_present, dates = _split_columns(frame, columns, delimiter)
    values, kept_numeric, dropped_numeric, n_absurd = _clean_numeric(frame, numeric, parsed, n_rows_read)
    dropped.update(dropped_numeric)
    if n_absurd:
        notes.append(f"{n_absurd:,} infinite or absurdly large value(s) (|x| > 1e30) treated as missing")
    numeric_values = values[:, [numeric.index(c) for c in kept_numeric]]
    names, X = _assemble(columns, kept_numeric, numeric_values, onehot, len(frame), dates)
    if len(names) < MIN_FEATURES:
        _raise_too_few_features(names, dropped, delimiter)
    X, frame = _drop_empty_rows(X, frame, numeric_values, list(text_present.values()), notes)

    labels = _labels(frame[label_column]) if label_column is not None else None
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


def _split_columns(frame: pd.DataFrame, columns: list[str], delimiter: str):
    """Sort columns into numeric (native or parsed from text), one-hot, dates and times, and dropped."""
    numeric, parsed, converted, dropped, onehot, text_present, dates = [], {}, {}, {}, {}, {}, {}
    n = len(frame)
    for c in columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):  # a DataFrame or Parquet column that is already dates
            _add_dates(c, _naive_utc(s), dates, converted, dropped, text_present)
            continue
        if pd.api.types.is_bool_dtype(s):
            parsed[c] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            converted[c] = "true/false as 1/0"
            numeric.append(c)
            continue
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
            numeric.append(c)
            continue
        number = _parse_numeric_text(s, decimal_comma=delimiter == ";")
        if number is not None:
            parsed[c], converted[c] = number
            numeric.append(c)
            continue
        t = _as_text(s)
        present = t.notna().to_numpy()
        counts = t.value_counts()
        if not present.any():
            dropped[c] = "empty: no values"
        elif len(counts) == 1:
            dropped[c] = f"constant: every value is '{counts.index[0]}'"
        elif (when := _parse_dates(t)) is not None:
            # Before the id-like test: a timestamp per row is unique per row, and it is information, not an id.
            _add_dates(c, when, dates, converted, dropped, text_present)
        elif len(counts) == present.sum() >= 0.9 * n and n > MAX_CATEGORIES:
            # Unique per row: a code if short tokens, prose if long or spaced.
            prose = (counts.index.str.len() > 20) | counts.index.str.contains(r"\s")
            dropped[c] = ("free text: a different value in every row" if prose.mean() > 0.5
                          else "id-like: a different value in every row")
        elif len(counts) <= MAX_CATEGORIES:
            cats = sorted(counts.index, key=str)
            onehot[c] = (cats, np.column_stack([(t == v).to_numpy(dtype=bool) for v in cats]))
            shown = ", ".join(f"'{c}={v}'" for v in cats[:3]) + (", ..." if len(cats) > 3 else "")
            missing = f"; {n - present.sum():,} missing value(s) are 0 in every indicator" if not present.all() else ""
            converted[c] = f"one-hot encoded {len(cats)} categories as features {shown}{missing}"
            text_present[c] = present
        else:
            dropped[c] = (f"free text: {len(counts):,} distinct values in {n:,} rows "
                          f"(categories are one-hot encoded only up to {MAX_CATEGORIES})")
    return numeric, parsed, converted, dropped, onehot, text_present, dates


_DATE_PARTS = ("year", "month", "day of week", "hour")
_EPOCH = pd.Timestamp("1970-01-01")


def _naive_utc(d: pd.Series) -> pd.Series:
    return d.dt.tz_convert(None) if getattr(d.dt, "tz", None) is not None else d


def _parse_dates(t: pd.Series) -> pd.Series | None:
    """Datetimes of a text column (UTC, zone-less; NaT where missing) when at least 90% of its values are dates
    in one format, else None. The format is pandas' guess from the first values, month-first, then day-first
    (31/12/2024 fits only the second); one format parsed at once is fast and never guesses per cell."""
    from pandas.tseries.api import guess_datetime_format

    present = t.dropna()
    if present.empty or present.iloc[:50].str.contains(r"\d").mean() < 0.9:
        return None
    best = None
    for dayfirst in (False, True):
        for value in present.iloc[:3]:
            with warnings.catch_warnings():  # it warns about day-first formats it finds; the 90% check decides
                warnings.simplefilter("ignore")
                fmt = guess_datetime_format(str(value), dayfirst=dayfirst)
            if fmt and any(k in fmt for k in ("%Y", "%y", "%b", "%B")):
                break
        else:
            continue
        when = pd.to_datetime(t, format=fmt, errors="coerce", utc=True)
        share = when.notna().sum() / len(present)
        if share >= 0.9 and (best is None or share > best[0]):
            best = (share, when)
    return None if best is None else _naive_utc(best[1])


def _add_dates(c: str, when: pd.Series, dates: dict, converted: dict, dropped: dict, text_present: dict) -> None:
    """A date/time column as numbers a person would expect: days since 1970 (a timestamp), then the year,
    month, day of week and hour, each only where it varies (a column of one year has no year feature)."""
    present = when.notna().to_numpy()
    if when.nunique() < 2:
        dropped[c] = "constant: one date/time" if present.any() else "empty: no values"
        return
    values = {f"{c} (days since 1970)": ((when - _EPOCH) / pd.Timedelta(days=1)).to_numpy(np.float64, na_value=np.nan)}
    parts = {"year": when.dt.year, "month": when.dt.month, "day of week": when.dt.day_of_week,
             "hour": when.dt.hour + when.dt.minute / 60}
    for name in _DATE_PARTS:
        v = parts[name].to_numpy(np.float64, na_value=np.nan)
        if np.unique(v[present]).size > 1:
            values[f"{c}: {name}"] = v
    dates[c] = (list(values), np.column_stack(list(values.values())))
    missing = f"; {int((~present).sum()):,} missing or unreadable date(s) filled later" if not present.all() else ""
    shown = [n.split(": ")[1].replace("day of week", "day of week (Monday = 0)") for n in list(values)[1:]]
    converted[c] = "date/time as " + ", ".join(["days since 1970", *shown]) + missing
    text_present[c] = present


_NA_TOKENS = {"", "na", "n/a", "nan", "null", "none", "-", "--", "?", "missing", "\u2014"}


def _as_text(s: pd.Series) -> pd.Series:
    """Values as stripped strings; NaN for missing, blank and NA-like cells."""
    t = s.astype(str).str.strip()
    return t.where(s.notna() & ~t.str.lower().isin(_NA_TOKENS))


def _parse_numeric_text(s: pd.Series, decimal_comma: bool) -> tuple[np.ndarray, str] | None:
    """Parse text such as '1,234', '$5', '12%', '(12)', '1.234,5' as float64.

    Returns None unless at least 90% of the non-missing values parse; the rest
    become missing. The thousands/decimal style is chosen per column by which
    pattern more values match, and ties (e.g. only '1,234') go to decimal
    commas when the file is ';'-separated, the European convention.
    """
    t = _as_text(s)
    valid = t.notna().to_numpy()
    if not valid.any():
        return None
    tv = t[valid]
    paren = tv.str.fullmatch(r"\(.*\)").to_numpy(dtype=bool)  # accounting negative
    core = tv.str.replace(rf"[\s{_CURRENCY}%()]", "", regex=True)
    core = core.where(~paren, "-" + core)
    plain = pd.to_numeric(core, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    us = core.str.fullmatch(_US_NUMBER).to_numpy(dtype=bool)
    eu = core.str.fullmatch(_EU_NUMBER).to_numpy(dtype=bool)
    european = eu.sum() > us.sum() or (eu.sum() == us.sum() and eu.any() and decimal_comma)
    if european:
        alt_text, grouped, style = core.str.replace(".", "", regex=False).str.replace(",", ".", regex=False), eu, "decimal commas"
    else:
        alt_text, grouped, style = core.str.replace(",", "", regex=False), us, "thousands separators"
    alt = pd.to_numeric(alt_text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(grouped, alt, plain)
    ok = ~np.isnan(values)
    if ok.sum() < 0.9 * len(values) or not ok.any():
        return None
    markers = {
        style: grouped,
        "currency symbols": tv.str.contains(f"[{_CURRENCY}]").to_numpy(dtype=bool),
        "percent signs (12% -> 12)": tv.str.contains("%", regex=False).to_numpy(dtype=bool),
        "accounting negatives (12) -> -12": paren,
        "surrounding spaces": (s[valid].astype(str) != tv).to_numpy(dtype=bool),
    }
    kinds = [k for k, m in markers.items() if (m & ok).any()]
    special = np.flatnonzero(np.any([m & ok for m in markers.values()], axis=0))
    i = special[0] if len(special) else np.flatnonzero(ok)[0]
    how = f"parsed text as numbers{' (' + ', '.join(kinds) + ')' if kinds else ''}, e.g. '{tv.iloc[i]}' -> {values[i]:g}"
    if not ok.all():
        how += (f"; {(~ok).sum():,} non-numeric value(s) such as '{tv.iloc[np.flatnonzero(~ok)[0]]}' "
                "treated as missing")
    out = np.full(len(s), np.nan)
    out[valid] = values
    return out, how


def _clean_numeric(frame: pd.DataFrame, numeric: list[str], parsed: dict, n_total: int):
    """Stack numeric columns as float64, blank out inf/absurd values, drop useless ones.

    Vectorised over columns so that thousands of columns stay fast.
    """
    n = len(frame)
    A = np.empty((n, len(numeric)))
    native = [j for j, c in enumerate(numeric) if c not in parsed]
    if native:
        A[:, native] = frame[[numeric[j] for j in native]].to_numpy(dtype=np.float64, na_value=np.nan)
    for j, c in enumerate(numeric):
        if c in parsed:
            A[:, j] = parsed[c]
    with np.errstate(invalid="ignore"):
        absurd = ~(np.abs(A) <= ABSURD) & ~np.isnan(A)
    A[absurd] = np.nan
    present = ~np.isnan(A)
    lo, hi = np.fmin.reduce(A, axis=0), np.fmax.reduce(A, axis=0)  # NaN-skipping, no warnings
    integer = ((A == np.round(A)) | ~present).all(axis=0)
    named = np.array([bool(_ID_NAME.search(c)) for c in numeric], dtype=bool)
    # A few missing ids (blank lines, a footer) must not hide an id column.
    candidate = (present.sum(axis=0) >= 0.9 * n) & (lo != hi) & (integer | named) & (n > MAX_CATEGORIES)
    unique = np.zeros(len(numeric), dtype=bool)
    if candidate.any():  # sorting puts NaN last, and NaN != x, so only present values count
        unique[candidate] = (np.diff(np.sort(A[:, candidate], axis=0), axis=0) != 0).all(axis=0)
    dropped = {}
    for j, c in enumerate(numeric):
        if not present[:, j].any():
            dropped[c] = "empty: no usable values"
        elif lo[j] == hi[j]:
            dropped[c] = f"constant: every value is {lo[j]:g}"
        elif unique[j] and integer[j] and hi[j] - lo[j] < n_total:
            dropped[c] = "id-like: unique integer per row"  # a row counter, maybe sampled
        elif unique[j] and named[j]:
            dropped[c] = "id-like: named like an id, with a unique value per row"
    kept = {c for c in numeric if c not in dropped}
    return A, kept, dropped, int(absurd.sum())


def _raise_too_few_features(names: list[str], dropped: dict, delimiter: str):
    found = f"found {len(names)}" + (f" ({', '.join(repr(c) for c in names)})" if names else "")
    why = "; ".join(f"'{c}' ({r})" for c, r in list(dropped.items())[:8])
    more = f" and {len(dropped) - 8} more" if len(dropped) > 8 else ""
    sep = _DELIMITER_NAMES.get(delimiter, delimiter)
    raise InputError(f"The table needs at least {MIN_FEATURES} numeric columns; {found}. " + (f"Dropped: {why}{more}. " if why else "")
                     + "Add numeric columns, or check that the file's delimiter "
                     f"(read as: {sep}) and the label column are right.")


def _labels(s: pd.Series) -> np.ndarray:
    """Label values as strings; integer-valued floats print without '.0'."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(v)
        text = v.astype(str)
        if (v[finite] == np.round(v[finite])).all() and (np.abs(v[finite]) < 2**53).all():
            text = np.where(finite, np.where(finite, v, 0).astype(np.int64).astype(str), text)
    else:
        text = s.astype(str).to_numpy(dtype=object)
    return np.where(missing, "(missing)", text).astype(object)
