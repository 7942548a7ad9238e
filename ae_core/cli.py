"""`python -m ae_core datasets|train|runs|embed`.

Exit codes: 0 success; 2 the input is unusable (one `error:` line on stderr
that says why and what to do, nothing written); 1 an internal failure (a bug).
Progress bars go to stderr, results to stdout; `--json` prints one JSON object
on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ae_core.errors import InputError
from ae_core.logs import setup_logging

BIG_SAMPLE = 50_000  # `embed` trains a sample this big with fewer, larger steps


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's usage errors are input errors too: exit 2, one line
        raise InputError(f"{message} (see `{self.prog} --help`)")


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden sizes are comma-separated integers like 256,128; got {text!r}") from None
    return sizes


def _image_options(p) -> None:
    p.add_argument("--side", type=int, help="images: square side in pixels, 8-128 (default: from the images, at most 64)")
    p.add_argument("--colour", default="auto", choices=["auto", "grayscale", "rgb"],
                   help="images: colour mode (auto: RGB when any image has colour)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m ae_core", description="Autoencoder Explorer engine: train, list and embed.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("datasets", help="list the built-in datasets")
    d.add_argument("--json", action="store_true")

    t = sub.add_parser("train", help="train a run in the foreground (it appears in the app too)")
    t.add_argument("--dataset", default="digits", help="built-in name (see `datasets`) or 'csv' with --csv")
    t.add_argument("--csv", help="path of a CSV to train on (implies --dataset csv)")
    t.add_argument("--label-column", help="CSV column used for colour/labels, never as a feature")
    t.add_argument("--images", metavar="PATH", help="a folder or .zip of images to train on (sub-folders name the classes)")
    _image_options(t)
    t.add_argument("--variant", default="vanilla", help="vanilla | sparse | denoising | variational | convolutional")
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--hidden", type=_hidden, help="dense widths, e.g. 256,128")
    t.add_argument("--front", type=int, metavar="K",
                   help="the dense networks work in the data's top K principal coordinates instead of every "
                        "feature, 0 for none (default: 256 from 2,048 features, else none)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--noise", choices=["gaussian", "salt-and-pepper", "masking"])
    t.add_argument("--noise-level", type=float)
    t.add_argument("--sparsity", type=float)
    t.add_argument("--beta", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--mirror", choices=["auto", "on", "off"], default="auto",
                   help="images: also train on a random half of each batch mirrored left to right (auto: for the "
                        "convolutional model below 20,000 images, and the dense one behind a front, when the "
                        "images are mirror-symmetric)")
    t.add_argument("--shift", choices=["auto", "on", "off"], default="auto",
                   help="images: also train on a random fifth of each batch moved by one pixel (auto: for the "
                        "convolutional model, and the dense one behind a front, on images of 16 pixels a side or more)")
    t.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="train for this long with a cosine schedule over the budget (overrides epochs)")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="where to train: auto takes a CUDA GPU, then Apple's MPS, then the CPU")
    t.add_argument("--executor", choices=["local", "ray"], default=os.environ.get("AE_EXECUTOR") or "local",
                   help="local: this process (default, or $AE_EXECUTOR); ray: a Ray task on the cluster at "
                        "$AE_RAY_ADDRESS (a local Ray instance when unset)")
    t.add_argument("--runs-dir", help="run store folder (default: $AE_RUNS_DIR or data/runs)")
    t.add_argument("--json", action="store_true", help="print the run's metrics as JSON on the last line")

    r = sub.add_parser("runs", help="list runs in the store")
    r.add_argument("--runs-dir")
    r.add_argument("--json", action="store_true")
    r.add_argument("--delete", metavar="RUN_ID", nargs="+",
                   help="delete these runs, their files and uploaded CSVs no other run uses "
                        "(a queued or running run is refused: cancel it first)")

    e = sub.add_parser("embed", help="a table (CSV or Parquet) or images in, low-dimensional coordinates out")
    e.add_argument("input", nargs="?", help="input table: CSV or Parquet, any number of rows")
    e.add_argument("--images", metavar="PATH", help="a folder or .zip of images instead of a CSV")
    _image_options(e)
    e.add_argument("--out", required=True, help="output CSV (written only on success)")
    e.add_argument("--method", default="latent", choices=["latent", "pca", "umap", "tsne"],
                   help="latent: the code itself; pca/umap/tsne: the code projected to 2-D")
    e.add_argument("--label-column")
    e.add_argument("--latent-dim", type=int, default=2)
    e.add_argument("--epochs", type=int, help="training epochs (default: 60, 30 from 20,000 rows)")
    e.add_argument("--batch-size", type=int, help=f"training batch (default: 1,024 from {BIG_SAMPLE:,} rows, else by size)")
    e.add_argument("--sample-rows", type=int, default=100_000,
                   help="train on at most this many rows, drawn at random; every row is encoded (default 100,000)")
    e.add_argument("--seed", type=int, default=0)
    return p


# ---- commands ---------------------------------------------------------------------


def cmd_datasets(args) -> int:
    from ae_core.data.registry import REGISTRY

    rows = [{"name": d.name, "kind": d.kind, "title": d.title, "summary": d.summary} for d in REGISTRY.values()]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['name']:<15} {row['kind']:<8} {row['summary']}")
    return 0


def _tqdm(train: dict):
    """A tqdm bar on stderr over a run's epochs, or over the seconds of its time budget (`train`: its config's
    training settings); disable=None: a bar on a terminal, silence in logs and pipes."""
    from tqdm import tqdm

    budget = train.get("max_seconds")
    total, unit = (float(budget), "s") if budget else (train["epochs"], "epochs")
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, disable=None, mininterval=0.5,
                bar_format="{l_bar}{bar}| {n:.1f}/{total:g} " + unit + " [{elapsed}<{remaining}]{postfix}")


class _Bar:
    """A tqdm bar over all batches of all epochs (or over the time budget), on stderr."""

    def __init__(self, train: dict):
        self.budget, self.bar = train.get("max_seconds"), _tqdm(train)

    def on_train_begin(self, trainer): ...

    def should_stop(self, trainer):
        return False

    def _at(self, trainer, epochs_done: float) -> None:
        self.bar.n = min(time.perf_counter() - trainer.state.start, self.budget) if self.budget else epochs_done

    def on_batch_end(self, trainer, epoch, batch, n_batches, loss):
        self._at(trainer, (epoch - 1) + batch / n_batches)
        self.bar.refresh()

    def on_epoch_end(self, trainer, epoch, logs):
        self._at(trainer, epoch)
        self.bar.set_postfix(**({"epoch": epoch} if self.budget else {}), train=f"{logs['train_loss']:.4g}",
                             val=f"{logs['val_loss']:.4g}")

    def close(self):
        self.bar.close()


class _ProjectionProgress:
    """`project(progress=...)` on stderr: stage messages as lines, known fractions as a bar."""

    def __init__(self):
        self.bar = None

    def __call__(self, message: str, fraction: float | None = None) -> None:
        if fraction is None:
            print(message, file=sys.stderr)
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=100, file=sys.stderr, dynamic_ncols=True, disable=None, mininterval=0.5,
                            bar_format="{l_bar}{bar}| [{elapsed}<{remaining}]")
        self.bar.set_description_str(message.split(":")[0])
        self.bar.n = round(100 * fraction)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_train(args) -> int:
    from ae_core.model.device import resolve_device
    from ae_core.runs.store import RunStore

    config = _train_config(args)
    if args.executor == "local":
        resolve_device(args.device)  # here, before a run is created: no GPU where one was asked for is exit 2
    store = RunStore(args.runs_dir)
    setup_logging(store.root, stderr=False)  # the terminal shows the progress bar; the log file the rest
    if args.executor == "ray":
        rec = _train_on_ray(store, config)  # the device is checked on the worker: the cluster may have the GPU
    else:
        rec = _train_here(store, config)
    if rec.status != "done":
        raise InputError(rec.error.splitlines()[0] if rec.error else f"run ended {rec.status}")
    _print_result(rec, as_json=args.json)
    return 0


def _train_config(args) -> dict:
    """The run config the train command's flags describe (validated: a bad value is an InputError)."""
    from ae_core.runs.spec import make_config

    dataset, options = args.dataset, {}
    if args.images:
        if args.csv:
            raise InputError("give --csv or --images, not both.")
        if not Path(args.images).exists():
            raise InputError(f"no such file or folder: {args.images}")
        dataset, options = "images", {"path": str(Path(args.images).resolve()), "side": args.side, "colour": args.colour}
    if args.csv:
        if not Path(args.csv).is_file():
            raise InputError(f"no such file: {args.csv}")
        dataset, options = "csv", {"path": str(Path(args.csv).resolve()), "label_column": args.label_column}
    model = {"latent_dim": args.latent_dim, "hidden": args.hidden, "front_dim": args.front, "noise": args.noise,
             "noise_level": args.noise_level,
             "sparsity": args.sparsity, "beta": args.beta}
    train = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "mirror": {"auto": None, "on": True, "off": False}[args.mirror],
             "shift": {"auto": None, "on": True, "off": False}[args.shift]}
    if args.time_budget is not None:
        from ae_core.model.config import budget_settings

        if args.time_budget <= 0:
            raise InputError(f"--time-budget must be a positive number of seconds, got {args.time_budget:g}.")
        train = {**budget_settings(args.time_budget), **{k: v for k, v in train.items() if v is not None}}
    return make_config(dataset, args.variant, options, model=model, train=train, device=args.device)


