"""Browser (issue 5.6).

- The latent scatter of a 70,000-point run (a synthetic Fashion-MNIST run
  written with the engine's own writers: every artifact the latent page
  reads, untrained weights, codes as class blobs): bytes received by the
  browser over Streamlit's websocket and time from navigation to the WebGL
  scatter drawn, first view (nothing cached; once per server, so a median
  over fresh servers) and second view (new tab).
  Baselines in the same run, interleaved: the same page for a digits run
  (1,797 points); for bytes, the raw coordinates (70,000 x 2 float32).
  A new tab (a fresh browser context) loads Streamlit's front end and the
  page's widgets and starts a session before anything is drawn, so the switch
  from another page inside an open tab is measured too: that is how a person
  moves around the app. Floors for a new tab, in the same run: a Streamlit app
  that is one 2-point Plotly chart (what the page used to cost at least), an
  app that is our scatter component alone with 70,000 points, and the app's
  Home page (navigation → heading).
- Server-side rerun time of each page of app.py while a run trains
  (Streamlit AppTest, in this process), interleaved with the same reruns while
  that training is paused (SIGSTOP), so the ratio is the cost of sharing the
  machine with training.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from common import (
    PY,
    ROOT,
    bench_env,
    chromium,
    finish,
    make_synthetic_run,
    median,
    new_page,
    parse_args,
    row,
    streamlit_server,
    wait_log,
    wait_scatter_drawn,
)

DRAW_TARGET, RERUN_TARGET = 2.0, 0.300
FRAME_MS = 1000 / 30  # "interaction stays smooth": a pan or zoom frame within 30 fps
# The floor of "a new tab draws a Plotly chart": a Streamlit app that is nothing but one tiny
# WebGL scatter. Its new-tab time is Streamlit's front end plus Plotly's bundle, no app work.
ONE_CHART_APP = """
import plotly.graph_objects as go
import streamlit as st

st.plotly_chart(go.Figure(go.Scattergl(x=[0, 1], y=[0, 1], mode="markers")))
"""
# The floor of our own scatter component (ui/scatter.js): an app that is that component alone, 70,000 points.
ONE_COMPONENT_APP = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np
from ui.scatter import scatter
scatter(np.random.default_rng(0).normal(size=(70_000, 2)), np.arange(70_000) % 10 == 0, key="lat_points_floor")
"""


def home_view(browser, url: str) -> float:
    """A new tab on the app's Home page: navigation → its heading drawn (the app shell's floor)."""
    ctx, page = new_page(browser, timeout_ms=180_000)
    try:
        t0 = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name="Autoencoder Explorer").wait_for()
        return time.perf_counter() - t0
    finally:
        ctx.close()


def view(browser, url: str) -> dict:
    ctx, page = new_page(browser, timeout_ms=180_000)
    got = {"ws": 0, "http": 0}

    def on_ws(ws):
        ws.on("framereceived", lambda payload: got.__setitem__("ws", got["ws"] + len(payload)))

    def on_response(resp):
        try:
            got["http"] += int(resp.headers.get("content-length", 0) or 0)
        except ValueError:
            pass

    page.on("websocket", on_ws)
    page.on("response", on_response)
    try:
        t0 = time.perf_counter()
        page.goto(url)
        wait_scatter_drawn(page, timeout_ms=180_000)
        dt = time.perf_counter() - t0
        page.wait_for_timeout(500)  # messages still arriving for the rest of the page
        return {"seconds": dt, "ws_bytes": got["ws"], "http_bytes": got["http"]}
    finally:
        ctx.close()


