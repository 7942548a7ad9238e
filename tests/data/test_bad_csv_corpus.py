"""Bad input end to end: a corpus of awkward and broken CSV files, each run through
BOTH the command line (`python -m ae_core embed`, a real subprocess) and the upload
path (`save_upload` -> `inspect_upload` -> `load_dataset("csv", ...)`).

Every file must give a working embedding or an InputError whose message says what
to do: never a traceback, never a hang. The unit tests of the reader and the
preparation (tests/data/test_tabular.py) check each decision on tiny inputs; this file
checks that the two user-facing paths agree on real files, and that the CLI keeps
its contract (exit 0 with output, or exit 2 with exactly one `error:` line and no
output file).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ae_core.data.registry import load_dataset
from ae_core.errors import InputError
from ae_core.runs import upload

REPO = Path(__file__).resolve().parents[2]
EMBED_TIMEOUT = 120  # seconds per file; the slowest (100,050 rows) takes ~10 s on 2 cores
OK = "ok"


def _rows(n: int, seed: int = 0) -> np.ndarray:
    """n rows of three correlated measurements (a curve plus noise)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 3, n)
    return np.c_[t, np.sin(t) + 0.1 * rng.normal(size=n), t**2]


def _table(n: int = 40, sep: str = ",", header=("a", "b", "c"), fmt=lambda v: f"{v:.4f}") -> str:
    lines = [sep.join(header)] + [sep.join(fmt(v) for v in row) for row in _rows(n)]
    return "\n".join(lines) + "\n"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("data.csv", _table())
    return buf.getvalue()


