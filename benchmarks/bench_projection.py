"""Projections (issue 5.5).

- PCA of 70,000 x 32 through `ae_core.analysis.projection.project`; baseline,
  interleaved: the minimum work (centre, 32x32 covariance, eigh, one matmul).
- UMAP of 10,000 points: first call in a fresh process (import + numba
  compile + fit, in a subprocess) and warm (a second fit in that process),
  against umap-learn's default layout epochs (time, and the map's 5-NN
  accuracy, as for t-SNE).
- t-SNE of 10,000 points: openTSNE with its defaults vs our settings
  (`project(..., "tsne")`), time and the 5-NN accuracy of the 2-D map
  (5-fold cross-validated kNN on the map's coordinates).
- A second view of the same projection via `cached_projection` (70,000 points).

Points for UMAP / t-SNE: Fashion-MNIST's first N images reduced to 32-d by PCA
(a stand-in for a 32-d code, with real class structure for the kNN check).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time

from common import PY, ROOT, finish, interleaved, median, parse_args, row

PCA_TARGET, CACHE_TARGET, UMAP_TARGET, TSNE_TARGET = 0.5, 0.2, 10.0, 20.0
KNN_POINTS = 0.02  # the map's 5-NN accuracy may be at most 2 points below openTSNE's defaults

UMAP_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from ae_core.analysis.projection import project
Z = np.load(sys.argv[1])
t1 = time.perf_counter()
project(Z, "umap")
t2 = time.perf_counter()
np.save(sys.argv[2], project(Z, "umap", seed=1))
t3 = time.perf_counter()
import umap  # umap-learn with its own defaults (500 layout epochs up to 10,000 points), same seed, warm
np.save(sys.argv[3], umap.UMAP(n_neighbors=15, random_state=1, n_jobs=1).fit_transform(Z))
t4 = time.perf_counter()
print(json.dumps({"first": t2 - t0, "first_fit_only": t2 - t1, "warm": t3 - t2, "default_warm": t4 - t3}))
"""


# What a server does: its UMAP helper process (ae_core.analysis.projection_process, started with the server) compiles
# UMAP in the background; then the first UMAP a person asks for, through the helper. The helper
# shares this child's stderr, where it says when the warm-up is done.
UMAP_WARMED_CHILD = """
import json, os, sys, tempfile, time
import numpy as np
log = tempfile.NamedTemporaryFile(delete=False)
os.dup2(log.fileno(), 2)  # the helper inherits this stderr
from ae_core.analysis.projection import project
from ae_core.analysis.projection_process import WARM_UP_DONE, Projector
t0 = time.perf_counter()
helper = Projector(delay=0.0).start()
while WARM_UP_DONE not in open(log.name).read():
    time.sleep(0.1)
t1 = time.perf_counter()
Z = np.load(sys.argv[1])
project(Z, "umap", umap=helper.fit)
t2 = time.perf_counter()
helper.close()
print(json.dumps({"warm_up": t1 - t0, "first_request": t2 - t1}))
"""


def codes(n: int):
    import numpy as np
    from sklearn.decomposition import PCA

    from ae_core.data.registry import load_dataset

    ds = load_dataset("fashion-mnist", n_samples=n)
    Z = PCA(32, random_state=0).fit_transform(ds.X / 255.0).astype(np.float32)
    return Z, ds.y


def knn5(Y, y) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    return float(cross_val_score(KNeighborsClassifier(5), Y, y, cv=5).mean())


