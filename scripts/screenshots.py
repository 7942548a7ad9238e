"""Screenshots of every page, as a user sees them, for the README and for review.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Trains a few small runs into a temporary run store (digits vanilla and
variational, outliers), starts `streamlit run app.py` on 127.0.0.1, opens each
page in headless Chromium and saves a PNG per page. The server is stopped by
PID (its process group) at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ae_core.runs.execute import execute_run  # noqa: E402
from ae_core.runs.spec import make_config  # noqa: E402
from ae_core.runs.store import RunStore  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, serve_app  # noqa: E402

PAGES = [("home", ""), ("train", "train"), ("latent", "latent"), ("reconstructions", "reconstructions"),
         ("denoising", "denoising"), ("anomalies", "anomalies"), ("upload", "upload"), ("compare", "compare")]


def train(store: RunStore, dataset: str, variant: str, **model) -> str:
    rec = store.create(make_config(dataset, variant, model=model))
    assert execute_run(store, rec.id) == "done", store.get(rec.id).error
    return rec.id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "test-artifacts" / "pages"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ae-shots-") as tmp:
        store = RunStore(Path(tmp) / "runs")
        train(store, "digits", "variational")
        train(store, "outliers", "vanilla")
        digits = train(store, "digits", "vanilla")
        with serve_app(store.root, Path(tmp)) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, path in PAGES:
                query = f"?run={digits}" if name not in ("home", "upload", "compare") else ""
                page.goto(f"{url}/{path}{query}")
                page.get_by_test_id("stSidebarNav").wait_for()
                page.wait_for_timeout(6000)  # charts and images draw a moment after the page
                height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
                page.set_viewport_size({"width": 1400, "height": max(1000, min(int(height), 4000))})
                page.wait_for_timeout(800)
                page.screenshot(path=str(out / f"{name}.png"))
                page.set_viewport_size({"width": 1400, "height": 1000})
                errors = page.get_by_test_id("stException").count()
                print(f"{name}: {out / (name + '.png')}" + (f"  ({errors} exception(s) shown!)" if errors else ""))
            browser.close()


if __name__ == "__main__":
    main()
