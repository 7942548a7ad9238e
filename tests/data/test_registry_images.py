"""Image folders and zips as datasets: the registry, colour conv models, the CLI, figures and every explore analysis."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ae_core.cli import main
from ae_core.data.registry import load_dataset
from ae_core.errors import InputError
from ae_core.figures.images import image_grid, png_data_uri
from ae_core.model.config import model_config_for
from ae_core.model.networks import Autoencoder
from tests.image_samples import shapes_zip


def test_a_zip_becomes_an_image_dataset_with_classes_and_file_names(tmp_path):
    ds = load_dataset("images", path=str(shapes_zip(tmp_path / "s.zip")), display_name="shapes")
    assert ds.kind == "image" and ds.image_shape == (16, 16, 3) and ds.X.shape == (60, 768)
    assert ds.class_names == ("blue", "red") and np.bincount(ds.y).tolist() == [30, 30]
    assert ds.columns["file"].iloc[0] == "set/blue/000.png" and ds.value_range == (0.0, 255.0)
    grey = load_dataset("images", path=str(tmp_path / "s.zip"), side=8, colour="grayscale")
    assert grey.image_shape == (8, 8) and grey.X.shape == (60, 64)


def test_an_image_dataset_needs_a_path():
    with pytest.raises(InputError, match="needs the path of a folder or a zip"):
        load_dataset("images")


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 3), (12, 20, 3)], ids=["grey", "rgb", "rgb-oblong"])
def test_the_conv_model_round_trips_grey_and_colour_rows(shape):
    d = int(np.prod(shape))
    model = Autoencoder(model_config_for("convolutional", n_features=d, image_shape=shape, latent_dim=3), seed=0)
    x = torch.rand(4, d)
    model.init_from_data(x)
    out = model(x)
    assert out.recon.shape == (4, d) and out.z.shape == (4, 3)
    # The untrained model starts at the per-channel mean: channels stay apart in the flat row.
    if len(shape) == 3:
        x = torch.zeros(8, *shape)
        x[..., 0] = 0.9  # a red image: the red channel's mean differs from green's and blue's
        model.init_from_data(x.reshape(8, -1))
        mean_out = model.decode(torch.zeros(1, 3)).reshape(shape).mean(dim=(0, 1))
        assert mean_out[0] > mean_out[1] + 0.3


def test_a_colour_conv_model_learns(tmp_path):
    ds = load_dataset("images", path=str(shapes_zip(tmp_path / "s.zip")))
    X = torch.from_numpy(ds.X / 255.0)
    model = Autoencoder(model_config_for("convolutional", n_features=ds.n_features, image_shape=ds.image_shape,
                                         latent_dim=4), seed=0)
    model.init_from_data(X)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(60):
        loss = model(X).losses["loss"]
        first = loss.detach().item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.detach().item() < 0.97 * first


def test_colour_images_draw_as_rgb_pngs_and_grids():
    rgb = np.zeros((2, 4, 4, 3), np.float32)
    rgb[..., 0] = 1.0
    uri = png_data_uri(rgb[0])
    img = Image.open(io.BytesIO(__import__("base64").b64decode(uri.split(",", 1)[1])))
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 0, 0)
    fig = image_grid(rgb, titles=["a", "b"])  # not inverted: red stays red
    assert fig.data[0].source.startswith("data:image/png")


def test_cli_trains_and_embeds_images(tmp_path, capsys):
    z = shapes_zip(tmp_path / "s.zip")
    assert main(["train", "--images", str(z), "--variant", "convolutional", "--epochs", "2",
                 "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    import json

    m = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert m["dataset"] == "s" and m["test_mse"] > 0
    out = tmp_path / "out.csv"
    assert main(["embed", "--images", str(z), "--out", str(out), "--epochs", "2", "--side", "8"]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["row", "file", "class", "latent_1", "latent_2"] and len(frame) == 60
    assert "Read 60 of 60 files" in capsys.readouterr().err


def test_cli_refuses_a_hostile_zip_with_one_line_and_writes_nothing(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../../evil.png", b"x")
    out = tmp_path / "out.csv"
    assert main(["embed", "--images", str(tmp_path / "evil.zip"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "unsafe path" in err[0] and not out.exists()
    assert main(["train", "--images", str(tmp_path / "missing.zip"), "--runs-dir", str(tmp_path / "r")]) == 2
