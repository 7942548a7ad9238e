"""ae_core.runs.export: the run bundle unzips, its weights give the same codes, its command reproduces the config."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load as load_safetensors

from ae_core.analysis.metrics import encode
from ae_core.cli import _train_config, build_parser
from ae_core.data.preprocessing import Scaler
from ae_core.errors import InputError
from ae_core.model.config import model_config_from_dict
from ae_core.model.networks import Autoencoder
from ae_core.runs.export import bundle_filename, coordinates_frame, reproduce_command, run_bundle
from ae_core.runs.spec import dataset_from_config, make_config
from ae_core.runs.store import RunStore


@pytest.fixture(scope="module")
def bundle(trained_root):
    root, ids = trained_root
    store = RunStore(root)
    return store, ids["digits"], zipfile.ZipFile(io.BytesIO(run_bundle(store, ids["digits"])))


def test_bundle_holds_every_file(bundle):
    _, _, zf = bundle
    assert set(zf.namelist()) == {"config.json", "weights.safetensors", "scaler.json", "metrics.json", "history.json",
                                  "coordinates.csv", "figures/latent.html", "figures/loss.html", "README.txt"}
    assert zf.testzip() is None
    html = zf.read("figures/latent.html").decode()
    assert "plotly" in html and "<script src=\"https://cdn" not in html  # works offline: plotly.js inside


def test_bundle_weights_give_identical_codes(bundle):
    store, run_id, zf = bundle
    config = json.loads(zf.read("config.json"))
    model = Autoencoder(model_config_from_dict(config["model"]))
    model.load_state_dict(load_safetensors(zf.read("weights.safetensors")))
    scaler = Scaler.from_dict(json.loads(zf.read("scaler.json")))
    Z = encode(model, scaler.transform(dataset_from_config(config).X))
    np.testing.assert_array_equal(Z, store.read_array(run_id, "latent.npy"))
    coords = pd.read_csv(io.BytesIO(zf.read("coordinates.csv")))
    assert list(coords.columns) == ["row", "split", "label", "z1", "z2"]
    np.testing.assert_allclose(coords[["z1", "z2"]].to_numpy(), Z, rtol=1e-6, atol=1e-6)
    assert set(coords["split"]) == {"train", "validation", "test"}


def test_readme_command_parses_and_rebuilds_the_same_config(bundle):
    store, run_id, zf = bundle
    readme = zf.read("README.txt").decode()
    command = next(line.strip() for line in readme.splitlines() if line.strip().startswith("python -m ae_core train"))
    args = build_parser().parse_args(command.split()[3:])
    assert args.command == "train" and args.dataset == "digits" and args.latent_dim == 2
    rebuilt = json.loads(json.dumps(_train_config(args)))  # what `train` does with these arguments
    original = store.get(run_id).config
    assert rebuilt["model"] == original["model"]
    # evolution_samples only decides which codes are kept per epoch, never the weights.
    assert {k: v for k, v in rebuilt["train"].items() if k != "evolution_samples"} == \
        {k: v for k, v in original["train"].items() if k != "evolution_samples"}


@pytest.mark.parametrize("variant, model", [("sparse", {}), ("denoising", {}), ("variational", {}),
                                            ("vanilla", {"front_dim": 6}), ("vanilla", {"front_dim": 0})])
def test_reproduce_command_carries_each_variant_switch(variant, model):
    config = json.loads(json.dumps(make_config("wine", variant, model=model, train={"epochs": 3, "seed": 7})))
    args = build_parser().parse_args(reproduce_command(config).split()[3:])
    assert json.loads(json.dumps(_train_config(args))) == config


def test_reproduce_command_for_a_csv_quotes_the_path():
    config = {"dataset": {"name": "csv", "options": {"path": "/tmp/my data.csv", "label_column": "kind"}},
              "variant": "vanilla", "model": {"latent_dim": 2, "hidden": [8], "arch": "dense"},
              "train": {"epochs": 5, "batch_size": 32, "lr": 0.002, "seed": 0}}
    cmd = reproduce_command(config)
    assert "--csv '/tmp/my data.csv' --label-column kind" in cmd


def test_coordinates_csv_defuses_formula_labels_but_not_numbers():
    from ae_core.analysis.latent import safe_csv

    frame = coordinates_frame(np.array([[-1.5, 2.0], [0.5, -3.0]]), np.array([0, 2]), np.array(["=HYPERLINK(x)", "ok"]))
    back = pd.read_csv(io.BytesIO(safe_csv(frame)))
    assert back["label"].tolist() == ["'=HYPERLINK(x)", "ok"]
    assert back["z1"].tolist() == [-1.5, 0.5] and back["split"].tolist() == ["train", "test"]


def test_bundle_of_an_unfinished_run_is_refused(store):
    rec = store.create(make_config("wine", "vanilla", train={"epochs": 2}))
    with pytest.raises(InputError, match="not finished"):
        run_bundle(store, rec.id)
    assert bundle_filename(rec).startswith("autoencoder-wine-vanilla-2d-") and bundle_filename(rec).endswith(".zip")


def test_reproduce_command_of_a_time_budget_run_gives_the_budget_not_its_10000_epochs():
    from ae_core.cli import _train_config
    from ae_core.model.config import budget_settings

    train = {**budget_settings(45), "seed": 3}
    config = json.loads(json.dumps(make_config("wine", "vanilla", train=train)))
    cmd = reproduce_command(config)
    assert "--time-budget 45" in cmd and "--epochs" not in cmd
    rebuilt = _train_config(build_parser().parse_args(cmd.split()[3:]))
    assert json.loads(json.dumps(rebuilt)) == config