INTERACTION_JS = """(repeats) => {
    // Timed in the page, on the 70,000-point chart: a full frame (all points; a one-pixel readPixels waits for
    // the GPU to finish), a frame during a pan or wheel zoom (a subset when full frames are slow, as the chart
    // chooses from the full frames it has timed), a hover lookup, and the point-in-lasso test over every point.
    const v = document.querySelector("[class*='st-key-lat_points_'] .aes-root").aesView, gl = v.gl;
    const px = new Uint8Array(4), out = {draw: [], gesture: [], hover: [], lasso: []};
    const ring = []; for (let k = 0; k < 40; k++) { const a = 2 * Math.PI * k / 40;
        ring.push([v.plotW / 2 + 0.3 * v.plotW * Math.cos(a), v.plotH / 2 + 0.3 * v.plotH * Math.sin(a)]); }
    for (let r = 0; r < repeats; r++) {
        let t = performance.now(); v.drawNow(); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
        out.draw.push(performance.now() - t);
        out.quickCount = v.quickCount();
        t = performance.now(); v.drawNow(out.quickCount); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px);
        out.gesture.push(performance.now() - t);
        t = performance.now(); v.nearest(v.plotW * (0.3 + 0.4 * r / repeats), v.plotH / 2); out.hover.push(performance.now() - t);
        t = performance.now(); const m = v.inside(ring); out.lasso.push(performance.now() - t);
        out.selected = m.reduce((a, b) => a + b, 0);
    }
    out.n = v.n;
    return out;
}"""


def interaction(browser, url: str, run_id: str, repeats: int) -> dict:
    """Milliseconds per redraw, hover lookup and lasso test on the run's latent chart, in the browser."""
    ctx, page = new_page(browser, timeout_ms=180_000)
    try:
        page.goto(f"{url}/latent?run={run_id}")
        wait_scatter_drawn(page, timeout_ms=180_000)
        page.wait_for_timeout(500)
        return page.evaluate(INTERACTION_JS, repeats)
    finally:
        ctx.close()


def first_views(browser, url: str, small: str, big: str, res: dict) -> None:
    """A fresh server's first views, as a stakeholder's link finds them: the digits run's latent page,
    then the 70,000-point run's (nothing of it loaded or cached yet). Appended to res["small_first"],
    res["big_first"]."""
    res["small_first"].append(view(browser, f"{url}/latent?run={small}"))
    res["big_first"].append(view(browser, f"{url}/latent?run={big}"))


def in_session_switches(browser, url: str, run_id: str, repeats: int) -> list[float]:
    """One tab, as a person browses: open the run's latent page, then go Home and back to the
    latent page through the sidebar, `repeats` times. Seconds from the click to the scatter drawn
    (Streamlit's and Plotly's JavaScript already loaded in the tab, the run loaded in the server)."""
    ctx, page = new_page(browser, timeout_ms=180_000)
    times = []
    try:
        page.goto(f"{url}/latent?run={run_id}")
        wait_scatter_drawn(page, timeout_ms=180_000)
        nav = page.get_by_test_id("stSidebarNav")
        for _ in range(repeats):
            nav.get_by_role("link", name="Home").click()
            page.get_by_role("heading", name="Autoencoder Explorer").wait_for()
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot, .aes-root').length === 0", timeout=60_000)
            page.wait_for_timeout(300)
            t0 = time.perf_counter()
            nav.get_by_role("link", name="Latent space").click()
            wait_scatter_drawn(page, timeout_ms=180_000)
            times.append(time.perf_counter() - t0)
        return times
    finally:
        ctx.close()


def app_pages() -> list[str]:
    return re.findall(r'st\.Page\("([^"]+)"', (ROOT / "app.py").read_text())


def rerun_times(runs_dir: Path, run_id: str, pages: list[str], train_proc, repeats: int) -> dict:
    """{page: {"training": [s...], "paused": [s...], "first": s}} from AppTest reruns."""
    os.environ["AE_RUNS_DIR"] = str(runs_dir)
    from streamlit.testing.v1 import AppTest

    out = {}
    for page in pages:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.query_params["run"] = run_id
        at.run()
        t0 = time.perf_counter()
        at.switch_page(page).run()
        first = time.perf_counter() - t0
        res = {"first": first, "training": [], "paused": [], "exception": [str(e.value)[:200] for e in at.exception]}
        for _ in range(repeats):
            for state in ("paused", "training"):
                os.killpg(train_proc.pid, signal.SIGSTOP if state == "paused" else signal.SIGCONT)
                time.sleep(0.2)
                t0 = time.perf_counter()
                at.run()
                res[state].append(time.perf_counter() - t0)
        os.killpg(train_proc.pid, signal.SIGCONT)
        out[page] = res
    return out