def main():
    args = parse_args(__doc__)
    started = time.perf_counter()
    import numpy as np

    from ae_core.analysis.projection import (
        TSNE_EXAGGERATION_ITER,
        TSNE_ITER,
        UMAP_LARGE_EPOCHS,
        UMAP_SMALL,
        cached_projection,
        project,
    )
    from ae_core.runs.store import RunStore

    rows, notes, extra = [], [], {}
    # ---- PCA 70,000 x 32
    Zbig = np.random.default_rng(0).normal(size=(70_000, 32)).astype(np.float32) @ \
        np.random.default_rng(1).normal(size=(32, 32)).astype(np.float32)

    def floor_pca():
        C = Zbig - Zbig.mean(0)
        _, V = np.linalg.eigh(C.T @ C)
        return C @ V[:, -2:]

    t = interleaved({"ours": lambda: project(Zbig, "pca"), "floor": floor_pca}, repeats=3 if args.quick else 7)
    p, f = median(t["ours"]), median(t["floor"])
    rows.append(row("PCA 70,000 x 32 → 2-D", p, baseline=f, baseline_name="numpy eigh of the covariance",
                    target=f"≤ {PCA_TARGET} s", passed=p <= PCA_TARGET))

    # ---- cached second view (70,000 points)
    with tempfile.TemporaryDirectory(prefix="aebench-") as tmp:
        store = RunStore(tmp)
        rid = store.create({"dataset": {"name": "synthetic"}, "variant": "vanilla"}).id
        t0 = time.perf_counter()
        cached_projection(store, rid, Zbig, "pca")
        first = time.perf_counter() - t0
        path = store.path(rid, "proj_latent_pca_2d.npy")
        t = interleaved({"cached": lambda: cached_projection(store, rid, Zbig, "pca"), "np.load": lambda: np.load(path)},
                        repeats=5 if args.quick else 11)
        c, l = median(t["cached"]), median(t["np.load"])
    rows.append(row("cached_projection, second view (70,000 points)", c, baseline=l, baseline_name="np.load of the file",
                    target=f"≤ {CACHE_TARGET} s", passed=c <= CACHE_TARGET, note=f"first view (computes PCA): {first:.2f} s"))

    # ---- UMAP, fresh process and warm
    n = 2_000 if args.quick else 10_000
    Z, y = codes(n)
    with tempfile.TemporaryDirectory(prefix="aebench-") as tmp:
        zpath = f"{tmp}/z.npy"
        np.save(zpath, Z)
        ours_path, default_path = f"{tmp}/ours.npy", f"{tmp}/default.npy"
        out = subprocess.run([PY, "-c", UMAP_CHILD, zpath, ours_path, default_path], cwd=ROOT, capture_output=True, text=True, timeout=900,
                             env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
        warmed = subprocess.run([PY, "-c", UMAP_WARMED_CHILD, zpath], cwd=ROOT, capture_output=True, text=True,
                                timeout=900, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
        maps = {"ours": np.load(ours_path), "default": np.load(default_path)} if out.returncode == 0 else {}
    if out.returncode == 0 and warmed.returncode == 0:
        u = json.loads(out.stdout.strip().splitlines()[-1])
        w = json.loads(warmed.stdout.strip().splitlines()[-1])
        u.update(w)
        rows.append(row(f"UMAP {n:,} points, the first request after the server's start-up warm-up", w["first_request"],
                        baseline=u["first_fit_only"], baseline_name="first call without the warm-up",
                        target=f"≤ {UMAP_TARGET:g} s", passed=w["first_request"] <= UMAP_TARGET,
                        note=f"the warm-up (the server's UMAP helper process, ae_core.analysis.projection_process, started 5 s after "
                             f"the server's first page) "
                             f"took {w['warm_up']:.1f} s; a request during it waits for the rest"))
        rows.append(row(f"UMAP {n:,} points, first call in a fresh process", u["first"], baseline=u["warm"],
                        baseline_name="warm call, same process",
                        note=f"process start to result; of which the project() call (imports umap, numba compiles, fits) "
                             f"{u['first_fit_only']:.1f} s. No target given."))
        rows.append(row(f"UMAP {n:,} points, warm: ours vs umap-learn's default epochs", u["warm"],
                        baseline=u["default_warm"], baseline_name="umap-learn defaults, warm",
                        note=f"ours: {UMAP_LARGE_EPOCHS} layout epochs from {UMAP_SMALL:,} points (umap-learn's: 500 up to "
                             "10,000 points, 200 above); no target given"))
        ku, kd = knn5(maps["ours"], y), knn5(maps["default"], y)
        rows.append(row(f"UMAP {n:,} points: 5-NN accuracy of the map", ku, "", baseline=kd,
                        baseline_name="umap-learn defaults", target=f"≥ default − {KNN_POINTS * 100:g} points",
                        passed=ku >= kd - KNN_POINTS, note="the same check as t-SNE's below; same seed"))
        u.update(knn_ours=ku, knn_default=kd)
        extra["umap"] = u
    else:
        rows.append(row(f"UMAP {n:,} points", None, note=f"failed: {(out.stderr + warmed.stderr).strip()[-300:]}"))

    # ---- t-SNE: openTSNE defaults vs ours
    from openTSNE import TSNE

    def default_tsne():
        return np.asarray(TSNE(random_state=0, verbose=False).fit(Z))

    res = {}

    def timed(name, fn):
        def run():
            res[name] = fn()
        return run

    t = interleaved({"ours": timed("ours", lambda: project(Z, "tsne")), "default": timed("default", default_tsne)},
                    repeats=1, warmup=0)
    to, td = median(t["ours"]), median(t["default"])
    ko, kd = knn5(res["ours"], y), knn5(res["default"], y)
    kz = knn5(Z, y)
    tsne_target = TSNE_TARGET if n >= 10_000 else None  # the target is stated for 10,000 points
    rows.append(row(f"t-SNE {n:,} points: ours vs openTSNE defaults, time", to, baseline=td,
                    baseline_name="openTSNE TSNE() defaults", target=f"≤ {TSNE_TARGET:g} s" if tsne_target else "",
                    passed=to <= tsne_target if tsne_target else None,
                    note=f"progress shown: iteration k of {TSNE_EXAGGERATION_ITER + TSNE_ITER} (the latent page's bar, "
                         "the CLI's bar)"))
    rows.append(row(f"t-SNE {n:,} points: 5-NN accuracy of the map", ko, "", baseline=kd, baseline_name="openTSNE defaults",
                    target=f"≥ default − {KNN_POINTS * 100:g} points", passed=ko >= kd - KNN_POINTS,
                    note=f"5-NN accuracy in the 32-d input itself: {kz:.3f}"))
    notes.append(f"Our t-SNE settings: {TSNE_EXAGGERATION_ITER} early-exaggeration + {TSNE_ITER} iterations "
                 "(openTSNE's defaults: 250 + 500), n_jobs=1, PCA init, Barnes-Hut below 10,000 points and FFT from "
                 "10,000 (as openTSNE's defaults), exact neighbours (scikit-learn's; openTSNE's default "
                 "from 1,000 points is Annoy).")
    return finish(args, "projection", "5. Projections", rows, notes, extra=extra, started=started)


if __name__ == "__main__":
    main()
