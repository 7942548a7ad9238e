"""What each column of a table is: numbers (also written as text: `$1,234`, `12%`, `1.234,5`), dates and times,
small categories, ids, free text; and the cleaning of the numbers (absurd values become missing).

`ae_core.data.tabular.prepare_table` (whole tables) and `ae_core.data.large_table` (tables read in chunks)
both decide with these functions, so a column means the same thing to both.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

MAX_CATEGORIES = 10  # one-hot up to this many distinct values; beyond it is free text


ABSURD = 1e30  # |x| above this becomes missing: squares must stay finite when scaling


ID_NAME = re.compile(r"(^|[\s_.-])(id|uuid|guid|index|idx|key|row|rownum|row_?number)$|^unnamed: ?\d+$",
                      re.IGNORECASE)


US_NUMBER = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"


EU_NUMBER = r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?|[+-]?\d+,\d+"


CURRENCY = "$\u20ac\u00a3\u00a5\u20b9"  # $ € £ ¥ ₹


def split_columns(frame: pd.DataFrame, columns: list[str], delimiter: str):
    """Sort columns into numeric (native or parsed from text), one-hot, dates and times, and dropped."""
    numeric, parsed, converted, dropped, onehot, text_present, dates = [], {}, {}, {}, {}, {}, {}
    n = len(frame)
    for c in columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):  # a DataFrame or Parquet column that is already dates
            add_dates(c, naive_utc(s), dates, converted, dropped, text_present)
            continue
        if pd.api.types.is_bool_dtype(s):
            parsed[c] = s.to_numpy(dtype=np.float64, na_value=np.nan)
            converted[c] = "true/false as 1/0"
            numeric.append(c)
            continue
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
            numeric.append(c)
            continue
        number = parse_numeric_text(s, decimal_comma=delimiter == ";")
        if number is not None:
            parsed[c], converted[c] = number
            numeric.append(c)
            continue
        t = as_text(s)
        present = t.notna().to_numpy()
        counts = t.value_counts()
        if not present.any():
            dropped[c] = "empty: no values"
        elif len(counts) == 1:
            dropped[c] = f"constant: every value is '{counts.index[0]}'"
        elif (when := parse_dates(t)) is not None:
            # Before the id-like test: a timestamp per row is unique per row, and it is information, not an id.
            add_dates(c, when, dates, converted, dropped, text_present)
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


DATE_PARTS = ("year", "month", "day of week", "hour")


EPOCH = pd.Timestamp("1970-01-01")


def naive_utc(d: pd.Series) -> pd.Series:
    return d.dt.tz_convert(None) if getattr(d.dt, "tz", None) is not None else d


def parse_dates(t: pd.Series) -> pd.Series | None:
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
    return None if best is None else naive_utc(best[1])


def add_dates(c: str, when: pd.Series, dates: dict, converted: dict, dropped: dict, text_present: dict) -> None:
    """A date/time column as numbers a person would expect: days since 1970 (a timestamp), then the year,
    month, day of week and hour, each only where it varies (a column of one year has no year feature)."""
    present = when.notna().to_numpy()
    if when.nunique() < 2:
        dropped[c] = "constant: one date/time" if present.any() else "empty: no values"
        return
    values = {f"{c} (days since 1970)": ((when - EPOCH) / pd.Timedelta(days=1)).to_numpy(np.float64, na_value=np.nan)}
    parts = {"year": when.dt.year, "month": when.dt.month, "day of week": when.dt.day_of_week,
             "hour": when.dt.hour + when.dt.minute / 60}
    for name in DATE_PARTS:
        v = parts[name].to_numpy(np.float64, na_value=np.nan)
        if np.unique(v[present]).size > 1:
            values[f"{c}: {name}"] = v
    dates[c] = (list(values), np.column_stack(list(values.values())))
    missing = f"; {int((~present).sum()):,} missing or unreadable date(s) filled later" if not present.all() else ""
    shown = [n.split(": ")[1].replace("day of week", "day of week (Monday = 0)") for n in list(values)[1:]]
    converted[c] = "date/time as " + ", ".join(["days since 1970", *shown]) + missing
    text_present[c] = present


NA_TOKENS = {"", "na", "n/a", "nan", "null", "none", "-", "--", "?", "missing", "\u2014"}


def as_text(s: pd.Series) -> pd.Series:
    """Values as stripped strings; NaN for missing, blank and NA-like cells."""
    t = s.astype(str).str.strip()
    return t.where(s.notna() & ~t.str.lower().isin(NA_TOKENS))


def parse_numeric_text(s: pd.Series, decimal_comma: bool) -> tuple[np.ndarray, str] | None:
    """Parse text such as '1,234', '$5', '12%', '(12)', '1.234,5' as float64.

    Returns None unless at least 90% of the non-missing values parse; the rest
    become missing. The thousands/decimal style is chosen per column by which
    pattern more values match, and ties (e.g. only '1,234') go to decimal
    commas when the file is ';'-separated, the European convention.
    """
    t = as_text(s)
    valid = t.notna().to_numpy()
    if not valid.any():
        return None
    tv = t[valid]
    paren = tv.str.fullmatch(r"\(.*\)").to_numpy(dtype=bool)  # accounting negative
    core = tv.str.replace(rf"[\s{CURRENCY}%()]", "", regex=True)
    core = core.where(~paren, "-" + core)
    plain = pd.to_numeric(core, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    us = core.str.fullmatch(US_NUMBER).to_numpy(dtype=bool)
    eu = core.str.fullmatch(EU_NUMBER).to_numpy(dtype=bool)
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
        "currency symbols": tv.str.contains(f"[{CURRENCY}]").to_numpy(dtype=bool),
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


def clean_numeric(frame: pd.DataFrame, numeric: list[str], parsed: dict, n_total: int):
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
    named = np.array([bool(ID_NAME.search(c)) for c in numeric], dtype=bool)
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


def label_values(s: pd.Series) -> np.ndarray:
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
