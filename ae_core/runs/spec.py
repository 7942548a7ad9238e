"""Run configs: what a run trains, as a JSON-able dict, validated up front.

Kept free of torch so that pages can build and validate a config (and the
server can submit one) without importing it; the worker process pays for torch.
"""

from __future__ import annotations

import dataclasses

from ae_core.data.registry import Dataset, load_dataset
from ae_core.errors import InputError
from ae_core.model.config import TrainConfig, model_config_for
from ae_core.model.device import check_device_name

DEFAULT_LATENT = 2  # a 2-D code is drawn as it is; the default is for looking at


def dataset_defaults(ds: Dataset) -> dict:
    """Sensible model/training defaults per dataset size and kind."""
    n, d = ds.n_samples, ds.n_features
    hidden = (256, 128) if d >= 256 else (128, 64) if d >= 32 else (64, 32)
    batch = 256 if n >= 20_000 else 128 if n >= 1000 else 32
    epochs = 30 if n >= 20_000 else 60
    return {"hidden": hidden, "batch_size": batch, "epochs": epochs, "latent_dim": min(DEFAULT_LATENT, max(1, d - 1))}


def make_config(dataset: str, variant: str = "vanilla", dataset_options: dict | None = None,
                model: dict | None = None, train: dict | None = None, ds: Dataset | None = None,
                device: str = "auto") -> dict:
    """A run config: a JSON-able dict with the dataset spec, variant, model and training settings,
    and the device to train on ('auto', 'cpu', 'cuda', 'mps'; whether it exists is checked where the run trains).

    Validates everything it can without training; raises InputError.
    """
    ds = ds if ds is not None else load_dataset(dataset, **dict(dataset_options or {}))
    defaults = dataset_defaults(ds)
    model = {k: v for k, v in (model or {}).items() if v is not None}
    train = {k: v for k, v in (train or {}).items() if v is not None}
    mcfg = model_config_for(
        variant,
        **{"hidden": defaults["hidden"], "latent_dim": defaults["latent_dim"], **model},
        n_features=ds.n_features, image_shape=ds.image_shape,
        output="sigmoid" if ds.scaling == "range" else "linear",
    ).validate()
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    if set(train) - names:
        raise InputError(f"unknown training setting(s): {', '.join(sorted(set(train) - names))}.")
    tcfg = TrainConfig(**{"epochs": defaults["epochs"], "batch_size": defaults["batch_size"], **train}).validate()
    spec = {"name": dataset, "options": dict(dataset_options or {}), "display": ds.name}
    return {"dataset": spec, "variant": variant, "model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg),
            "device": check_device_name(device)}


def dataset_from_config(config: dict) -> Dataset:
    spec = config["dataset"]
    return load_dataset(spec["name"], **dict(spec.get("options") or {}))


def budget_overrides(ds: Dataset, seconds: float) -> dict:
    """Training settings for a wall-clock budget: use all of it, then stop.

    A cosine learning-rate anneal over the budget (from a higher start than the
    plateau recipe, with smaller batches) ends at a low rate exactly when time
    is up; the best validation weights are still restored. Measured against a
    plain Adam(1e-3, batch 256) loop in benchmarks/bench_quality.py.
    """
    return {"epochs": 10_000, "patience": 10_000, "schedule": "cosine", "max_seconds": float(seconds),
            "lr": 5e-3, "batch_size": 64 if ds.n_samples < 20_000 else 128}
