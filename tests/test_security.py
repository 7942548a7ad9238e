"""The README's security claims, checked: nothing from disk or an upload is
unpickled; run ids in the URL cannot reach files outside the store; user text
(column names, file names, cell values) is never rendered as HTML; every CSV we
export neutralises formula injection; uploads are capped."""

from __future__ import annotations

import ast
import csv
import io
import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ae_core.runs import upload
from ae_core.runs.execute import execute_run
from ae_core.runs.loaded import load_run

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
SOURCES = sorted([*(ROOT / "ae_core").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py"), *(ROOT / "ui").rglob("*.py"),
                  ROOT / "app.py"])
PAGES = ["home", "train", "latent", "reconstructions", "denoising", "anomalies", "upload", "compare"]

# Hostile user text: HTML that must stay text, and cells a spreadsheet would run as formulas.
SCRIPT, BOLD, ITALIC = "<script>alert(1)</script>", "<b>x</b>", "<i>y</i>"
MARKERS = (SCRIPT, BOLD, ITALIC)
FORMULAS = ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)")


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


# ---- nothing is unpickled ----------------------------------------------------------------------------

def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            yield node, owner, name


def _kw(node: ast.Call, name: str):
    for k in node.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant):
            return k.value.value
    return "<absent>"


def test_sources_never_unpickle():
    """pickle/joblib/dill/marshal loads, pandas read_pickle, np.load without allow_pickle=False and
    torch.load without weights_only=True are all ways to run code hidden in a file."""
    problems = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                bad = [m for m in mods if m.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal")]
                if bad:
                    problems.append(f"{_rel(path)}:{node.lineno} imports {bad}")
        for node, owner, name in _calls(tree):
            where = f"{_rel(path)}:{node.lineno}"
            if name == "read_pickle" or (name in ("load", "loads", "Unpickler") and owner in ("pickle", "joblib", "dill", "marshal")):
                problems.append(f"{where} {owner}.{name}")
            if name == "load" and owner in ("np", "numpy") and _kw(node, "allow_pickle") is not False:
                problems.append(f"{where} np.load without allow_pickle=False")
            if name == "load" and owner == "torch" and _kw(node, "weights_only") is not True:
                problems.append(f"{where} torch.load without weights_only=True")
            if any(k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                   for k in node.keywords):
                problems.append(f"{where} allow_pickle other than False")
    assert not problems, "\n".join(problems)


def test_weights_are_safetensors_and_arrays_npy(trained_store):
    store, ids = trained_store
    folder = store.folder(ids["digits"])
    names = {p.name for p in folder.iterdir()}
    assert "weights.safetensors" in names
    assert not [n for n in names if n.endswith((".pt", ".pth", ".pkl", ".pickle", ".joblib", ".ckpt"))], names
    for p in folder.glob("*.npy"):
        np.load(p, allow_pickle=False)  # a pickled object array would raise here


# ---- user text is never HTML ----------------------------------------------------------------------------

def test_pages_never_allow_html():
    """No st.html, components.html or unsafe_allow_html=True anywhere in the app: then no user
    string can be rendered as HTML by Streamlit itself (Plotly is checked separately)."""
    problems = []
    for path in [p for p in SOURCES if not _rel(p).startswith("ae_core")]:
        tree = ast.parse(path.read_text(), str(path))
        for node, owner, name in _calls(tree):
            if any(k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                   for k in node.keywords):
                problems.append(f"{_rel(path)}:{node.lineno} unsafe_allow_html")
            if name == "html" and owner in ("st", "components", "v1"):
                problems.append(f"{_rel(path)}:{node.lineno} {owner}.html")
    assert not problems, "\n".join(problems)


def hostile_csv(n: int = 60) -> bytes:
    """Numeric features, one named like HTML; a label column named and valued with HTML and
    formulas; a free-text column with the same traps (dropped as a feature, kept in the rows)."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 3, n)
    labels = np.array([BOLD, ITALIC, SCRIPT, *FORMULAS], dtype=object)
    frame = pd.DataFrame({
        "a": np.sin(t), BOLD: np.cos(t) + 0.05 * rng.normal(size=n), "c": t**2,
        SCRIPT: labels[np.arange(n) % len(labels)],
        "note": [f"{labels[i % len(labels)]} row {i}" for i in range(n)],
    })
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A finished CSV run on `hostile_csv`, label column SCRIPT; (store root, run id)."""
    from ae_core.runs.store import RunStore

    root = tmp_path_factory.mktemp("hostile") / "runs"
    store = RunStore(root)
    path = upload.save_upload(root, f"{SCRIPT}.csv", hostile_csv())
    config = upload.quick_config(path, SCRIPT, upload.display_name(f"{SCRIPT}.csv"))
    config["train"]["epochs"] = 3
    rec = store.create(config)
    assert execute_run(store, rec.id) == "done", store.get(rec.id).error
    return root, rec.id


def _nodes(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _html_leaks(at) -> list[str]:
    """User markers that would reach the browser as HTML: in markdown allowed to carry HTML,
    or raw in a Plotly figure (Plotly renders <b>, <i>, <a> ... in labels and hover text)."""
    leaks = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        if getattr(proto, "allow_html", False) and any(m in proto.body for m in MARKERS):
            leaks.append(f"markdown with allow_html: {proto.body[:120]!r}")
        if node.type == "plotly_chart":
            for s in _strings(json.loads(proto.spec)):
                if any(m in s for m in MARKERS):
                    leaks.append(f"plotly: {s[:120]!r}")
    return leaks


def _app(run_id: str | None, page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    if run_id is not None:
        at.query_params["run"] = run_id
    at.run()
    if page != "home":
        at.switch_page(f"app_pages/{page}.py")
        if run_id is not None:
            at.query_params["run"] = run_id
        at.run()
    return at


def test_upload_page_shows_hostile_file_as_text(store):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app_pages" / "upload.py"), default_timeout=60).run()
    at.file_uploader(key="upload_file").set_value((f"{SCRIPT}{BOLD}.csv", hostile_csv(), "text/csv")).run()
    assert not at.exception, at.exception
    assert at.dataframe, "the preparation report should be shown"
    assert SCRIPT in at.selectbox[0].options  # the column is offered, as plain text
    assert not _html_leaks(at)
    at.selectbox[0].set_value(SCRIPT).run()
    assert not at.exception and not _html_leaks(at)


@pytest.mark.slow
@pytest.mark.parametrize("page", ["upload", "latent", "reconstructions", "anomalies", "denoising", "compare", "train", "home"])
def test_hostile_run_renders_user_text_escaped_on_every_page(hostile_run, monkeypatch, page):
    root, run_id = hostile_run
    monkeypatch.setenv("AE_RUNS_DIR", str(root))
    at = _app(run_id, page)
    assert not at.exception, at.exception
    leaks = _html_leaks(at)
    assert not leaks, "\n".join(leaks)


# ---- run ids from the URL -------------------------------------------------------------------------------

TRAVERSALS = ["../../x", "../secret_target", "..%2F..%2Fsecret_target", "/etc/passwd", "0123456789ab/../../x",
              "0123456789ab", "<script>alert(1)</script>"]


@pytest.fixture
def audited_opens():
    """Paths opened by this process while the test runs (sys.addaudithook cannot be removed,
    so the hook is installed once and switched on and off)."""
    global _AUDIT
    if _AUDIT is None:
        _AUDIT = {"on": False, "seen": []}

        def hook(event, args, audit=_AUDIT):
            if audit["on"] and event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, Path)):
                audit["seen"].append(str(args[0]))

        sys.addaudithook(hook)
    _AUDIT["seen"] = []
    _AUDIT["on"] = True
    try:
        yield _AUDIT["seen"]
    finally:
        _AUDIT["on"] = False


_AUDIT = None


@pytest.fixture
def secret_target(trained_store):
    """A folder beside the store that `?run=../secret_target` would point at."""
    secret = trained_store[0].root.parent / "secret_target"
    secret.mkdir(exist_ok=True)
    (secret / "weights.safetensors").write_bytes(b"not weights")
    return secret


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_run_id_in_the_url_cannot_traverse(trained_store, secret_target, audited_opens, page):
    store, ids = trained_store
    for bad in TRAVERSALS:
        at = _app(bad, page)
        assert not at.exception, f"{bad!r} on {page}: {at.exception}"
    opened = [p for p in audited_opens if "secret_target" in p or p.startswith("/etc/passwd") or p.rstrip("/").endswith("/x")]
    assert not opened, opened
    assert {r.id for r in store.list()} == set(ids.values())  # nothing created or deleted


# ---- exports neutralise formulas ----------------------------------------------------------------------

def _formula_cells(data: bytes) -> list[str]:
    """Cells (headers included) a spreadsheet would evaluate: starting with = + - @ tab CR and not a number."""
    bad = []
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell)
    return bad