def _train_here(store, config: dict):
    """Train `config` in this process with a progress bar; returns the finished run's record."""
    from ae_core.runs.execute import execute_run

    rec = store.create(config)
    store.update(rec.id, status="running", pid=os.getpid(), started=time.time())
    bar = _Bar(config["train"])
    try:
        execute_run(store, rec.id, callbacks=[bar])
    except KeyboardInterrupt:
        store.update(rec.id, status="cancelled", finished=time.time(), error="interrupted from the keyboard")
        raise
    finally:
        bar.close()
    return store.get(rec.id)


def _print_result(rec, as_json: bool) -> None:
    from ae_core.analysis.metrics import describe_ratio

    m = rec.metrics
    print(f"run {rec.id}: {rec.dataset} · {rec.variant} · {m['latent_dim']}-D code, "
          f"{m['epochs_run']} epochs in {m['train_seconds']:.1f} s on {m['device']} ({m['stop_reason']})")
    print(f"test reconstruction MSE {m['test_mse']:.4f}; PCA at the same code size {m['pca_mse']:.4f}")
    print(describe_ratio(m["ae_pca_ratio"], rec.variant))
    if "knn_accuracy" in m:
        print(f"kNN accuracy on the code {m['knn_accuracy']:.3f} (PCA {m['pca_knn_accuracy']:.3f}); "
              f"trustworthiness {m['trustworthiness']:.3f} (PCA {m['pca_trustworthiness']:.3f})")
    if "anomaly_auc" in m:
        print(f"anomaly ROC-AUC {m['anomaly_auc']:.3f} (PCA {m['pca_anomaly_auc']:.3f})")
    if as_json:
        print(json.dumps({"run_id": rec.id, "dataset": rec.dataset, "variant": rec.variant, **m}))


