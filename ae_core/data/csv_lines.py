"""A CSV's lines that do not fit its header, counted for the preparation report.

pandas' C parser (what both CSV paths read with) skips a line with more fields than the header and
says so only in a ParserWarning ("Skipping line 7: expected 3 fields, saw 4"), and it fills a line
with fewer fields with missing values without a word. Both paths report the two kinds the same way:

* :func:`skipped_records` turns the warnings into data row numbers (the skipped lines; the kept rows
  are numbered around them, so a row number is its record's place in the file);
* :func:`check_lines` counts the short lines and the undecodable bytes in one pass of pyarrow's
  streaming CSV reader, whose ``invalid_row_handler`` sees each line whose field count differs from
  the header's; the file goes through Python's codec first (``errors="replace"``), so a bad byte is
  counted, not an exception.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

_BLOCK = 1 << 22  # bytes pyarrow parses at a time; the memory this pass needs


def skipped_records(messages, has_header: bool) -> list[int]:
    """Sorted 0-based data row numbers of the lines pandas skipped, from its ParserWarning messages
    (their line numbers count records, header included)."""
    lines = [int(n) for m in messages for n in re.findall(r"Skipping line (\d+)", str(m))]
    return sorted(n - (2 if has_header else 1) for n in lines)


def ragged_note(skipped: list[int]) -> str:
    return (f"{len(skipped):,} ragged line(s) skipped (more fields than the header); "
            f"first at data row {skipped[0]}")


def renumber(positions, skipped) -> np.ndarray:
    """The file's data row numbers of kept rows at 0-based `positions` among the kept rows, when the
    records `skipped` (sorted) were left out: position p is record p + (skipped records before it)."""
    s = np.asarray(skipped, dtype=np.int64)
    before = s - np.arange(len(s))  # kept rows before each skipped record
    p = np.asarray(positions, dtype=np.int64)
    return p + np.searchsorted(before, p, side="right")


@dataclass(frozen=True)
class LineCounts:
    """What :func:`check_lines` found.

    Attributes
    ----------
    short : int
        Lines with fewer fields than the header (not empty lines); pandas keeps them with the missing
        cells empty.
    first_short : int or None
        The first one's 0-based data row number.
    replaced : int
        Undecodable bytes replaced with U+FFFD while reading (0 when the source is text already).
    """

    short: int = 0
    first_short: int | None = None
    replaced: int = 0

    def notes(self) -> list[str]:
        out = []
        if self.short:
            out.append(f"{self.short:,} short line(s) (fewer fields than the header): their missing cells are "
                       f"left empty and imputed; first at data row {self.first_short}")
        if self.replaced:
            out.append(f"{self.replaced:,} undecodable byte(s) replaced with '\ufffd'")
        return out


class _Utf8Reader(io.RawIOBase):
    """A binary file read through `encoding` (bad bytes replaced, and counted), handed on as UTF-8."""

    def __init__(self, raw, encoding: str):
        self._raw, self._decoder = raw, codecs.getincrementaldecoder(encoding)(errors="replace")
        self._buf, self._done, self.replaced = bytearray(), False, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n is None or n < 0 or len(self._buf) < n):
            chunk = self._raw.read(_BLOCK)
            text = self._decoder.decode(chunk, final=not chunk)
            self._done = not chunk
            self.replaced += text.count("\ufffd")
            self._buf += text.encode("utf-8")
        n = len(self._buf) if n is None or n < 0 else min(n, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


def check_lines(source, *, encoding: str, delimiter: str, has_header: bool, width: int) -> LineCounts:
    """Count the lines of a CSV (a path, or its text as a str) that have fewer fields than `width`, and the
    undecodable bytes, without holding the file: pyarrow parses it a block at a time, one column kept.

    A line pyarrow cannot get past (an unclosed quote at the end) stops the count where it is, logged:
    pandas, which reads the same file for the data, refuses it with its own message.
    """
    import pyarrow as pa
    import pyarrow.csv as pc

    if width < 2:
        return LineCounts()
    short, first = 0, None

    def on_invalid(row) -> str:
        nonlocal short, first
        if row.actual_columns < row.expected_columns and row.text:
            short += 1
            first = row.number - (2 if has_header else 1) if first is None else first
        return "skip"

    names = [f"c{i}" for i in range(width)]
    if isinstance(source, str):
        stream, encoded = io.BytesIO(source.encode("utf-8")), None
    else:
        encoded = _Utf8Reader(open(source, "rb"), "utf-8-sig" if encoding == "utf-8" else encoding)  # noqa: SIM115
        stream = encoded
    try:
        # Closed on the way out: a streaming reader left open keeps an Arrow I/O thread that can abort the
        # process when the interpreter exits (apache/arrow#34314).
        with pc.open_csv(
                stream,
                read_options=pc.ReadOptions(column_names=names, skip_rows=int(has_header), use_threads=False,
                                            block_size=_BLOCK),
                parse_options=pc.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False,
                                              invalid_row_handler=on_invalid),
                convert_options=pc.ConvertOptions(include_columns=["c0"], column_types={"c0": pa.string()})) as reader:
            for _ in reader:
                pass
    except pa.ArrowInvalid as exc:
        log.warning("line check stopped early: %s", str(exc)[:200])
    finally:
        if encoded is not None:
            encoded._raw.close()
    return LineCounts(short=short, first_short=first, replaced=0 if encoded is None else encoded.replaced)
