"""Run the benchmark suite and rewrite BENCHMARKS.md.

    python benchmarks/run_all.py [--quick] [--only NAME ...]

Each script runs in its own subprocess (a clean interpreter: cold imports,
numba compile and peak memory are measured fresh). Results are kept in
benchmarks/results.json, so `--only quality` refreshes one section and keeps
the others. NAME is a script's short name: first_insight, cold_start,
throughput, quality, projection, browser, memory, images, gpu (says "no GPU"
and measures nothing without CUDA), ray (nothing without Ray installed),
model_quality (issue 22: the models against PCA and IsolationForest; ~25 min),
big_table (embed of 1,000,000 x 50 as CSV and Parquet against pandas reading it; ~10 min).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import ROOT, fmt, machine_info  # noqa: E402

NAMES = ["first_insight", "cold_start", "throughput", "quality", "projection", "browser", "memory", "images", "gpu", "ray",
         "model_quality", "big_table"]
RESULTS = HERE / "results.json"
MD = ROOT / "BENCHMARKS.md"


def run_one(name: str, quick: bool, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="aebench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(out)] + (["--quick"] if quick else [])
        t0 = time.perf_counter()
        print(f"--- {name} ({'quick' if quick else 'full'})", flush=True)
        try:
            proc = subprocess.run(cmd, cwd=ROOT, timeout=timeout, text=True, stdout=sys.stdout, stderr=subprocess.PIPE)
            err, rc = proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            err, rc = f"timed out after {timeout:.0f} s\n{(exc.stderr or b'')[-2000:]!r}", -1
        if rc == 0 and out.exists():
            return json.loads(out.read_text())
        sys.stderr.write(err[-4000:] if err else "")
        return {"area": name, "title": name, "quick": quick, "seconds": time.perf_counter() - t0, "rows": [],
                "notes": [f"FAILED (exit {rc}): {(err or '').strip().splitlines()[-1] if (err or '').strip() else ''}"],
                "error": (err or "")[-2000:]}


def cell(v, unit=""):
    return fmt(v, unit).replace("|", "\\|")


def render(results: dict, machine: dict) -> str:
    v = machine["versions"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python benchmarks/run_all.py` (do not edit by hand). Each area is one script in "
        "`benchmarks/`; every comparison is a ratio against a baseline measured in the same run, interleaved "
        "(A, B, A, B, ...) and summarised by medians. `--quick` runs use small sizes to check that the scripts "
        "work: their numbers are not the verdict.",
        "",
        "## Machine",
        "",
        f"- Date: {machine['date']}",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores, {machine['memory']}; load average at the start "
        f"{machine['load_avg']}",
        f"- torch threads (default): {machine['torch_threads']}; Python {machine['python']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
        "",
        "## Summary",
        "",
        "| Area | Mode | Targets met | Time |",
        "|---|---|---|---|",
    ]
    for name in NAMES:
        r = results.get(name)
        if not r:
            continue
        verdicts = [x["pass"] for x in r["rows"] if x["pass"] is not None]
        met = f"{sum(verdicts)} of {len(verdicts)}" if verdicts else ("failed to run" if r.get("error") else "—")
        lines.append(f"| {r['title']} | {'quick' if r['quick'] else 'full'} | {met} | {r['seconds']:.0f} s |")
    for name in NAMES:
        r = results.get(name)
        if not r:
            continue
        lines += ["", f"## {r['title']}", "",
                  f"`python benchmarks/bench_{name}.py{' --quick' if r['quick'] else ''}` — "
                  f"{'quick' if r['quick'] else 'full'} run, {r['seconds']:.0f} s, {r.get('date', '')}".rstrip(", "), ""]
        if r["rows"]:
            lines += ["| Measure | Measured | Baseline | Ratio | Target | Verdict |", "|---|---|---|---|---|---|"]
            for x in r["rows"]:
                base = f"{cell(x['baseline'], x['unit'])} ({x['baseline_name']})" if x["baseline"] is not None else "—"
                ratio = f"{x['ratio']:.2f}x" if isinstance(x["ratio"], (int, float)) else "—"
                verdict = {True: "pass", False: "**miss**", None: "—"}[x["pass"]]
                name_cell = x["name"] + (f"<br><sub>{x['note']}</sub>" if x["note"] else "")
                lines.append(f"| {name_cell} | {cell(x['measured'], x['unit'])} | {base} | {ratio} | "
                             f"{x['target'] or '—'} | {verdict} |")
        for n in r.get("notes", []):
            lines.append(f"- {n}")
        if name == "quality" and (HERE / "quality_curves.svg").exists():
            lines += ["", "![Test MSE against training time](benchmarks/quality_curves.svg)"]
    lines += ["", "## Findings and recommendations", "",
              "See `benchmarks/FINDINGS.md` (kept by hand: causes of the misses, profiles, recommended fixes)."
              if (HERE / "FINDINGS.md").exists() else "None recorded yet.", ""]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per script")
    args = p.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    machine = machine_info()
    for name in args.only or NAMES:
        r = run_one(name, args.quick, args.timeout)
        r["date"] = time.strftime("%Y-%m-%d %H:%M")
        results[name] = r
        RESULTS.write_text(json.dumps(results, indent=1, default=str))
    results["_machine"] = machine
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    MD.write_text(render(results, machine))
    print(f"wrote {MD}")


if __name__ == "__main__":
    main()
