"""Tables too big to hold at once: train on a random sample, then turn every row into features, in chunks.

A million rows by 50 columns of CSV is ~0.5-1 GB of text; pandas holding it, its parsed copy and the
feature matrix at once needs several GB. Here the file is streamed twice, a chunk of rows at a time:

1. :func:`open_large_table` draws a uniform random sample of at most ``sample_rows`` rows (each row
   gets a random key; the smallest keys seen so far are kept, so the row count need not be known
   first) and prepares it with :func:`~ae_core.data.tabular.prepare_table`: every decision (columns
   kept or dropped, categories, date features) is made on the sample and reported.
2. :meth:`LargeTable.chunks` reads the file again and applies those same decisions to each chunk
   (:class:`RowFeatures`), so every row becomes a feature row the trained model can encode.

Memory is bounded by the sample plus one chunk, whatever the file's length. Small files (under
``stream_bytes``) are read whole with :func:`~ae_core.data.tabular.prepare_table` as before. Both ways
skip a line with too many fields and number the rows around it, and report those lines, lines with
too few fields and undecodable bytes in the same words (:mod:`ae_core.data.csv_lines`; streamed, the
count of short lines and bad bytes is one more pass, with pyarrow).
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ae_core.data import columns, csv_io, csv_lines, tabular
from ae_core.errors import InputError

SAMPLE_ROWS = 100_000  # a model is trained on at most this many rows; every row is encoded afterwards
CHUNK_ROWS = 100_000  # rows per chunk when streaming: ~40 MB of float64 at 50 columns
STREAM_BYTES = 64 * 1024 * 1024  # files from this size are streamed; smaller ones are read whole
_SNIFF_BYTES = 262_144


@dataclass(frozen=True)
class Chunk:
    """Features of consecutive rows of the file.

    Attributes
    ----------
    X : ndarray of shape (n_kept, n_features), float32, NaN where missing
    row_index : ndarray of shape (n_kept,), int64
        0-based data row numbers in the file (header excluded).
    labels : ndarray of shape (n_kept,), object, or None
    """

    X: np.ndarray
    row_index: np.ndarray
    labels: np.ndarray | None


@dataclass(frozen=True)
class LargeTable:
    """A table prepared from a sample, able to give every row's features chunk by chunk.

    Attributes
    ----------
    sample : PreparedTable
        The rows to train on (all rows when the file has at most ``sample_rows``); its report
        counts the whole file and says when it is a sample.
    n_rows : int
        Data rows in the file.
    sampled : bool
        Whether ``sample`` is a sample rather than every row.
    """

    sample: tabular.PreparedTable
    n_rows: int
    sampled: bool
    path: Path
    _reader: object  # _CsvReader | _ParquetReader | None (None: `sample` holds every row)
    _features: RowFeatures | None

    @property
    def training_note(self) -> str:
        """One line for a report: how many rows trained the model and how many are encoded."""
        n = self.sample.X.shape[0]
        if not self.sampled:
            return f"trained on all {n:,} rows"
        return f"trained on {n:,} of {self.n_rows:,} rows (a random sample); every row is encoded"

    def chunks(self, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """Every kept row of the file, as features in the sample's columns, `chunk_rows` rows at a time."""
        if self._reader is None:
            t = self.sample
            for start in range(0, len(t.X), chunk_rows):
                part = slice(start, start + chunk_rows)
                yield Chunk(t.X[part], t.row_index[part], None if t.labels is None else t.labels[part])
            return
        for frame in self._reader.frames(chunk_rows, text_columns=self._features.text_columns):
            yield self._features.transform(frame)


