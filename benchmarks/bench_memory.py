"""Memory (issue 5.7).

- Peak RSS of training on Fashion-MNIST (70,000 x 784) with the CLI, 1 epoch
  (quick) or 2 epochs: measured in a fresh wrapper process that runs the
  command and reads resource.getrusage(RUSAGE_CHILDREN).ru_maxrss. Baseline,
  same way: a process that only loads the dataset (the data's own floor).
- The server holding five loaded runs: a `streamlit run app.py` server whose
  latent page has shown five finished Fashion-MNIST runs (synthetic runs with
  every artifact; 70,000 rows each, 10,000 in quick mode); VmRSS/VmHWM from
  /proc. Baseline: the same server after rendering the home page only.
"""

from __future__ import annotations

import json
import shutil
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
    new_page,
    parse_args,
    proc_status,
    row,
    streamlit_server,
    tree_rss,
    wait_scatter_drawn,
)

TRAIN_TARGET, SERVER_TARGET = 2e9, 1.5e9
GB = 1e9

WRAP = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
                  "err": p.stderr[-500:]}))
"""


def peak(cmd: list[str], runs: Path) -> dict:
    out = subprocess.run([PY, "-c", WRAP, *cmd], cwd=ROOT, env=bench_env(runs), capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    args = parse_args(__doc__)
    started = time.perf_counter()
    rows, notes, extra = [], [], {}
    epochs = 1 if args.quick else 2
    with tempfile.TemporaryDirectory(prefix="aebench-") as tmp:
        runs = Path(tmp) / "runs"
        base = peak([PY, "-c", "from ae_core.data.registry import load_dataset; load_dataset('fashion-mnist')"], runs)
        train = peak([PY, "-m", "ae_core", "train", "--dataset", "fashion-mnist", "--epochs", str(epochs),
                      "--runs-dir", str(runs)], runs)
    extra["train"], extra["dataset_only"] = train, base
    rows.append(row(f"peak RSS, CLI training Fashion-MNIST 70,000 x 784, {epochs} epoch(s)", train["maxrss"] / GB, "GB",
                    baseline=base["maxrss"] / GB, baseline_name="process loading the dataset only",
                    target=f"≤ {TRAIN_TARGET / GB:g} GB", passed=train["rc"] == 0 and train["maxrss"] <= TRAIN_TARGET,
                    note="" if train["rc"] == 0 else f"exit {train['rc']}: {train['err']}"))

    # ---- server with five loaded runs
    n = 10_000 if args.quick else 70_000
    tmp = Path(tempfile.mkdtemp(prefix="aebench-"))
    from ae_core.runs.store import RunStore

    store = RunStore(tmp / "runs")
    ids = [make_synthetic_run(store, "fashion-mnist", {"n_samples": n} if args.quick else None, seed=i) for i in range(5)]
    with streamlit_server(runs_dir=store.root) as (proc, url, _r), chromium() as browser:
        ctx, page = new_page(browser, timeout_ms=300_000)
        page.goto(url)
        page.get_by_role("heading", name="Autoencoder Explorer").wait_for()
        page.wait_for_timeout(1000)
        home = proc_status(proc.pid)
        after = []
        for rid in ids:
            page.goto(f"{url}/latent?run={rid}")
            wait_scatter_drawn(page, timeout_ms=300_000)
            # The model (and torch) loads after the scatter, for the decoded plane: wait for that too.
            page.wait_for_selector("[class*='st-key-lat_pick_'] .aes-root[data-drawn]", timeout=300_000)
            page.wait_for_timeout(500)
            after.append(proc_status(proc.pid))
        tree = tree_rss(proc.pid)  # with its helpers: the UMAP process and the standby training worker
        ctx.close()
    shutil.rmtree(tmp, ignore_errors=True)
    extra["server"] = {"home": home, "after_each_run": after, "n_rows": n, "with_helpers": tree}
    rss, hwm = after[-1]["VmRSS"], max(a["VmHWM"] for a in after)
    rows.append(row(f"server RSS holding five loaded runs ({n:,} rows each)", rss / GB, "GB", baseline=home["VmRSS"] / GB,
                    baseline_name="same server, home page only", target=f"≤ {SERVER_TARGET / GB:g} GB",
                    passed=rss <= SERVER_TARGET,
                    note=f"peak (VmHWM) {hwm / GB:.2f} GB; RSS after each run: "
                         + ", ".join(f"{a['VmRSS'] / GB:.2f}" for a in after)
                         + f"; with its helper processes (UMAP, standby training worker) {tree / GB:.2f} GB"))
    if args.quick:
        notes.append("quick mode: 10,000-row runs, so the server figure understates the full-size case (70,000 rows).")
    return finish(args, "memory", "7. Memory", rows, notes, extra=extra, started=started)


if __name__ == "__main__":
    main()
