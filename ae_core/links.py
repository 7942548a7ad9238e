"""A page's shareable state in its URL: encode what a person chose, decode a link into choices.

A link sent after a lasso must open exactly that view, and a link someone edited by hand (or an old
link whose run changed) must still open a page: every value is checked against what the page offers
now, and anything that does not fit is dropped, so the page falls back to its default for it.

Fields describe one query parameter each (`Choice`, `Number`, `Rows`); `decode(params, fields)` and
`encode(values, fields)` work on whole pages. Values equal to the field's default are left out of the
URL to keep links short.

>>> fields = {"proj": Choice(("latent", "pca", "umap"), "latent"), "pct": Number(80.0, 99.9, 99.0)}
>>> decode({"proj": "umap", "pct": "1e9"}, fields)
{'proj': 'umap', 'pct': 99.0}
>>> encode({"proj": "umap", "pct": 99.0}, fields)
{'proj': 'umap'}
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# A selection as ranges ("3-7.12") up to this many characters; past it, a compressed bitmap; past
# MAX_LINK, no selection in the URL (browsers and proxies cope with ~8 KB; chat apps cut long links).
MAX_RANGES = 400
MAX_LINK = 1800


@dataclass(frozen=True)
class Choice:
    """One of `options` (strings, or numbers written as text: the 2-D/3-D choice)."""

    options: tuple
    default: object = None

    def decode(self, raw: str):
        for option in self.options:
            if str(option) == raw:
                return option
        return None

    def encode(self, value) -> str:
        return str(value)


@dataclass(frozen=True)
class Number:
    """A number in [lo, hi], rounded to `step` when given (a slider's grid)."""

    lo: float
    hi: float
    default: float | None = None
    step: float | None = None

    def decode(self, raw: str):
        try:
            v = float(raw)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(v) or not self.lo <= v <= self.hi:
            return None
        if self.step:
            v = round(self.lo + round((v - self.lo) / self.step) * self.step, 10)
            v = min(max(v, self.lo), self.hi)
        return v

    def encode(self, value) -> str:
        return f"{float(value):g}"


@dataclass(frozen=True)
class Rows:
    """A set of row numbers below `n` (a lasso's selection); `encode` returns None when too long for a link."""

    n: int
    default: tuple = ()

    def decode(self, raw: str):
        rows = decode_rows(raw, self.n)
        return tuple(rows) if rows else None

    def encode(self, value) -> str | None:
        return encode_rows(value)


_RANGES = re.compile(r"^\d+(-\d+)?(\.\d+(-\d+)?)*$")


def encode_rows(rows: Sequence[int]) -> str | None:
    """Row numbers as text for a URL: ranges `3-7.12.40-41` when short, else `b` + a compressed bitmap
    (URL-safe base64); None when even that is longer than MAX_LINK characters.

    >>> encode_rows([12, 3, 4, 5, 6, 7, 40, 41])
    '3-7.12.40-41'
    """
    rows = np.unique(np.asarray(list(rows), dtype=np.int64))
    if not len(rows):
        return ""
    if rows[0] < 0:
        raise ValueError("row numbers are never negative")
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([[rows[0]], rows[breaks + 1]])
    ends = np.concatenate([rows[breaks], [rows[-1]]])
    text = ".".join(f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts.tolist(), ends.tolist()))
    if len(text) <= MAX_RANGES:
        return text
    bits = np.zeros(int(rows[-1]) + 1, dtype=bool)
    bits[rows] = True
    packed = base64.urlsafe_b64encode(zlib.compress(np.packbits(bits).tobytes(), 9)).decode().rstrip("=")
    return "b" + packed if len(packed) + 1 <= MAX_LINK else (text if len(text) <= MAX_LINK else None)


def decode_rows(text: str, n: int) -> list[int]:
    """`encode_rows`' inverse, keeping rows below `n`; anything malformed reads as no selection."""
    text = (text or "").strip()
    if not text or n <= 0 or len(text) > MAX_LINK:
        return []
    if text.startswith("b"):
        try:
            raw = zlib.decompressobj()
            data = raw.decompress(base64.urlsafe_b64decode(text[1:] + "=" * (-len(text[1:]) % 4)), (n + 7) // 8 + 1)
        except (binascii.Error, ValueError, zlib.error):
            return []
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:n]
        return np.flatnonzero(bits).tolist()
    if not _RANGES.match(text):
        return []
    out: set[int] = set()
    for part in text.split("."):
        a, _, b = part.partition("-")
        lo, hi = int(a), int(b or a)
        if lo > hi:
            return []
        hi = min(hi, n - 1)
        if lo <= hi:
            out.update(range(lo, hi + 1))
    return sorted(out)


Field = Choice | Number | Rows


def decode(params: Mapping[str, str], fields: Mapping[str, Field]) -> dict:
    """Every field's value: the URL's when it is valid, else the field's default."""
    out = {}
    for name, field in fields.items():
        raw = params.get(name)
        value = field.decode(raw) if isinstance(raw, str) else None
        out[name] = field.default if value is None else value
    return out


def encode(values: Mapping, fields: Mapping[str, Field]) -> dict[str, str]:
    """The query parameters for `values`: fields at their default (or that do not fit a link) left out."""
    out = {}
    for name, field in fields.items():
        if name not in values:
            continue
        value = values[name]
        if isinstance(field, Rows) and value is not None:
            value = tuple(int(r) for r in value)
        if value is None or value == field.default:
            continue
        text = field.encode(value)
        if text:
            out[name] = text
    return out
