"""Shared helpers of the benchmark scripts: timing, results, servers, runs.

Every comparison is a ratio against a baseline measured in the same process
run, interleaved (A, B, A, B, ...) and summarised by medians, so a busy
machine slows both sides alike. Each script prints a table and writes its
result dict as JSON (``--json PATH``); ``run_all.py`` collects them into
BENCHMARKS.md.

Result dict::

    {"area": str, "title": str, "quick": bool, "seconds": float,
     "rows": [{"name", "measured", "unit", "baseline", "baseline_name", "ratio", "target", "pass", "note"}],
     "notes": [str], "extra": {...}}
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CHROMIUM = os.environ.get("AE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- timing ---------------------------------------------------------------------


def median(xs) -> float:
    xs = [x for x in xs if x is not None]
    return float(statistics.median(xs)) if xs else float("nan")


def timeit(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1) -> dict[str, list[float]]:
    """Time each callable `repeats` times, in turn (A, B, A, B, ...), after `warmup` untimed rounds.

    Returns {name: [seconds, ...]}; take `median` of each.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timeit(fn))
    return times


def machine_info() -> dict:
    """CPU model, cores, load, torch threads, versions, date."""
    from importlib import metadata

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("torch", "numpy", "scikit-learn", "streamlit", "plotly", "umap-learn", "openTSNE", "numba", "playwright"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    # torch's default thread count without importing torch in this process (cold-start scripts stay clean).
    try:
        threads = subprocess.run([PY, "-c", "import torch; print(torch.get_num_threads())"], capture_output=True,
                                 text=True, timeout=120).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        threads = "?"
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "torch_threads": threads, "load_avg": load,
            "python": platform.python_version(), "platform": platform.platform(), "versions": versions,
            "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}


# ---- results ----------------------------------------------------------------------


def row(name: str, measured, unit: str = "s", *, baseline=None, baseline_name: str = "", ratio=None,
        target: str = "", passed: bool | None = None, note: str = "") -> dict:
    """One line of a result table. `ratio` defaults to measured / baseline when both are numbers."""
    if ratio is None and isinstance(measured, (int, float)) and isinstance(baseline, (int, float)) and baseline:
        ratio = measured / baseline
    return {"name": name, "measured": measured, "unit": unit, "baseline": baseline, "baseline_name": baseline_name,
            "ratio": ratio, "target": target, "pass": passed, "note": note}


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes (~1 min): check that it works")
    p.add_argument("--json", help="write the result dict to this file")
    if extra:
        extra(p)
    return p.parse_args()


def fmt(v, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "nan"
        a = abs(v)
        s = f"{v:.3g}" if a < 100 else f"{v:,.0f}"
        return f"{s} {unit}".strip()
    if isinstance(v, int):
        return f"{v:,} {unit}".strip()
    return f"{v} {unit}".strip()


def print_table(result: dict) -> None:
    print(f"\n== {result['title']} ({'quick' if result['quick'] else 'full'}, {result['seconds']:.0f} s) ==")
    for r in result["rows"]:
        verdict = {True: "PASS", False: "MISS", None: "    "}[r["pass"]]
        base = f" | base {fmt(r['baseline'], r['unit'])} ({r['baseline_name']})" if r["baseline"] is not None else ""
        ratio = f" | ratio {r['ratio']:.2f}x" if isinstance(r["ratio"], (int, float)) else ""
        tgt = f" | target {r['target']}" if r["target"] else ""
        print(f"[{verdict}] {r['name']}: {fmt(r['measured'], r['unit'])}{base}{ratio}{tgt}")
        if r["note"]:
            print(f"         {r['note']}")
    for n in result.get("notes", []):
        print(f"  note: {n}")


def finish(args, area: str, title: str, rows: list[dict], notes: list[str] | None = None, extra: dict | None = None,
           started: float | None = None) -> dict:
    """Print the table, write --json, return the result dict."""
    result = {"area": area, "title": title, "quick": bool(args.quick),
              "seconds": time.perf_counter() - (started or _T0), "rows": rows, "notes": notes or [], "extra": extra or {}}
    print_table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=_json_default))
    return result


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    return str(o)


_T0 = time.perf_counter()


# ---- processes and servers ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group of `proc` (started with start_new_session=True), then SIGKILL what is left."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    if pgid != proc.pid:  # never signal a group we did not create
        proc.kill()
        proc.wait(timeout)
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(pgid, signal.SIGKILL)  # training workers that outlived the server
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def bench_env(runs_dir: str | Path, **more) -> dict:
    return {**os.environ, "AE_RUNS_DIR": str(runs_dir), "AE_OFFLINE": "1", "AE_MAX_JOBS": "1",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "PYTHONPATH": str(ROOT), **more}