@pytest.fixture(scope="module")
def hostile_loaded(hostile_run):
    from ae_core.runs.store import RunStore

    root, run_id = hostile_run
    return RunStore(root), load_run(RunStore(root), run_id)


def test_exports_contain_the_hostile_text(hostile_loaded):
    """The checks below mean something only if the hostile cells reach the exports."""
    _, run = hostile_loaded
    text = upload.coordinates_csv(run).decode()
    assert "'=1+1" in text and "'@SUM(A1)" in text and "'-2+3" in text and SCRIPT in text


def test_latent_coordinates_csv_is_neutralised(hostile_loaded):
    from ae_core.analysis import latent as lat
    _, run = hostile_loaded
    frame = lat.latent_frame(run)
    assert set(FORMULAS) <= set(frame[lat.LABEL])
    assert not _formula_cells(lat.safe_csv(frame))


def test_upload_joined_coordinates_csv_is_neutralised(hostile_loaded):
    _, run = hostile_loaded
    assert not _formula_cells(upload.coordinates_csv(run))


def test_anomaly_flagged_rows_csv_is_neutralised(hostile_loaded):
    from ae_core.analysis import anomaly
    _, run = hostile_loaded
    data = anomaly.flagged_csv(run, threshold=-1.0)  # every row flagged
    assert len(pd.read_csv(io.BytesIO(data))) == run.dataset.n_samples
    assert not _formula_cells(data)