def _corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, OK or a regex the error message must match)."""
    rng = np.random.default_rng(1)
    rows = _rows(40)
    c = {}
    c["empty"] = (b"", "empty")
    c["blank-lines-only"] = (b"\n\n  \n", "empty")
    c["header-only"] = (b"a,b,c\n", "no data rows")
    c["one-row"] = (b"a,b,c\n1,2,3\n", r"at least 10")
    c["nine-rows"] = (_table(9).encode(), r"at least 10")
    c["one-column"] = (("x\n" + "".join(f"{v:.3f}\n" for v in rows[:, 0])).encode(), "at least 2 numeric columns")
    c["all-missing"] = (("a,b,c\n" + ",,\n" * 30).encode(), "numeric columns|no feature values|usable row")
    c["all-NA-tokens"] = (("a,b,c\n" + "NA,n/a,?\n" * 30).encode(), "numeric columns|usable row")
    c["only-text"] = (("name,comment\n" + "".join(f"n{i},said thing {i}\n" for i in range(30))).encode(), "at least 2 numeric columns")
    c["only-categories"] = (("size,colour\n" + "".join(f"s{i % 3},c{i % 4}\n" for i in range(30))).encode(), OK)
    inf = _table(40).splitlines()
    inf[3], inf[7], inf[9], inf[11] = "inf,1,2", "-inf,1e308,3", "1e308,-1e308,4", "nan,NaN,5"
    c["inf-and-1e308"] = (("\n".join(inf) + "\n").encode(), OK)
    mixed = _table(40).splitlines()
    for i in (2, 5, 13):
        mixed[i] = "oops," + mixed[i].split(",", 1)[1]
    c["mixed-types-in-a-column"] = (("\n".join(mixed) + "\n").encode(), OK)
    c["duplicate-and-empty-headers"] = (_table(40, header=("a", "a", "")).encode(), OK)
    c["bom-utf8"] = (b"\xef\xbb\xbf" + _table(40).encode(), OK)
    c["utf16-excel"] = (_table(40, sep="\t").encode("utf-16"), OK)
    c["latin-1"] = (_table(40, header=("café", "größe", "año")).encode("latin-1"), OK)
    c["cp1252"] = (_table(40, header=("Preis €", "Menge", "“Größe”")).encode("cp1252"), OK)
    c["semicolon-decimal-comma"] = (_table(40, sep=";", fmt=lambda v: f"{v:.4f}".replace(".", ",")).encode(), OK)
    c["tab"] = (_table(40, sep="\t").encode(), OK)
    c["pipe"] = (_table(40, sep="|").encode(), OK)
    quoted = ['a,b,c,note'] + [f'{r[0]:.3f},{r[1]:.3f},{r[2]:.3f},"line one\nline {i % 3}"' for i, r in enumerate(rows)]
    c["quoted-newlines"] = (("\n".join(quoted) + "\n").encode(), OK)
    ragged = _table(40).splitlines()
    ragged[4] += ",9,9"
    ragged[20] += ",1"
    c["ragged-lines"] = (("\n".join(ragged) + "\n").encode(), OK)
    short = _table(40).splitlines()
    short[6] = short[6].rsplit(",", 1)[0]  # too few fields: the missing cell is missing
    c["short-lines"] = (("\n".join(short) + "\n").encode(), OK)
    wide = rng.normal(size=(15, 5000))
    c["5000-columns"] = (pd.DataFrame(wide, columns=[f"f{j}" for j in range(5000)]).to_csv(index=False, float_format="%.3f").encode(), OK)
    n_big = 100_050
    i = np.arange(n_big)
    big = pd.DataFrame({"a": i % 97, "b": (i * 7) % 89, "c": (i % 97) * 2 + (i % 5)})
    c["over-the-row-cap"] = (big.to_csv(index=False).encode(), OK)
    c["binary-junk"] = (bytes(rng.integers(0, 256, 4000, dtype=np.uint8)), "binary|not CSV")
    c["zip-renamed-csv"] = (_zip(), "zip archive")
    c["gzip-renamed-csv"] = (gzip.compress(_table().encode()), "gzip")
    c["nul-bytes-in-text"] = (_table().encode()[:200] + b"\x00\x00" + _table().encode()[200:], "binary")
    c["one-huge-line"] = (",".join(str(k) for k in range(200_000)).encode(), r"at least 10|no data rows|numeric")
    c["unclosed-quote"] = (('a,b,c\n"1,2,3\n' + "".join(f"{k},{k % 3},{k % 7}\n" for k in range(30))).encode(),
                           r"at least 10|no data rows|parsed|quote|numeric")
    c["formula-and-html-text"] = (("=cmd|' /C calc'!A0,<script>alert(1)</script>,b\n"
                                   + "".join(f"{r[0]:.3f},{r[1]:.3f},{'@SUM(A1)' if k % 2 else '<b>x</b>'}\n"
                                             for k, r in enumerate(rows))).encode(), OK)
    return c


CORPUS = _corpus()


def _embed(args) -> tuple[str, subprocess.CompletedProcess | None, float, Path]:
    name, src, out = args
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, "-m", "ae_core", "embed", str(src), "--out", str(out), "--epochs", "2"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=EMBED_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc = None
    return name, proc, time.time() - t0, out


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad-csv")
    for name, (data, _) in CORPUS.items():
        (folder / f"{name}.csv").write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def embedded(corpus_dir):
    """Every corpus file through `python -m ae_core embed`, two at a time."""
    jobs = [(name, corpus_dir / f"{name}.csv", corpus_dir / f"{name}.out.csv") for name in CORPUS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {name: (proc, seconds, out) for name, proc, seconds, out in pool.map(_embed, jobs)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CORPUS))
def test_cli_embed_gives_output_or_one_error_line(embedded, name):
    proc, seconds, out = embedded[name]
    expect = CORPUS[name][1]
    assert proc is not None, f"{name}: embed did not finish within {EMBED_TIMEOUT} s (a hang)"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if expect == OK:
        assert proc.returncode == 0, proc.stderr[-2000:]
        df = pd.read_csv(out)
        assert list(df.columns[:1]) == ["row"] and df.shape[1] == 3, df.columns
        assert len(df) >= 10 and df["row"].is_monotonic_increasing and df["row"].is_unique
        assert np.isfinite(df[["latent_1", "latent_2"]].to_numpy()).all()
        assert re.search(r"wrote [\d,]+ rows", proc.stderr)
    else:
        assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr[-2000:]
        assert re.search(expect, lines[0], re.I), lines[0]
        assert not out.exists()


@pytest.mark.slow
def test_cli_embed_trains_on_a_sample_over_the_row_cap_and_encodes_every_row(embedded):
    proc, _, out = embedded["over-the-row-cap"]
    assert proc is not None and proc.returncode == 0, proc and proc.stderr
    assert "trained on 100,000 of 100,050 rows" in proc.stderr
    assert pd.read_csv(out)["row"].tolist() == list(range(100_050))


@pytest.mark.slow
def test_cli_embed_notes_skipped_ragged_lines(embedded):
    proc, _, out = embedded["ragged-lines"]
    assert "2 ragged line(s) skipped" in proc.stderr
    rows = pd.read_csv(out)["row"].tolist()
    assert 3 not in rows and 19 not in rows and len(rows) == 38  # data rows 3 and 19 are the ragged ones


@pytest.mark.parametrize("name", list(CORPUS))
def test_upload_path_gives_a_dataset_or_a_message(tmp_path, name):
    data, expect = CORPUS[name]
    path = upload.save_upload(tmp_path, f"{name}.csv", data)
    found = upload.inspect_upload(path)
    if expect == OK:
        assert found.error is None and found.report is not None, found.error
        ds = load_dataset("csv", path=str(path))
        assert ds.n_samples == found.report.n_rows_kept >= 10 and ds.n_features >= 2
        filled = np.where(np.isnan(ds.X), np.nanmedian(ds.X, axis=0), ds.X)
        assert np.isfinite(filled).all()
        assert ds.row_index is not None and (np.diff(ds.row_index) > 0).all()
    else:
        assert found.report is None and found.error, "a bad file must come back as a message"
        assert re.search(expect, found.error, re.I), found.error
        assert "Traceback" not in found.error
        with pytest.raises(InputError) as err:
            load_dataset("csv", path=str(path))
        assert re.search(expect, str(err.value), re.I)


def test_upload_path_samples_over_the_cap_and_says_so(tmp_path):
    path = upload.save_upload(tmp_path, "big.csv", CORPUS["over-the-row-cap"][0])
    found = upload.inspect_upload(path)
    assert found.report.n_rows_read == 100_050 and found.report.n_rows_kept == 100_000
    assert any("sampled 100,000 of 100,050 rows" in note for note in found.report.notes)


def test_upload_notes_what_it_did_to_awkward_files(tmp_path):
    def notes(name):
        path = upload.save_upload(tmp_path, f"{name}.csv", CORPUS[name][0])
        return " ".join(upload.inspect_upload(path).report.notes)

    assert "infinite or absurdly large" in notes("inf-and-1e308")
    assert "empty header" in notes("duplicate-and-empty-headers") and "duplicate header" in notes("duplicate-and-empty-headers")
    assert "ragged line" in notes("ragged-lines")


def test_upload_keeps_legacy_encodings_readable(tmp_path):
    for name, header in (("latin-1", "café"), ("cp1252", "Preis €")):
        path = upload.save_upload(tmp_path, f"{name}.csv", CORPUS[name][0])
        assert header in upload.inspect_upload(path).columns


# ---- generated: anything that looks a bit like CSV ------------------------------------------------

_cell = st.one_of(
    st.integers(-10**9, 10**9).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "1e308", "-1e308", "inf", "$1,234", "1.234,5", "12%", '"a\nb"', '"', "=1+1",
                     "<b>x</b>", "é", "\u20ac", "\x00"]),
    st.text(max_size=5),
)


@st.composite
def _csv_files(draw) -> bytes:
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    width = draw(st.integers(1, 4))
    n = draw(st.sampled_from([0, 1, 9, 10, 12, 30]))
    lines = [sep.join(draw(st.lists(_cell, min_size=max(1, width - 1), max_size=width + 1))) for _ in range(n + 1)]
    raw = "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"])), errors="replace")
    return draw(st.sampled_from([raw, raw[: len(raw) // 2], b"PK\x03\x04" + raw]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=_csv_files())
def test_upload_path_never_raises_on_generated_files(tmp_path, data):
    path = upload.save_upload(tmp_path, "generated.csv", data)
    found = upload.inspect_upload(path)
    assert (found.error is None) != (found.report is None)
    if found.error is None:
        ds = load_dataset("csv", path=str(path))
        assert ds.n_samples == found.report.n_rows_kept
    else:
        assert found.error.strip() and "Traceback" not in found.error