def main():
    args = parse_args(__doc__)
    started = time.perf_counter()
    from ae_core.analysis.projection_process import WARM_UP_DONE
    from ae_core.runs.store import RunStore

    rows, notes, extra = [], [], {}
    tmp = Path(tempfile.mkdtemp(prefix="aebench-"))
    runs = tmp / "runs"
    store = RunStore(runs)
    t0 = time.perf_counter()
    big = make_synthetic_run(store, "fashion-mnist")
    small = make_synthetic_run(store, "digits")
    notes.append(f"synthetic runs written in {time.perf_counter() - t0:.1f} s")

    # ---- the 70,000-point scatter in a real browser
    repeats = 1 if args.quick else 3
    res = {"big_first": [], "small_first": [], "big": [], "small": []}
    with streamlit_server(runs_dir=runs) as (proc, url, _r), chromium() as browser:
        first_views(browser, url, small, big, res)
        # The server's UMAP helper process (ae_core.analysis.projection_process) compiles UMAP during the first 35-90 s, on one of the
        # two cores: one view inside it, then the steady state after it.
        res["big_warming"] = view(browser, f"{url}/latent?run={big}")
        res["warm_up_wait"] = wait_log(proc, WARM_UP_DONE)
        for _ in range(repeats):
            res["small"].append(view(browser, f"{url}/latent?run={small}"))
            res["big"].append(view(browser, f"{url}/latent?run={big}"))
        res["home"] = [home_view(browser, url) for _ in range(repeats)]
        res["switch_small"] = in_session_switches(browser, url, small, 3 if args.quick else 5)
        res["switch_big"] = in_session_switches(browser, url, big, 3 if args.quick else 5)
        res["interaction"] = interaction(browser, url, big, 10 if args.quick else 30)
    with chromium() as browser:
        for _ in range(repeats - 1):  # a first view happens once per server: more servers for a median
            with streamlit_server(runs_dir=runs) as (_p, url, _r):
                first_views(browser, url, small, big, res)
    for name, app in (("one_chart", ONE_CHART_APP), ("one_component", ONE_COMPONENT_APP)):
        (tmp / f"{name}.py").write_text(app)
        with streamlit_server(app=tmp / f"{name}.py", runs_dir=runs) as (_p, url, _r), chromium() as browser:
            view(browser, url)  # the server's first script run
            res[name] = [view(browser, url) for _ in range(repeats)]
    extra["scatter"] = res
    b_s, s_s = median([v["seconds"] for v in res["big"]]), median([v["seconds"] for v in res["small"]])
    b_b, s_b = median([v["ws_bytes"] for v in res["big"]]), median([v["ws_bytes"] for v in res["small"]])
    raw = 70_000 * 2 * 4
    sw_b, sw_s = median(res["switch_big"]), median(res["switch_small"])
    rows.append(row("latent scatter, 70,000 points, in the same tab: sidebar click → drawn", sw_b, baseline=sw_s,
                    baseline_name="same, digits run (1,797 points)", target=f"≤ {DRAW_TARGET:g} s",
                    passed=sw_b <= DRAW_TARGET,
                    note="Home → Latent space by the sidebar, the app already open in the tab (how a person browses); "
                         f"each: {', '.join(f'{x:.2f}' for x in res['switch_big'])} s"))
    floor = median([v["seconds"] for v in res["one_chart"]])
    own = median([v["seconds"] for v in res["one_component"]])
    home = median(res["home"])
    rows.append(row("latent scatter, 70,000 points, repeat view in a new tab: navigation → drawn", b_s, baseline=s_s,
                    baseline_name="same page, digits run (1,797 points)", target=f"≤ {DRAW_TARGET:g} s",
                    passed=b_s <= DRAW_TARGET,
                    note=f"new-tab floors in this run: our scatter component alone (70,000 points) {own:.2f} s; "
                         f"the app's Home page heading {home:.2f} s; a one-chart Plotly app {floor:.2f} s"))
    bf = median([v["seconds"] for v in res["big_first"]])
    each_first = ", ".join(f"{v['seconds']:.2f}" for v in res["big_first"])
    rows.append(row("latent scatter, 70,000 points, first view (nothing cached): navigation → drawn",
                    bf, baseline=median([v["seconds"] for v in res["small_first"]]), baseline_name="digits run, first view",
                    target=f"≤ {DRAW_TARGET:g} s", passed=bf <= DRAW_TARGET,
                    note=f"median of {len(res['big_first'])} fresh servers "
                         f"({each_first} s), each after its digits "
                         "run's first view: loading the run and its labels (the pixels are not read)"))
    rows.append(row("latent scatter, 70,000 points, repeat view in a new tab during the server's UMAP warm-up",
                    res["big_warming"]["seconds"], baseline=b_s, baseline_name="after the warm-up",
                    note=f"the first 35-90 s after start-up (the UMAP helper process compiles UMAP); the suite then waited "
                         f"{res['warm_up_wait']:.1f} s more for it to finish before the other views"))
    inter = res["interaction"]
    draw_ms, gesture_ms = median(inter["draw"]), median(inter["gesture"])
    rows.append(row(f"latent chart, {inter['n']:,} points: one frame of a pan / wheel zoom", gesture_ms, "ms",
                    baseline=FRAME_MS, baseline_name="one frame at 30 fps", target=f"≤ {FRAME_MS:.0f} ms",
                    passed=gesture_ms <= FRAME_MS,
                    note=f"headless Chromium, software WebGL (SwiftShader, no GPU): gesture frames draw "
                         f"{inter['quickCount']:,} of {inter['n']:,} points (a random subset), all of them "
                         f"{draw_ms:.0f} ms per full frame, drawn once the gesture rests 0.15 s; hover lookup "
                         f"{median(inter['hover']):.2f} ms, lasso test over every point {median(inter['lasso']):.1f} ms "
                         f"({inter['selected']:,} inside)"))
    rows.append(row("latent page, 70,000 points: websocket bytes to the browser", b_b / 1e6, "MB", baseline=raw / 1e6,
                    baseline_name="raw coordinates, 70,000 x 2 float32",
                    note=f"digits run: {s_b / 1e6:.2f} MB; HTTP (static assets, first tab) "
                         f"{res['big_first'][0]['http_bytes'] / 1e6:.2f} MB"))

    # ---- server-side reruns while a run trains
    log = open(tmp / "train.log", "wb")
    train = subprocess.Popen([PY, "-m", "ae_core", "train", "--dataset", "fashion-mnist", "--epochs", "200",
                              "--runs-dir", str(runs)], cwd=ROOT, env=bench_env(runs), stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not any(r.status == "running" and r.progress.get("epoch", 0) >= 1
                                                 or r.progress.get("batch") for r in store.list(status="running")):
            time.sleep(0.5)
        pages = app_pages()
        reruns = rerun_times(runs, small, pages, train, repeats=3 if args.quick else 7)
        reruns["app_pages/latent.py (70,000-point run)"] = rerun_times(runs, big, ["app_pages/latent.py"], train,
                                                                   2 if args.quick else 5)["app_pages/latent.py"]
    finally:
        from common import stop_group

        stop_group(train)
        log.close()
    extra["reruns"] = reruns
    shutil.rmtree(tmp, ignore_errors=True)
    for page, r in reruns.items():
        tr, pa = median(r["training"]), median(r["paused"])
        rows.append(row(f"rerun of {page} while a run trains", tr, baseline=pa, baseline_name="training paused (SIGSTOP)",
                        target=f"≤ {RERUN_TARGET * 1000:g} ms", passed=None if r["exception"] else tr <= RERUN_TARGET,
                        note=f"first run of the page {r['first']:.2f} s" + (f"; exception: {r['exception']}" if r["exception"] else "")))
    broken = [p for p, r in reruns.items() if r["exception"]]
    if broken:
        notes.append(f"No verdict for pages that raised (being edited elsewhere?): {', '.join(broken)}.")
    notes.append("AppTest reruns select the digits run (?run=); the training run is a CLI Fashion-MNIST run in the same store.")
    return finish(args, "browser", "6. Browser", rows, notes, extra=extra, started=started)


if __name__ == "__main__":
    main()