def start_streamlit(app: str | Path, runs_dir: str | Path, log_path: str | Path, port: int | None = None,
                    cwd: str | Path = ROOT, env_extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run APP` on 127.0.0.1, in its own process group. Returns (process, url); does not wait."""
    port = port or free_port()
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [PY, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--global.developmentMode", "false"],
        cwd=cwd, env=bench_env(runs_dir, **(env_extra or {})), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    proc.log_path = Path(log_path)
    return proc, f"http://127.0.0.1:{port}"


def wait_log(proc: subprocess.Popen, text: str, timeout: float = 180.0) -> float:
    """Until the server's log (start_streamlit) holds `text`; returns the seconds waited."""
    t0 = time.perf_counter()
    while text not in proc.log_path.read_text(errors="replace"):
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"no {text!r} in the server log after {timeout:g} s")
        time.sleep(0.2)
    return time.perf_counter() - t0


def wait_health(proc: subprocess.Popen, url: str, timeout: float = 90.0, interval: float = 0.02) -> float:
    """Poll /_stcore/health until 200; returns the perf_counter time it answered."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(interval)
    raise TimeoutError(f"no health answer from {url} in {timeout} s")


@contextmanager
def streamlit_server(app: str | Path = "app.py", runs_dir: str | Path | None = None, env_extra: dict | None = None):
    """A started, healthy server; yields (proc, url, runs_dir); stops its process group on exit."""
    tmp = tempfile.mkdtemp(prefix="aebench-")
    runs_dir = runs_dir or Path(tmp) / "runs"
    proc, url = start_streamlit(app, runs_dir, Path(tmp) / "server.log", env_extra=env_extra)
    try:
        wait_health(proc, url)
        yield proc, url, Path(runs_dir)
    finally:
        stop_group(proc)


@contextmanager
def chromium():
    """A headless Chromium browser (Playwright), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser, timeout_ms: int = 60_000):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
    return ctx, page


def wait_scatter_drawn(page, timeout_ms: int = 120_000) -> None:
    """Until our WebGL scatter (ui/scatter.js) has drawn, or a Plotly chart has drawn its WebGL points
    (or SVG points for a small chart)."""
    page.wait_for_function(
        """() => {
            if (document.querySelector("[class*='st-key-lat_points_'] .aes-root[data-drawn]")) return true;
            const p = document.querySelector('.js-plotly-plot');
            if (!p || !p._fullLayout) return false;
            return !!(p.querySelector('canvas.gl-canvas-context') || p.querySelector('.scatterlayer .point')
                      || p.querySelector('.gl-container canvas'));
        }""",
        timeout=timeout_ms,
        polling=50,
    )


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":")
            out[k] = int(v.split()[0]) * 1024
    return out


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += proc_status(p).get("VmRSS", 0)
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return total


# ---- runs ---------------------------------------------------------------------------


def make_synthetic_run(store, dataset: str = "fashion-mnist", options: dict | None = None, latent_dim: int = 2,
                       variant: str = "vanilla", seed: int = 0) -> str:
    """A 'done' run with every artifact the pages read, without training: untrained weights and
    codes placed as class blobs (so a scatter looks like one). Returns the run id."""
    import numpy as np

    from ae_core.analysis.metrics import encode, reconstruct, reconstruction_errors
    from ae_core.data.preprocessing import Scaler, split_indices
    from ae_core.data.registry import load_dataset
    from ae_core.model.networks import Autoencoder
    from ae_core.runs.execute import model_config_from_dict, save_weights
    from ae_core.runs.spec import make_config

    ds = load_dataset(dataset, **dict(options or {}))
    config = make_config(dataset, variant, options, model={"latent_dim": latent_dim}, ds=ds)
    rec = store.create(config)
    mcfg = model_config_from_dict(config["model"])
    split = split_indices(ds.n_samples, ds.y, seed=seed)
    scaler = Scaler.fit(ds.X[split.train], ds.scaling, ds.value_range)
    X = scaler.transform(ds.X)
    model = Autoencoder(mcfg, seed=seed)
    rng = np.random.default_rng(seed)
    y = ds.y if ds.y is not None else np.zeros(ds.n_samples, np.int64)
    centres = rng.normal(0, 4, size=(int(y.max()) + 1, latent_dim))
    Z = (centres[y] + rng.normal(0, 1, size=(ds.n_samples, latent_dim))).astype(np.float32)
    store.write_json(rec.id, "scaler.json", scaler.to_dict())
    save_weights(model, store.path(rec.id, "weights.safetensors"))
    store.write_json(rec.id, "history.json", [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "val_mse": 0.1, "lr": 1e-3,
                                                "seconds": 1.0}])
    code = np.zeros(ds.n_samples, np.int8)
    code[split.val], code[split.test] = 1, 2
    store.write_array(rec.id, "split.npy", code)
    store.write_array(rec.id, "latent.npy", Z)
    store.write_array(rec.id, "recon_error.npy", reconstruction_errors(X, reconstruct(model, X)).astype(np.float32))
    evo_idx = np.sort(rng.choice(ds.n_samples, min(2000, ds.n_samples), replace=False))
    evo = np.stack([encode(model, X[evo_idx]), Z[evo_idx]]).astype(np.float32)
    store.write_array(rec.id, "evolution.npy", evo)
    store.write_array(rec.id, "evolution_index.npy", evo_idx.astype(np.int64))
    metrics = {"test_mse": 0.02, "pca_mse": 0.03, "ae_pca_ratio": 0.67, "latent_dim": latent_dim,
               "n_train": int(len(split.train)), "n_test": int(len(split.test)), "epochs_run": 1, "best_epoch": 1,
               "stop_reason": "synthetic run (benchmark)", "train_seconds": 1.0, "n_params": 1, "best_val_loss": 1.0}
    store.write_json(rec.id, "metrics.json", metrics)
    now = time.time()
    store.update(rec.id, status="done", metrics=metrics, started=now, finished=now,
                 progress={"epoch": 1, "epochs": 1, "fraction": 1.0, "history": []})
    return rec.id
