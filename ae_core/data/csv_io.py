"""Reading CSV text of unknown origin: encoding, delimiter, header, ragged lines.

:func:`read_csv` turns bytes of unknown origin into a DataFrame: it sniffs the
encoding (BOM, UTF-8, charset_normalizer, cp1252), the delimiter
(``, ; tab |``), survives ragged lines and quoted newlines, and rejects binary
files (xlsx, zip, gzip, ...) with a message that says what to do. Turning the
frame into numbers is :mod:`ae_core.data.tabular`'s job.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ae_core.data import csv_lines
from ae_core.errors import InputError

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
MIN_ROWS = 10  # the fewest data rows worth training on (also named in read_csv's messages)
_SAMPLE_CHARS = 65_536
_WESTERN = {"English", "French", "German", "Spanish", "Portuguese", "Italian", "Dutch",
            "Danish", "Swedish", "Norwegian", "Finnish", "Icelandic", "Unknown", ""}
# Formats that are often renamed to .csv by mistake; each starts with these bytes.
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx or .ods file is one)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"SQLite format 3\x00", "a SQLite database"),
)
_EXTRA_NA = ["-", "--", "?", "\u2014", "n.a.", "N.A.", "missing", "Missing"]


def read_csv(source, *, max_bytes: int | None = None) -> tuple[pd.DataFrame, str, str, list[str]]:
    """Read CSV text of unknown encoding and delimiter into a DataFrame.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like
        A path, the file's bytes, or an object with ``read()`` (such as a
        Streamlit ``UploadedFile``).
    max_bytes : int, optional
        Refuse inputs larger than this many bytes.

    Returns
    -------
    frame : DataFrame
        One row per data record; the index is the record's 0-based number in
        the file (header excluded), so skipped ragged lines leave gaps.
    encoding : str
        The Python codec name used, e.g. ``"utf-8"`` or ``"cp1252"``.
    delimiter : str
        One of ``, ; \\t |``.
    notes : list of str
        Plain-English notes, e.g. ``"2 ragged lines skipped ..."``.

    Raises
    ------
    InputError
        Empty, binary or unparseable input, or no data rows.

    Examples
    --------
    >>> frame, enc, sep, notes = read_csv(b"a;b\\n1;2\\n")
    >>> (enc, sep, frame.shape)
    ('utf-8', ';', (1, 2))
    """
    raw = _read_bytes(source, max_bytes)
    _reject_binary(raw)
    text, encoding, notes = _decode(raw)
    if not text.strip():
        raise InputError("The file is empty. Choose a CSV file with a header row and "
                         f"at least {MIN_ROWS} data rows.")
    if sum(1 for c in text[:_SAMPLE_CHARS] if c < " " and c not in "\t\n\r\f\v") > 0.01 * min(len(text), _SAMPLE_CHARS):
        raise InputError("This file looks like binary data, not CSV text. Export the data "
                         "as CSV (comma- or semicolon-separated text) and try again.")
    text = re.sub(r"\A(?:[ \t]*\r?\n)+", "", text)  # pandas skips these but counts them as lines
    delimiter, has_header = _sniff(text)
    frame, skipped = _parse(text, delimiter, has_header)
    if skipped:
        notes.append(csv_lines.ragged_note(skipped))
    notes.extend(csv_lines.check_lines(text, encoding=encoding, delimiter=delimiter, has_header=has_header,
                                       width=len(frame.columns)).notes())
    if not has_header:
        notes.append("the first line looks like data, not a header: all lines were read "
                     "as data and the columns named column_1, column_2, ...")
    if len(frame) == 0:
        raise InputError(f"The file has a header ({len(frame.columns)} columns) but no data "
                         f"rows. Add at least {MIN_ROWS} rows below the header.")
    frame.columns, renamed = clean_headers([str(c) for c in frame.columns], has_header)
    notes.extend(renamed)
    return frame, encoding, delimiter, notes


def _read_bytes(source, max_bytes: int | None) -> bytes:
    limit_msg = (f"The file is larger than the {max_bytes / 1e6:,.1f} MB limit. Use a smaller "
                 "file, for example a sample of its rows.") if max_bytes else ""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"No file at '{path}'. Check the path and try again.")
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise InputError(limit_msg)
        raw = path.read_bytes()
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)  # an UploadedFile may have been read by an earlier rerun
        raw = source.read() if max_bytes is None else source.read(max_bytes + 1)
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
    else:
        raise TypeError(f"read_csv takes a path, bytes or a binary file object, not {type(source).__name__}")
    if max_bytes is not None and len(raw) > max_bytes:
        raise InputError(limit_msg)
    return raw


def _reject_binary(raw: bytes) -> None:
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise InputError(f"This file is {what}, not CSV text. Open it in the program that "
                             "made it (for Excel: File > Save As > 'CSV UTF-8') and use the "
                             ".csv file it writes.")
    if not raw.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" in raw[:_SAMPLE_CHARS]:
        raise InputError("This file contains binary data (NUL bytes), so it is not CSV text. "
                         "Export the data as CSV (comma- or semicolon-separated text) and try again.")


def _decode(raw: bytes) -> tuple[str, str, list[str]]:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        try:
            return raw.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as err:
            raise InputError(f"The file starts like UTF-16 text but is not valid UTF-16 ({err.reason}). "
                             "Export it again as 'CSV UTF-8'.") from None
    try:
        encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
        return raw.decode("utf-8-sig"), encoding, []
    except UnicodeDecodeError:
        pass
    encoding = _guess_legacy_encoding(raw[:262_144])
    try:
        return raw.decode(encoding), encoding, []
    except UnicodeDecodeError:  # the guess came from a sample; later bytes disagree
        text = raw.decode(encoding, errors="replace")
        return text, encoding, [f"{text.count(chr(0xFFFD)):,} undecodable byte(s) replaced with '\ufffd'"]


def _guess_legacy_encoding(sample: bytes) -> str:
    """Pick a non-UTF-8 encoding; cp1252 unless another language is evident.

    charset_normalizer is unreliable on short Western text ("Café;Preis" comes
    back as cp1006/Farsi), so it overrules cp1252 only when it recognises a
    non-Western language, or when cp1252 cannot decode the bytes at all.
    """
    from charset_normalizer import from_bytes  # imported lazily: rarely needed

    best = from_bytes(sample).best()
    try:
        sample.decode("cp1252")
        cp1252_ok = True
    except UnicodeDecodeError:
        cp1252_ok = False
    if best is not None and best.encoding not in ("cp1252", "latin_1", "ascii"):
        if not cp1252_ok or (best.coherence >= 0.1 and best.language not in _WESTERN):
            return best.encoding
    return "cp1252" if cp1252_ok else "latin-1"


def _sniff(text: str) -> tuple[str, bool]:
    """Return (delimiter, first line is a header).

    Score each candidate by how many sample rows have as many fields as the
    header (what pandas will expect), then by width; csv.Sniffer breaks ties.
    """
    sample = text[:_SAMPLE_CHARS]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    scores = {}
    for d in DELIMITERS:
        try:
            rows = [r for _, r in zip(range(200), csv.reader(io.StringIO(sample, newline=None), delimiter=d)) if r]
        except csv.Error:
            rows = []
        width = len(rows[0]) if rows else 0
        fit = sum(len(r) == width for r in rows[1:]) / max(len(rows) - 1, 1)
        scores[d] = (fit if width > 1 else 0.0, width, d == sniffed)
    delimiter = max(DELIMITERS, key=scores.__getitem__)
    if scores[delimiter][1] < 2:
        delimiter = ","
    first = _first_row(sample, delimiter)
    numeric = pd.to_numeric(pd.Series([f.strip() for f in first], dtype=object), errors="coerce")
    return delimiter, not (len(first) > 1 and numeric.notna().all())


def _first_row(text: str, delimiter: str) -> list[str]:
    try:  # newline=None: a lone '\r' ends a line, as it does for pandas
        return next(csv.reader(io.StringIO(text, newline=None), delimiter=delimiter), [])
    except csv.Error:
        return []


def _parse(text: str, delimiter: str, has_header: bool) -> tuple[pd.DataFrame, list[int]]:
    kwargs = dict(sep=delimiter, index_col=False, low_memory=False, on_bad_lines="warn",
                  skip_blank_lines=False,  # keep numbering equal to records in the file
                  na_values=_EXTRA_NA)
    if not has_header:
        width = max(len(_first_row(text[:_SAMPLE_CHARS], delimiter)), 1)
        kwargs.update(header=None, names=[f"column_{i + 1}" for i in range(width)])
    # The C parser reports skipped lines only as a ParserWarning ("Skipping line 7:
    # expected 3 fields, saw 4"); its line numbers count records, header included.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(io.StringIO(text), **kwargs)
        except pd.errors.EmptyDataError:
            raise InputError("The file has no columns. Choose a CSV file with a header row "
                             f"and at least {MIN_ROWS} data rows.") from None
        except pd.errors.ParserError as err:
            raise InputError(f"The file could not be parsed as CSV ({str(err).strip()}). "
                             "Check for an unclosed quote and save it again as CSV.") from None
    skipped = csv_lines.skipped_records([w.message for w in caught if issubclass(w.category, pd.errors.ParserWarning)],
                                        has_header)
    records = np.arange(len(frame) + len(skipped), dtype=np.int64)
    if all(0 <= k < len(records) for k in skipped):
        records = np.delete(records, skipped)
    else:  # the warning's numbering surprised us: plain positions beat wrong ones
        records = np.arange(len(frame), dtype=np.int64)
    frame.index = pd.Index(records, name="row")
    return frame, skipped


def clean_headers(names: list[str], has_header: bool) -> tuple[list[str], list[str]]:
    """Strip, name empty headers ``column_N`` (1-based) and make names unique."""
    out, seen, n_empty, n_dup = [], set(), 0, 0
    for i, name in enumerate(names):
        name = name.strip()
        if not name or (has_header and re.fullmatch(r"Unnamed: \d+", name)):
            name, n_empty = f"column_{i + 1}", n_empty + 1
        base, k = re.sub(r"\.\d+$", "", name), 0
        if base != name and base in names:  # pandas already mangled a duplicate
            n_dup += 1
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        n_dup += k > 0
        seen.add(name)
        out.append(name)
    notes = [f"{n_empty} empty header(s) named column_N (N = position)"] if n_empty else []
    if n_dup:
        notes.append(f"{n_dup} duplicate header(s) renamed with a .1, .2, ... suffix")
    return out, notes