def _train_on_ray(store, config: dict):
    """Train `config` as a Ray task through a job manager of our own; a bar follows the progress it sends home."""
    from ae_core.runs.jobs import JobManager, executor_from_env

    manager = JobManager(store, executor=executor_from_env(store, kind="ray"), poll_seconds=0.2)
    bar = _tqdm(config["train"])
    rec = manager.submit(config)
    try:
        while (rec := store.get(rec.id)).active:
            bar.n = float(rec.progress.get("fraction") or 0.0) * bar.total
            if rec.progress.get("where"):
                bar.set_postfix_str(rec.progress["where"], refresh=False)
            bar.refresh()
            time.sleep(0.3)
        return rec
    except KeyboardInterrupt:
        manager.cancel(rec.id)
        manager.wait(rec.id, timeout=30)
        raise
    finally:
        bar.close()
        manager.shutdown()


def cmd_runs(args) -> int:
    from ae_core.runs.store import RunStore

    store = RunStore(args.runs_dir)
    if args.delete:
        from ae_core.runs.housekeeping import delete_runs

        done = delete_runs(store, args.delete)  # InputError (nothing deleted) for an unknown or active run
        if args.json:
            print(json.dumps({"deleted": list(done.run_ids), "files": list(done.files), "bytes_freed": done.bytes_freed}))
        else:
            print(done.summary())
        return 0
    runs = store.list()
    if args.json:
        print(json.dumps([{"id": r.id, "dataset": r.dataset, "variant": r.variant, "status": r.status,
                           "created": r.created, "metrics": r.metrics, "error": r.error} for r in runs]))
        return 0
    if not runs:
        print("no runs yet: train one with `python -m ae_core train` or in the app")
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        err = r.metrics.get("test_mse")
        extra = f"mse {err:.4f}  AE/PCA {r.metrics.get('ae_pca_ratio', float('nan')):.2f}" if err is not None else r.error.split("\n")[0][:60]
        print(f"{r.id}  {when}  {r.status:<11} {r.dataset:<14} {r.variant:<13} {extra}")
    return 0