def test_run_bundle_coordinates_csv_is_neutralised(hostile_loaded):
    from ae_core.runs.export import run_bundle

    store, run = hostile_loaded
    with zipfile.ZipFile(io.BytesIO(run_bundle(store, run.id))) as z:
        data = z.read("coordinates.csv")
    assert "'=1+1" in data.decode()
    assert not _formula_cells(data)


@pytest.mark.slow
def test_cli_embed_output_is_neutralised(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame = pd.read_csv(io.BytesIO(hostile_csv()))
    frame = frame.rename(columns={SCRIPT: "=kind"})
    frame.to_csv(src, index=False)
    proc = subprocess.run([sys.executable, "-m", "ae_core", "embed", str(src), "--out", str(out), "--label-column", "=kind",
                           "--epochs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert "'=1+1" in data.decode()
    assert not _formula_cells(data)


def test_page_downloads_use_the_neutralising_writers():
    """Every CSV download button in the pages gets its bytes from one of the neutralising writers."""
    writers = ("safe_csv", "coordinates_csv", "flagged_csv", "run_bundle", "_csv(")
    for path in (ROOT / "app_pages").glob("*.py"):
        text = path.read_text()
        if "text/csv" in text:
            assert any(w in text for w in writers), _rel(path)
        assert ".to_csv(" not in text, f"{_rel(path)} writes CSV without neutralising it"


# ---- upload size -------------------------------------------------------------------------------------

def test_upload_size_is_capped_in_the_server_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 400  # a million rows x 50 columns as CSV (README, "Upload")
    assert config["server"]["maxMessageSize"] >= 200
    assert config["server"]["address"] == "127.0.0.1"


def test_upload_page_states_the_cap(store):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app_pages" / "upload.py"), default_timeout=60).run()
    assert "up to 400 MB" in at.get("file_uploader")[0].proto.label


def test_uploads_are_stored_under_their_hash_not_their_name(tmp_path):
    path = upload.save_upload(tmp_path, f"../../{SCRIPT}.csv", b"a,b\n1,2\n")
    assert path.parent == tmp_path / "uploads" and len(path.stem) == 64 and set(path.stem) <= set("0123456789abcdef")
    assert json.loads(path.with_suffix(".json").read_text())["name"] == upload.display_name(f"{SCRIPT}.csv")
