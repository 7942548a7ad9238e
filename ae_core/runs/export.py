"""A finished run as one zip a person can keep, share or reproduce.

`run_bundle(store, run_id)` packs the run's config, weights (safetensors),
scaler, metrics and history, the coordinates of every row as CSV, two
self-contained HTML figures (the code and the loss curves), and a README with
the command line that trains the same run again.

The coordinates CSV goes through `latent.safe_csv`: text cells a spreadsheet
would run as a formula (starting with = + - @, tab, CR) get a leading
apostrophe (OWASP's advice on CSV injection); labels come from users' files.
"""

from __future__ import annotations

import io
import json
import shlex
import time
import zipfile

import numpy as np
import pandas as pd

from ae_core.analysis.latent import safe_csv
from ae_core.data.preprocessing import split_names
from ae_core.errors import InputError
from ae_core.runs.store import WEIGHTS


def coordinates_frame(latent: np.ndarray, split: np.ndarray, labels=None) -> pd.DataFrame:
    """row, split, label, z1..zD: one line per dataset row."""
    latent = np.asarray(latent)
    df = pd.DataFrame({"row": np.arange(len(latent)), "split": split_names(split),
                       "label": np.asarray(labels, dtype=object) if labels is not None else ""})
    for j in range(latent.shape[1]):
        df[f"z{j + 1}"] = latent[:, j]
    return df


def reproduce_command(config: dict) -> str:
    """The `python -m ae_core train ...` command that trains this config again."""
    spec, m, t = config["dataset"], config["model"], config["train"]
    opts = dict(spec.get("options") or {})
    args = ["python", "-m", "ae_core", "train"]
    if spec["name"] == "csv":
        args += ["--csv", str(opts.get("path", "YOUR.csv"))]
        if opts.get("label_column"):
            args += ["--label-column", str(opts["label_column"])]
    elif spec["name"] == "images":
        args += ["--images", str(opts.get("path", "YOUR_IMAGES.zip")), "--colour", str(opts.get("colour") or "auto")]
        if opts.get("side"):
            args += ["--side", str(opts["side"])]
    else:
        args += ["--dataset", spec["name"]]
    args += ["--variant", config["variant"], "--latent-dim", str(m["latent_dim"])]
    if m.get("arch", "dense") == "dense":
        args += ["--hidden", ",".join(str(h) for h in m["hidden"]), "--front", str(m.get("front_dim", 0))]
    # A time-budget run trains as many epochs as fit (its config says 10,000): the budget reproduces it.
    args += ["--time-budget", f"{t['max_seconds']:g}"] if t.get("max_seconds") else ["--epochs", str(t["epochs"])]
    args += ["--batch-size", str(t["batch_size"]), "--lr", repr(float(t["lr"]))]
    if m.get("variational"):
        args += ["--beta", repr(float(m["beta"]))]
    if m.get("sparsity"):
        args += ["--sparsity", repr(float(m["sparsity"]))]
    if m.get("noise_level"):
        args += ["--noise", m["noise"], "--noise-level", repr(float(m["noise_level"]))]
    args += ["--seed", str(t["seed"])]
    return shlex.join(args)


def _readme(rec, command: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.created))
    m = rec.metrics
    lines = [
        f"Autoencoder Explorer run {rec.id}",
        f"{rec.dataset} · {rec.variant} · {rec.latent_dim}-number code · trained {when}",
        "",
        f"Test reconstruction MSE {m.get('test_mse', float('nan')):.5f} (PCA at the same code size "
        f"{m.get('pca_mse', float('nan')):.5f}).",
        "",
        "Train the same run again (from the project's folder):",
        "",
        f"    {command}",
        "",
        "Settings the command line does not expose (early-stopping patience, weight decay, ...) are in",
        "config.json; with their defaults the command reproduces the run.",
        "",
        "Files",
        "  config.json          dataset, variant, model and training settings",
        "  weights.safetensors  the trained weights (load with ae_core.runs.loaded.load_model)",
        "  scaler.json          how raw values were scaled before training",
        "  metrics.json         test-split metrics; history.json: losses per epoch",
        "  coordinates.csv      row, split, label and the code (z1..zD) of every row",
        "  figures/*.html       interactive figures; open in a browser, no internet needed",
    ]
    return "\n".join(lines) + "\n"


def bundle_filename(rec) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{rec.dataset}-{rec.variant}")
    return f"autoencoder-{safe}-{rec.latent_dim}d-{rec.id}.zip"


def run_bundle(store, run_id: str) -> bytes:
    """A zip of everything needed to inspect, reuse and reproduce a finished run."""
    from ae_core.figures.reconstruction import latent_scatter_figure, subsample
    from ae_core.figures.training import loss_curve_figure

    rec = store.get(run_id)
    if rec.status != "done" or not store.has(run_id, WEIGHTS):
        raise InputError(f"run {run_id} is {rec.status}, not finished; only finished runs can be downloaded.")
    latent, split = store.read_array(run_id, "latent.npy"), store.read_array(run_id, "split.npy")
    if latent is None or split is None:
        raise InputError(f"run {run_id} is missing its codes (latent.npy); train it again.")
    labels = _labels(rec)
    coords = safe_csv(coordinates_frame(latent, split, labels))
    history = store.read_json(run_id, "history.json", [])
    Y, axes = (latent[:, :2], ("z1", "z2")) if latent.shape[1] >= 2 else (np.c_[latent, np.zeros(len(latent))], ("z1", ""))
    if latent.shape[1] > 2:
        from ae_core.analysis.projection import project

        Y, axes = project(latent, "pca"), ("PC1 of the code", "PC2 of the code")
    keep = subsample(len(Y), 20_000)
    scatter = latent_scatter_figure(Y[keep], None if labels is None else labels[keep], f"{rec.label()}", axes)
    command = reproduce_command(rec.config)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(rec.config, indent=1))
        zf.write(store.path(run_id, WEIGHTS), WEIGHTS)
        zf.writestr("scaler.json", store.path(run_id, "scaler.json").read_text())
        zf.writestr("metrics.json", json.dumps(store.read_json(run_id, "metrics.json", rec.metrics), indent=1))
        zf.writestr("history.json", json.dumps(history, indent=1))
        zf.writestr("coordinates.csv", coords)
        zf.writestr("figures/latent.html", scatter.to_html(include_plotlyjs=True, full_html=True))
        zf.writestr("figures/loss.html", loss_curve_figure(history).to_html(include_plotlyjs=True, full_html=True))
        zf.writestr("README.txt", _readme(rec, command))
    return buf.getvalue()


def _labels(rec):
    """Class name per row, or None; a dataset that cannot be loaded any more just has no labels."""
    from ae_core.runs.spec import dataset_from_config

    try:
        return dataset_from_config(rec.config).label_names()
    except (InputError, OSError):
        return None
