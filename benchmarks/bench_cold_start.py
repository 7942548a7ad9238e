"""Cold start (issue 5.2).

- `streamlit run app.py` → first page rendered in the browser (the home page's
  title visible). Chromium is launched beforehand (not counted); the clock
  starts when the server process is spawned. Baseline, interleaved: a one-line
  Streamlit app (`st.title`) started and rendered the same way: the floor that
  Streamlit itself costs on this machine.
- Heavy imports: for every page, a fresh subprocess runs `app.py`'s and the
  page's module-level imports and lists which heavy modules (torch, umap,
  openTSNE, numba, sklearn, scipy) ended up in sys.modules, with the import
  time. Pages that do not need torch/umap/openTSNE must not import them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import tempfile
import time
from pathlib import Path

from common import (
    PY,
    ROOT,
    chromium,
    finish,
    median,
    new_page,
    parse_args,
    row,
    start_streamlit,
    stop_group,
    wait_health,
)

TARGET = 3.0
HEAVY = ("torch", "umap", "openTSNE", "numba", "pynndescent", "sklearn", "scipy", "pandas", "plotly")
FORBIDDEN_HOME = ("torch", "umap", "openTSNE")
HELLO = 'import streamlit as st\nst.title("Autoencoder Explorer")\n'


def time_to_render(browser, app: Path, tmp: Path, tag: str) -> dict:
    runs = tmp / f"runs-{tag}"
    t0 = time.perf_counter()
    proc, url = start_streamlit(app, runs, tmp / f"server-{tag}.log", cwd=ROOT)
    try:
        t_health = wait_health(proc, url) - t0
        ctx, page = new_page(browser)
        try:
            page.goto(url)
            page.get_by_role("heading", name="Autoencoder Explorer").wait_for(state="visible")
            t_render = time.perf_counter() - t0
            # A second visit on the warm server (new tab): what every later user sees.
            ctx2, page2 = new_page(browser)
            t1 = time.perf_counter()
            page2.goto(url)
            page2.get_by_role("heading", name="Autoencoder Explorer").wait_for(state="visible")
            t_warm = time.perf_counter() - t1
            ctx2.close()
        finally:
            ctx.close()
        return {"render": t_render, "health": t_health, "warm_visit": t_warm}
    finally:
        stop_group(proc)


def top_level_imports(path: Path) -> list[str]:
    """Module-level import statements of a file, as source lines (imports inside functions/ifs are lazy: skipped)."""
    tree = ast.parse(path.read_text())
    return [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def imports_of(page: Path) -> dict:
    lines = top_level_imports(ROOT / "app.py") + top_level_imports(page)
    code = (
        "import sys, time, json\n"
        "t0 = time.perf_counter()\n"
        + "\n".join(lines)
        + f"\nprint(json.dumps({{'seconds': time.perf_counter() - t0, "
        f"'heavy': [m for m in {list(HEAVY)!r} if m in sys.modules], 'n_modules': len(sys.modules)}}))\n"
    )
    out = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}",
                "imports": lines}
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "imports": lines}


def main():
    args = parse_args(__doc__)
    started = time.perf_counter()
    repeats = 1 if args.quick else 3
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="aebench-") as tmp:
        tmp = Path(tmp)
        hello = tmp / "hello_app.py"
        hello.write_text(HELLO)
        ours, base = [], []
        with chromium() as browser:
            time_to_render(browser, hello, tmp, "warmup")  # disk cache for streamlit's own imports
            for i in range(repeats):
                ours.append(time_to_render(browser, ROOT / "app.py", tmp, f"app{i}"))
                base.append(time_to_render(browser, hello, tmp, f"hello{i}"))
        hello_imports = imports_of(hello)
    t, b = median([o["render"] for o in ours]), median([o["render"] for o in base])
    rows.append(row("streamlit run app.py → home page rendered", t, baseline=b, baseline_name="one-line st.title app",
                    target=f"≤ {TARGET:g} s", passed=t <= TARGET,
                    note=f"server healthy after {median([o['health'] for o in ours]):.2f} s "
                         f"(baseline {median([o['health'] for o in base]):.2f} s)"))
    tw, bw = median([o["warm_visit"] for o in ours]), median([o["warm_visit"] for o in base])
    rows.append(row("second visit, warm server → home page rendered", tw, baseline=bw, baseline_name="one-line app",
                    note="not a target; shows what is server start vs. page work"))

    pages = sorted((ROOT / "app_pages").glob("*.py"))
    per_page = {}
    for page in pages:
        info = imports_of(page)
        per_page[page.stem] = info
        if "error" in info:
            rows.append(row(f"imports of app_pages/{page.name}", None, "", note=f"import failed: {info['error']}"))
            continue
        heavy = info["heavy"]
        forbidden = [m for m in FORBIDDEN_HOME if m in heavy]
        is_home = page.stem == "home"
        rows.append(row(f"imports of app.py + app_pages/{page.name}", info["seconds"],
                        target="no torch/umap/openTSNE" if is_home else "",
                        passed=(not forbidden) if is_home else None,
                        note="heavy modules loaded: " + (", ".join(heavy) or "none")))
    notes.append(f"baseline import of streamlit alone: {hello_imports.get('seconds', float('nan')):.2f} s, "
                 f"heavy: {', '.join(hello_imports.get('heavy', [])) or 'none'}")
    notes.append("Only the home page has a 'must not import' target: the other pages' imports are listed so a "
                 "reader can see which ones pay for torch at first view.")
    return finish(args, "cold_start", "2. Cold start", rows, notes,
                  extra={"app": ours, "hello": base, "imports": per_page}, started=started)


if __name__ == "__main__":
    main()