def cmd_embed(args) -> int:
    import numpy as np
    import pandas as pd

    from ae_core.analysis.latent import safe_csv
    from ae_core.analysis.projection import project
    from ae_core.data.large_table import open_large_table
    from ae_core.estimator import Autoencoder
    from ae_core.runs.store import atomic_write_bytes

    if args.images:
        return _embed_images(args)
    if not args.input:
        raise InputError("give an input CSV or Parquet file, or --images PATH for a folder or zip of images.")
    src = Path(args.input)
    if not src.is_file():
        raise InputError(f"no such file: {args.input}")
    if args.sample_rows < 10:
        raise InputError(f"--sample-rows must be at least 10, got {args.sample_rows}.")
    # A big table is read twice in chunks (a sample to train on, then every row to encode): memory stays
    # bounded by the sample and one chunk, not the file.
    table = open_large_table(src, label_column=args.label_column, sample_rows=args.sample_rows,
                             random_state=args.seed)
    for line in table.sample.report.summary_lines():
        print(line, file=sys.stderr)
    from sklearn.impute import SimpleImputer

    # Medians of the training rows fill the gaps of every row (nothing is held out in `embed`).
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(table.sample.X)
    # A big sample trains in big batches: on 100,000 rows of 50 columns, 20 epochs at batch 1,024 gave the code
    # the same 5-NN accuracy (0.947) as 30 at 512 with a third of the steps (benchmarks/FINDINGS.md).
    big = len(table.sample.X) >= BIG_SAMPLE
    ae = Autoencoder(latent_dim=args.latent_dim, epochs=args.epochs or (20 if big else None),
                     batch_size=args.batch_size or (1024 if big else None), random_state=args.seed)
    started = time.perf_counter()
    ae.fit(imputer.transform(table.sample.X))
    trained, started = time.perf_counter() - started, time.perf_counter()
    codes, rows, labels = [], [], []
    for chunk in table.chunks():
        codes.append(ae.transform(imputer.transform(chunk.X)).astype(np.float32))
        rows.append(chunk.row_index)
        labels.append(chunk.labels)
    Z = np.vstack(codes)
    print(f"trained in {trained:.1f} s; encoded {len(Z):,} rows in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    if args.method == "latent":
        coords = Z
    else:
        progress = _ProjectionProgress()
        try:
            coords = project(Z, args.method, n_components=2, seed=args.seed, progress=progress)
        finally:
            progress.close()
    out = pd.DataFrame({"row": np.concatenate(rows)})
    if table.sample.labels is not None:
        out[table.sample.report.label_column] = np.concatenate(labels)
    for j in range(coords.shape[1]):
        out[f"{args.method}_{j + 1}"] = coords[:, j]
    # Labels (and the label column's name) come from the user's file: defuse spreadsheet formulas.
    atomic_write_bytes(Path(args.out), safe_csv(out))
    print(f"wrote {len(out):,} rows x {coords.shape[1]} coordinates ({args.method}) to {args.out}", file=sys.stderr)
    return 0


def _embed_images(args) -> int:
    """`embed --images PATH`: one output row per image read, with its file name and class folder."""
    import numpy as np
    import pandas as pd

    from ae_core.analysis.latent import safe_csv
    from ae_core.analysis.projection import project
    from ae_core.data.image_folder import read_images
    from ae_core.estimator import Autoencoder
    from ae_core.runs.store import atomic_write_bytes

    if args.input:
        raise InputError("give an input CSV or --images, not both.")
    ims = read_images(args.images, side=args.side, colour=args.colour)
    for line in ims.report.summary_lines():
        print(line, file=sys.stderr)
    X = ims.X.astype(np.float32) / 255.0
    # Images go in as images, (n, h, w) or (n, h, w, 3): the estimator then keeps the pixels' fixed [0, 1] range.
    ae = Autoencoder(latent_dim=args.latent_dim, epochs=args.epochs, random_state=args.seed)
    Z = ae.fit_transform(X)
    coords = Z if args.method == "latent" else project(Z.astype(np.float32), args.method, n_components=2, seed=args.seed)
    out = pd.DataFrame({"row": np.arange(len(X)), "file": list(ims.names)})
    if ims.labels is not None:
        out["class"] = np.asarray(ims.class_names, dtype=object)[ims.labels]
    for j in range(coords.shape[1]):
        out[f"{args.method}_{j + 1}"] = coords[:, j]
    atomic_write_bytes(Path(args.out), safe_csv(out))  # file and folder names are the user's: formulas defused
    print(f"wrote {len(out):,} rows x {coords.shape[1]} coordinates ({args.method}) to {args.out}", file=sys.stderr)
    return 0


COMMANDS = {"datasets": cmd_datasets, "train": cmd_train, "runs": cmd_runs, "embed": cmd_embed}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
