"""The layer rules of the code base, checked over the source (every import, at any depth of a file).

ae_core is the engine: it never imports Streamlit or the app's `ui`. Inside it, `model/`, `data/` and
`figures/` sit at the bottom and import nothing of the layers above them; `analysis/` computes from arrays and
never draws, stores or schedules (no `figures`, no `runs`). Pages and the ui glue never import torch at module
level: opening a page must not pay for it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "ae_core"
BASE = ("ae_core.errors", "ae_core.processes")  # importable from every layer


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every module a file imports (`from a.b import c` yields a.b and a.b.c)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("<relative>")
    return found


def engine_files(layer: str | None = None) -> list[Path]:
    folder = ENGINE / layer if layer else ENGINE
    return sorted(folder.rglob("*.py"))


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT))


def _allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in BASE + prefixes)


@pytest.mark.parametrize("path", engine_files(), ids=_id)
def test_engine_never_imports_streamlit_or_ui(path):
    bad = {m for m in imports(path) if m.split(".")[0] in ("streamlit", "ui", "app_pages")}
    assert not bad, f"{_id(path)} imports {sorted(bad)}: ae_core must run without the app"


@pytest.mark.parametrize("path", engine_files(), ids=_id)
def test_engine_imports_are_absolute(path):
    assert "<relative>" not in imports(path), f"{_id(path)}: write `from ae_core.x import y`"


@pytest.mark.parametrize(
    "layer, may_import",
    [
        ("model", ("ae_core.model",)),
        ("data", ("ae_core.data",)),
        ("figures", ("ae_core.figures",)),
    ],
)
def test_bottom_layers_import_only_themselves(layer, may_import):
    for path in engine_files(layer):
        bad = {m for m in imports(path) if m.startswith("ae_core") and not _allowed(m, may_import)}
        assert not bad, f"{_id(path)} imports {sorted(bad)}: {layer}/ must not depend on higher layers"


@pytest.mark.parametrize("layer", ["analysis", "figures", "model", "data"])
def test_only_runs_and_the_front_ends_know_the_job_manager(layer):
    for path in engine_files(layer):
        bad = {m for m in imports(path) if m.startswith("ae_core.runs.jobs")}
        assert not bad, f"{_id(path)} imports the job manager"


def test_analysis_knows_no_run_store_or_job_manager():
    """analysis/ computes from a run's arrays; the run store reaches it as an object passed in (duck-typed)."""
    for path in engine_files("analysis"):
        bad = {m for m in imports(path) if m.startswith("ae_core.runs")}
        assert not bad, f"{_id(path)} imports {sorted(bad)}: analysis must not depend on runs/"


def test_analysis_computes_and_never_draws():
    for path in engine_files("analysis"):
        bad = {m for m in imports(path) if m.startswith("ae_core.figures") or m.split(".")[0] == "plotly"}
        assert not bad, f"{_id(path)} imports {sorted(bad)}: figures belong in ae_core/figures"


@pytest.mark.parametrize("path", sorted((ROOT / "app_pages").glob("*.py")) + sorted((ROOT / "ui").glob("*.py"))
                         + [ROOT / "app.py"], ids=_id)
def test_pages_do_not_import_torch_at_module_level(path):
    assert not {m for m in imports(path, top_level_only=True) if m.split(".")[0] == "torch"}


def test_the_rules_see_a_violation(tmp_path):
    """The checker itself: a lazy import inside a function is found."""
    f = tmp_path / "m.py"
    f.write_text("def f():\n    import streamlit as st\n    from ae_core.runs.jobs import JobManager\n")
    assert {"streamlit", "ae_core.runs.jobs", "ae_core.runs.jobs.JobManager"} <= imports(f)
    assert "streamlit" not in imports(f, top_level_only=True)