def open_large_table(path, *, label_column: str | None = None, sample_rows: int = SAMPLE_ROWS,
                     chunk_rows: int = CHUNK_ROWS, stream_bytes: int | None = None,
                     random_state: int = 0) -> LargeTable:
    """Prepare a CSV or Parquet file of any length for training on a sample and encoding every row.

    Parameters
    ----------
    path : str or Path
    label_column : str, optional
    sample_rows : int, default=SAMPLE_ROWS
        Train on at most this many rows, drawn uniformly at random.
    chunk_rows : int, default=CHUNK_ROWS
        Rows read at a time while sampling.
    stream_bytes : int, optional
        Files smaller than this are read whole (exact CSV handling); larger ones are streamed. Default
        ``STREAM_BYTES``.
    random_state : int, default=0

    Returns
    -------
    LargeTable

    Raises
    ------
    InputError
        As :func:`~ae_core.data.tabular.prepare_table`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    if sample_rows < csv_io.MIN_ROWS:
        raise InputError(f"sample_rows must be at least {csv_io.MIN_ROWS}; got {sample_rows}.")
    if path.stat().st_size < (STREAM_BYTES if stream_bytes is None else stream_bytes):
        return _in_memory(path, label_column, sample_rows, random_state)
    reader = _ParquetReader(path) if tabular._is_parquet(path) else _CsvReader(path)
    frame, n_rows = _sample(reader, sample_rows, chunk_rows, random_state)
    if n_rows < csv_io.MIN_ROWS:
        raise InputError(f"Only {n_rows} data row(s); at least {csv_io.MIN_ROWS} are needed to train and "
                         "validate. Add more rows below the header.")
    prepared = tabular.prepare_table(frame, label_column=label_column, max_rows=len(frame),
                                     rows_in_source=n_rows)
    rows = frame.index.to_numpy(np.int64)[prepared.row_index]  # sample positions -> the file's row numbers
    report = dataclasses.replace(prepared.report, encoding=reader.encoding, delimiter=reader.delimiter,
                                 notes=(*reader.report_notes(), *prepared.report.notes, *_sample_note(len(frame), n_rows)))
    prepared = dataclasses.replace(prepared, row_index=rows, frame=prepared.frame.set_axis(pd.Index(rows, name="row")),
                                   report=report)
    return LargeTable(sample=prepared, n_rows=n_rows, sampled=len(frame) < n_rows, path=path, _reader=reader,
                      _features=RowFeatures.from_prepared(prepared, frame))


def prepare_sample(source, *, label_column: str | None = None, max_rows: int = SAMPLE_ROWS,
                   random_state: int = 0) -> tabular.PreparedTable:
    """:func:`~ae_core.data.tabular.prepare_table`, streamed for a big file: at most `max_rows` random rows,
    prepared as they would be from the whole file, in memory bounded by them and one chunk."""
    if isinstance(source, (str, Path)) and Path(source).is_file() and Path(source).stat().st_size >= STREAM_BYTES:
        return open_large_table(source, label_column=label_column, sample_rows=max_rows,
                                random_state=random_state).sample
    return tabular.prepare_table(source, label_column=label_column, max_rows=max_rows, random_state=random_state)


def _sample_note(n_sample: int, n_rows: int) -> tuple[str, ...]:
    if n_sample >= n_rows:
        return ()
    return (f"trained on {n_sample:,} of {n_rows:,} rows (a random sample); every row is encoded",)


def _in_memory(path: Path, label_column, sample_rows: int, random_state: int) -> LargeTable:
    """A file small enough to read whole: every row prepared at once, the model trained on a sample of them."""
    table = tabular.prepare_table(path, label_column=label_column, max_rows=2**62)
    n = len(table.X)
    if n <= sample_rows:
        return LargeTable(sample=table, n_rows=n, sampled=False, path=path, _reader=None, _features=None)
    keep = np.sort(np.random.default_rng(random_state).choice(n, sample_rows, replace=False))
    sample = dataclasses.replace(
        table, X=table.X[keep], row_index=table.row_index[keep], frame=table.frame.iloc[keep],
        labels=None if table.labels is None else table.labels[keep],
        report=dataclasses.replace(table.report, notes=(*table.report.notes, *_sample_note(sample_rows, n))))
    return LargeTable(sample=sample, n_rows=n, sampled=True, path=path, _reader=_Whole(table), _features=_Identity())


class _Whole:
    """Every prepared row of a file read whole, served in chunks."""

    encoding = delimiter = "n/a"

    def __init__(self, table):
        self.table = table

    def frames(self, chunk_rows: int, text_columns=()):
        t = self.table
        for start in range(0, len(t.X), chunk_rows):
            part = slice(start, start + chunk_rows)
            yield Chunk(t.X[part], t.row_index[part], None if t.labels is None else t.labels[part])


class _Identity:
    text_columns = ()

    def transform(self, chunk: Chunk) -> Chunk:
        return chunk


def _sample(reader, n: int, chunk_rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    """A uniform random sample of at most n rows (file order) and the file's row count, in one pass.

    Each row gets a uniform random key and the n smallest keys win (a bottom-n sketch), so the count
    need not be known before reading and memory holds n rows plus one chunk.
    """
    rng = np.random.default_rng(seed)
    kept, keys, total = None, np.empty(0), 0
    for frame in reader.frames(chunk_rows):
        total += len(frame)
        k = rng.random(len(frame))
        if kept is None:
            kept, keys = frame, k
        else:
            kept, keys = pd.concat([kept, frame]), np.concatenate([keys, k])
        if len(kept) > n:
            best = np.sort(np.argpartition(keys, n)[:n])
            kept, keys = kept.iloc[best], keys[best]
    if kept is None:
        raise InputError("The file has no data rows. Add at least 10 rows below the header.")
    return kept.sort_index(), total


# ---- readers ------------------------------------------------------------------------------------


class _ParquetReader:
    encoding, delimiter = "Parquet", "n/a"

    def report_notes(self) -> tuple[str, ...]:
        return ()  # typed columns: no lines to be ragged

    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = path
        try:
            self.columns, _ = csv_io.clean_headers([str(c) for c in pq.read_schema(path).names], True)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise InputError(f"cannot read the Parquet file ({str(exc)[:200]}); write it again with pandas' "
                             "to_parquet or pyarrow, or export a CSV.") from None

    def frames(self, chunk_rows: int, text_columns=()) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        start = 0
        with pq.ParquetFile(self.path) as file:  # closed even when the caller stops reading early
            for batch in file.iter_batches(batch_size=chunk_rows):
                frame = batch.to_pandas()
                frame.columns = self.columns
                frame.index = pd.RangeIndex(start, start + len(frame), name="row")
                start += len(frame)
                yield frame


class _CsvReader:
    """pandas' chunked CSV reader with what :func:`~ae_core.data.csv_io.read_csv` found in the first 256 KB:
    the encoding, the delimiter and whether the first line is a header."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        if len(head) == _SNIFF_BYTES and b"\n" in head:
            head = head[: head.rindex(b"\n") + 1]  # whole lines: no character cut in half
        frame, self.encoding, self.delimiter, notes = csv_io.read_csv(head)
        whole_file = ("ragged", "short line", "undecodable")  # counted over the whole file by report_notes
        self.notes = tuple(n for n in notes if not any(w in n for w in whole_file))
        self.has_header = not any("looks like data, not a header" in n for n in notes)
        self.width = len(frame.columns)
        self.skipped: list[int] = []  # data rows of the lines the last pass skipped (more fields than the header)

    def report_notes(self) -> tuple[str, ...]:
        """The notes of a whole pass, as the in-memory path writes them: the first lines' notes, the ragged
        lines skipped, and (one more pass, with pyarrow) the short lines and undecodable bytes."""
        counts = csv_lines.check_lines(self.path, encoding=self.encoding, delimiter=self.delimiter,
                                       has_header=self.has_header, width=self.width)
        ragged = (csv_lines.ragged_note(self.skipped),) if self.skipped else ()
        return (*self.notes, *ragged, *counts.notes())

    def frames(self, chunk_rows: int, text_columns=()) -> Iterator[pd.DataFrame]:
        """The file's rows, `chunk_rows` at a time, each indexed by its data row number in the file (a line
        with too many fields is skipped, as in memory, and recorded in `skipped`)."""
        kwargs = {"sep": self.delimiter, "index_col": False, "skip_blank_lines": False, "na_values": csv_io._EXTRA_NA,
                  "on_bad_lines": "warn", "encoding": "utf-8-sig" if self.encoding == "utf-8" else self.encoding,
                  "encoding_errors": "replace", "chunksize": chunk_rows, "low_memory": False}
        if text_columns:  # read as text what the sample read as text: categories compare as strings
            kwargs["dtype"] = {c: str for c in text_columns}
        if not self.has_header:
            kwargs.update(header=None, names=[f"column_{i + 1}" for i in range(self.width)])
        columns, self.skipped = None, []
        try:
            with pd.read_csv(self.path, **kwargs) as reader:
                while (frame := self._next(reader)) is not None:
                    if columns is None:
                        columns, _ = csv_io.clean_headers([str(c) for c in frame.columns], self.has_header)
                    frame.columns = columns
                    # pandas numbers the rows it kept; the file's numbers skip the lines it left out
                    frame.index = pd.Index(csv_lines.renumber(frame.index, self.skipped), name="row")
                    yield frame
        except pd.errors.ParserError as err:
            raise InputError(f"The file could not be parsed as CSV ({str(err).strip()[:200]}). "
                             "Check for an unclosed quote and save it again as CSV.") from None

    def _next(self, reader) -> pd.DataFrame | None:
        """The next chunk (None at the end), its skipped lines added to `skipped`. The warnings are caught
        around this one call, never across a `yield`, where they would catch the caller's."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = next(reader, None)
        parser = [w.message for w in caught if issubclass(w.category, pd.errors.ParserWarning)]
        for w in caught:
            if not issubclass(w.category, pd.errors.ParserWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.skipped.extend(csv_lines.skipped_records(parser, self.has_header))
        return frame


# ---- the sample's decisions, applied to any rows -------------------------------------------------


@dataclass(frozen=True)
class RowFeatures:
    """The feature columns of a prepared sample, computed for other rows of the same file.

    Built from the sample's feature names, its report and its raw frame: each kept source column is
    native numbers, true/false, numbers written as text (one thousands/decimal style), one-hot
    categories or dates, exactly as :func:`~ae_core.data.tabular.prepare_table` decided on the sample.
    """

    steps: tuple  # (kind, column, detail) in feature order
    label_column: str | None
    text_columns: tuple[str, ...]

    @classmethod
    def from_prepared(cls, table: tabular.PreparedTable, raw: pd.DataFrame) -> RowFeatures:
        names, report = list(table.feature_names), table.report
        converted = dict(report.converted)
        steps, i = [], 0
        for c in raw.columns:
            if c == report.label_column or i >= len(names):
                continue
            how = converted.get(c, "")
            if names[i] == c:
                kind = ("bool" if pd.api.types.is_bool_dtype(raw[c]) or how.startswith("true/false")
                        else "text" if how.startswith("parsed text") else "number")
                steps.append((kind, c, "decimal commas" in how))
                i += 1
            elif names[i] == f"{c} (days since 1970)":
                parts = []
                i += 1
                while i < len(names) and names[i].startswith(f"{c}: "):
                    parts.append(names[i][len(c) + 2:])
                    i += 1
                steps.append(("date", c, tuple(parts)))
            elif how.startswith("one-hot") and names[i].startswith(f"{c}="):
                n = int(re.search(r"one-hot encoded (\d+)", how).group(1))
                steps.append(("onehot", c, tuple(v[len(c) + 1:] for v in names[i:i + n])))
                i += n
        if i != len(names):  # a bug, not the user's: the walk must account for every feature
            raise RuntimeError(f"could not map features {names[i:]} back to the table's columns")
        text = tuple(c for c in raw.columns if raw[c].dtype == object)
        return cls(steps=tuple(steps), label_column=report.label_column, text_columns=text)

    def transform(self, frame: pd.DataFrame) -> Chunk:
        """Features of `frame`'s rows (rows with no feature value at all are left out, as in the sample)."""
        blocks, numeric, present = [], [], []
        for kind, c, detail in self.steps:
            s = frame[c] if c in frame.columns else pd.Series(np.nan, index=frame.index)
            if kind == "onehot":
                t = columns.as_text(s)
                blocks.append(np.column_stack([(t == v).to_numpy(bool) for v in detail]).astype(np.float32))
                present.append(t.notna().to_numpy())
            elif kind == "date":
                when = _dates(s)
                block = _date_features(when, detail)
                blocks.append(block)
                present.append(~np.isnan(block[:, 0]))
            else:
                v = _numbers(s, kind, detail)
                blocks.append(v[:, None].astype(np.float32))
                numeric.append(v)
        X = np.hstack(blocks) if blocks else np.empty((len(frame), 0), np.float32)
        keep = ~np.isnan(np.column_stack(numeric)).all(axis=1) if numeric else np.zeros(len(frame), bool)
        if present:
            keep |= np.column_stack(present).any(axis=1)
        labels = None
        if self.label_column is not None:
            labels = columns.label_values(frame[self.label_column])[keep]
        return Chunk(np.ascontiguousarray(X[keep]), frame.index.to_numpy(np.int64)[keep], labels)


