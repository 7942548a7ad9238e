"""Run configs: what a run trains, as a JSON-able dict, validated up front.

Kept free of torch so that pages can build and validate a config (and the
server can submit one) without importing it; the worker process pays for torch.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ae_core.data.registry import Dataset, load_dataset
from ae_core.data.symmetry import recipe_mirror
from ae_core.errors import InputError
from ae_core.model.config import TrainConfig, model_config_for, recipe_defaults, recipe_shift
from ae_core.model.device import check_device_name

DEFAULT_LATENT = 2  # a 2-D code is drawn as it is; the default is for looking at


def dataset_defaults(ds: Dataset, variant: str = "vanilla") -> dict:
    """Sensible model/training defaults per dataset size and kind: the model recipe's
    (`ae_core.model.config.recipe_defaults`) and the default code size."""
    n, d = ds.n_samples, ds.n_features
    return {**recipe_defaults(n, d, variant), "latent_dim": min(DEFAULT_LATENT, max(1, d - 1))}


def make_config(dataset: str, variant: str = "vanilla", dataset_options: dict | None = None,
                model: dict | None = None, train: dict | None = None, ds: Dataset | None = None,
                device: str = "auto") -> dict:
    """A run config: a JSON-able dict with the dataset spec, variant, model and training settings,
    and the device to train on ('auto', 'cpu', 'cuda', 'mps'; whether it exists is checked where the run trains).

    Validates everything it can without training; raises InputError.
    """
    ds = ds if ds is not None else load_dataset(dataset, **dict(dataset_options or {}))
    defaults = dataset_defaults(ds, variant)
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
    recipe = {k: defaults[k] for k in ("epochs", "batch_size", "lr", "weight_decay", "schedule", "warmup")}
    if train.get("mirror") is None:
        recipe["mirror"] = recipe_mirror(ds.X, mcfg.arch, mcfg.front_dim, ds.image_shape, ds.n_samples)
    elif train["mirror"] and ds.image_shape is None:
        raise InputError(f"mirroring flips images left to right; {ds.title or ds.name} is a table. Train without it.")
    if train.get("shift") is None:
        recipe["shift"] = recipe_shift(mcfg.arch, mcfg.front_dim, ds.image_shape)
    elif train["shift"] and ds.image_shape is None:
        raise InputError(f"shifting moves images by a pixel; {ds.title or ds.name} is a table. Train without it.")
    tcfg = TrainConfig(**{**recipe, **train}).validate()
    spec = {"name": dataset, "options": dict(dataset_options or {}), "display": ds.name}
    return {"dataset": spec, "variant": variant, "model": dataclasses.asdict(mcfg), "train": dataclasses.asdict(tcfg),
            "device": check_device_name(device)}


def dataset_from_config(config: dict) -> Dataset:
    spec = config["dataset"]
    return load_dataset(spec["name"], **dict(spec.get("options") or {}))


def one_class_setup(dataset: str, normal: list, variant: str = "vanilla", dataset_options: dict | None = None,
                    model: dict | None = None, train: dict | None = None) -> dict:
    """A run config trained on the `normal` classes only (names or indices); the other classes are anomalies.

    The config carries `train_classes` (class indices), which
    `ae_core.runs.execute.execute_run` honours: train and validation rows keep
    those classes only, and every other row is held out as a test row.
    """
    ds = load_dataset(dataset, **dict(dataset_options or {}))
    if ds.y is None or not ds.class_names:
        raise InputError(f"{ds.title or ds.name} has no classes, so there is nothing to call normal; pick a labelled dataset.")
    names = list(ds.class_names)
    chosen = set()
    for c in normal:
        if isinstance(c, (int, np.integer)) and 0 <= int(c) < len(names):
            chosen.add(int(c))
        elif str(c) in names:
            chosen.add(names.index(str(c)))
        else:
            raise InputError(f"{str(c)[:40]!r} is not a class of {ds.name}; choose from: {', '.join(names)}.")
    if not chosen:
        raise InputError("choose at least one normal class.")
    if len(chosen) == len(names):
        raise InputError("leave at least one class out: the classes not chosen are the anomalies to find.")
    # A run's stored model config also holds what the data decide (input size, image shape, output); drop those.
    model = {k: v for k, v in (model or {}).items() if k not in ("n_features", "image_shape", "output")}
    config = make_config(dataset, variant, dataset_options, model, train, ds=ds)
    config["train_classes"] = sorted(chosen)
    return config


# Model settings that describe the data, not the choice of model: make_config sets them itself.
_DATA_KEYS = ("n_features", "image_shape", "output", "latent_dim")


def config_for_code_size(ref_config: dict, latent_dim: int) -> dict:
    """A run config like `ref_config` (same data, variant, layers and training) with another code size."""
    spec = ref_config["dataset"]
    model = {k: v for k, v in ref_config["model"].items() if k not in _DATA_KEYS}
    return make_config(spec["name"], ref_config["variant"], spec.get("options"),
                       model={**model, "latent_dim": int(latent_dim)}, train=dict(ref_config["train"]))
