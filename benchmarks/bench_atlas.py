"""The thumbnail atlas's encoding: grey sheets in 16 levels (a 4-bit PNG, what runs write now) against 256 (an
8-bit PNG, what they wrote before), on Fashion-MNIST.

    python benchmarks/bench_atlas.py [--quick] [--port P] [--json out.json]

In process: the PNG's bytes and its encoding and decoding time, for a sheet of every image and a stand-in
reconstruction (the images through a 2-D PCA code: about as blurry as a 2-D autoencoder's, and they compress
as badly as a trained model's: 16.9 MB at 8 bits, the size a trained run's atlas had). In headless Chromium:
two runs trained alike, one whose atlas is rewritten at 8 bits, their Latent pages opened in alternating fresh
tabs (open -> points drawn, open -> pictures ready) and the same points hovered on each. The baseline of every
row is the 8-bit atlas, measured in the same run.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_images import HOVER_JS, SCATTER
from common import (
    chromium,
    finish,
    interleaved,
    median,
    new_page,
    parse_args,
    row,
    start_streamlit,
    stop_group,
    wait_health,
)


def stand_in_reconstructions(X):
    """X through a 2-D PCA code (fitted on 10,000 rows): blurry, as a 2-D autoencoder's reconstructions."""
    import numpy as np

    mean = X.mean(0)
    rng = np.random.default_rng(0)
    sub = X[rng.choice(len(X), min(10_000, len(X)), replace=False)] - mean
    v = np.linalg.svd(sub, full_matrices=False)[2][:2]
    return np.clip((X - mean) @ v.T @ v + mean, 0, 1).astype(np.float32)


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--port", type=int, help="the server's port (default: a free one)"))
    started = time.perf_counter()
    import numpy as np
    from PIL import Image

    from ae_core.analysis.atlas import atlas_png, build_atlas, write_atlas
    from ae_core.data.registry import load_dataset
    from ae_core.runs.execute import execute_run
    from ae_core.runs.loaded import load_run
    from ae_core.runs.spec import make_config
    from ae_core.runs.store import RunStore

    rows, notes, extra = [], [], {}
    n = 10_000 if args.quick else None
    ds = load_dataset("fashion-mnist", n_samples=n)
    X = (ds.X / 255.0).astype(np.float32)
    sheet, layout = build_atlas(X.reshape(-1, 28, 28), stand_in_reconstructions(X).reshape(-1, 28, 28))
    pngs = {bits: atlas_png(sheet, bits) for bits in (4, 8)}

    def decode(bits):
        return lambda: Image.open(io.BytesIO(pngs[bits])).load()

    enc = interleaved({4: lambda: atlas_png(sheet, 4), 8: lambda: atlas_png(sheet, 8)}, repeats=3, warmup=0)
    dec = interleaved({4: decode(4), 8: decode(8)}, repeats=3, warmup=1)
    back = np.asarray(Image.open(io.BytesIO(pngs[4])), dtype=np.int16)
    err = back - sheet
    psnr = 10 * np.log10(255**2 / np.mean(err.astype(np.float64) ** 2))
    size = f"{len(X):,} images + reconstructions, {layout.tile}-px tiles, {sheet.shape[1]} x {sheet.shape[0]} px"
    rows.append(row(f"atlas PNG, 16 grey levels (4-bit)<br><sub>{size}; largest error {int(np.abs(err).max())}/255, "
                    f"PSNR {psnr:.1f} dB</sub>", len(pngs[4]) / 1e6, "MB", baseline=len(pngs[8]) / 1e6,
                    baseline_name="8-bit PNG of the same sheet"))
    rows.append(row("atlas PNG: encode (Pillow, compress_level 3)", median(enc[4]), baseline=median(enc[8]),
                    baseline_name="8-bit"))
    rows.append(row("atlas PNG: decode (Pillow)", median(dec[4]), baseline=median(dec[8]), baseline_name="8-bit"))
    extra["bytes"] = {str(k): len(v) for k, v in pngs.items()}

    # ---- the Latent page with each atlas, in the browser
    with tempfile.TemporaryDirectory(prefix="aebench-") as tmp:
        store = RunStore(Path(tmp) / "runs")
        options = {"n_samples": n} if n else {}
        ids = {}
        for bits in (4, 8):
            rid = store.create(make_config("fashion-mnist", "vanilla", options, train={"epochs": 1, "seed": 0})).id
            assert execute_run(store, rid) == "done", store.get(rid).error
            if bits == 8:  # the worker wrote the 4-bit atlas; this run gets the 8-bit one the worker wrote before
                run = load_run(store, rid)
                write_atlas(store, rid, run.X, run.dataset.image_shape, run.model, grey_bits=8)
            ids[bits] = rid
        atlas_mb = {bits: store.path(rid, "atlas.png").stat().st_size / 1e6 for bits, rid in ids.items()}
        proc, url = start_streamlit("app.py", store.root, Path(tmp) / "server.log", port=args.port)
        try:
            wait_health(proc, url)
            with chromium() as browser:
                drawn, ready, hovers = {4: [], 8: []}, {4: [], 8: []}, {4: [], 8: []}
                ctx, page = new_page(browser, 180_000)
                for bits in (4, 8):  # warm: each run's atlas read once by the server
                    page.goto(f"{url}/latent?run={ids[bits]}")
                    page.locator(f"{SCATTER}[data-atlas='ready']").wait_for()
                ctx.close()
                for _ in range(2 if args.quick else 4):
                    for bits in (4, 8):
                        ctx, page = new_page(browser, 180_000)
                        page.goto(url + "/")
                        page.get_by_test_id("stSidebarNav").wait_for()
                        t0 = time.perf_counter()
                        page.goto(f"{url}/latent?run={ids[bits]}")
                        page.locator(f"{SCATTER}[data-drawn]").wait_for()
                        drawn[bits].append(time.perf_counter() - t0)
                        page.locator(f"{SCATTER}[data-atlas='ready']").wait_for()
                        ready[bits].append(time.perf_counter() - t0)
                        points = int(page.locator(SCATTER).get_attribute("data-points"))
                        for i in np.random.default_rng(0).choice(points, 10, replace=False):
                            hovers[bits].append(page.evaluate(HOVER_JS, [int(i), True]))
                        ctx.close()
        finally:
            stop_group(proc)
    pairs = f"{len(drawn[4])} pairs of fresh tabs, alternating, medians"
    rows.append(row(f"Latent page, {points:,} images: open -> pictures ready, 4-bit atlas ({atlas_mb[4]:.1f} MB)",
                    median(ready[4]), baseline=median(ready[8]), baseline_name=f"8-bit atlas ({atlas_mb[8]:.1f} MB)",
                    note=f"a trained run's atlas; {pairs}"))
    rows.append(row(f"Latent page, {points:,} images: open -> points drawn, 4-bit atlas", median(drawn[4]),
                    baseline=median(drawn[8]), baseline_name="8-bit atlas", note=pairs))
    rows.append(row(f"hover -> picture and reconstruction shown ({points:,} points), 4-bit atlas", median(hovers[4]), "ms",
                    baseline=median(hovers[8]), baseline_name="8-bit atlas",
                    note="median of 10 points per tab; one frame (16.7 ms) is the resolution"))
    extra.update(drawn=drawn, ready=ready, hover_ms=hovers, atlas_mb=atlas_mb)
    return finish(args, "atlas", "The thumbnail atlas: 16 grey levels against 256", rows, notes, extra, started)


if __name__ == "__main__":
    main()