def _numbers(s: pd.Series, kind: str, decimal_comma: bool) -> np.ndarray:
    """float64 values as the sample read them; anything else is NaN (missing, filled later)."""
    if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s)):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
    elif kind == "bool":
        v = columns.as_text(s).str.lower().map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}).to_numpy(np.float64)
    else:
        v = _text_numbers(s, decimal_comma)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(v) <= columns.ABSURD, v, np.nan)  # a copy: `v` may be the frame's own memory


def _text_numbers(s: pd.Series, decimal_comma: bool) -> np.ndarray:
    """Numbers written as text ('$1,234', '12%', '(5)', '1.234,5'), in the style the sample used."""
    t = columns.as_text(s)
    paren = t.str.fullmatch(r"\(.*\)").fillna(False).to_numpy(bool)
    core = t.str.replace(rf"[\s{columns.CURRENCY}%()]", "", regex=True)
    core = core.where(~paren, "-" + core)
    if decimal_comma:
        grouped = core.str.fullmatch(columns.EU_NUMBER).fillna(False).to_numpy(bool)
        alt = core.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        grouped = core.str.fullmatch(columns.US_NUMBER).fillna(False).to_numpy(bool)
        alt = core.str.replace(",", "", regex=False)
    plain = pd.to_numeric(core, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return np.where(grouped, pd.to_numeric(alt, errors="coerce").to_numpy(np.float64, na_value=np.nan), plain)


def _dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return columns.naive_utc(s)
    t = columns.as_text(s)
    when = columns.parse_dates(t)  # the same guess as on the sample: one format per column
    if when is None:  # this chunk is mostly not dates: each cell on its own, unreadable ones missing
        when = columns.naive_utc(pd.to_datetime(t, errors="coerce", utc=True, format="mixed"))
    return when


def _date_features(when: pd.Series, parts: tuple[str, ...]) -> np.ndarray:
    parts_of = {"year": when.dt.year, "month": when.dt.month, "day of week": when.dt.day_of_week,
                "hour": when.dt.hour + when.dt.minute / 60}
    cols = [((when - columns.EPOCH) / pd.Timedelta(days=1)).to_numpy(np.float64, na_value=np.nan)]
    cols += [parts_of[p].to_numpy(np.float64, na_value=np.nan) for p in parts]
    return np.column_stack(cols).astype(np.float32)


__all__ = [
    "CHUNK_ROWS",
    "SAMPLE_ROWS",
    "STREAM_BYTES",
    "Chunk",
    "LargeTable",
    "RowFeatures",
    "open_large_table",
    "prepare_sample",
]
