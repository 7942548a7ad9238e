"""Model configs and the Train form's parsing (ae_core.model.config)."""

from __future__ import annotations

import pytest

from ae_core.errors import InputError
from ae_core.model.config import parse_sizes


def test_parse_sizes_accepts_commas_and_spaces():
    assert parse_sizes("256, 128") == (256, 128)
    assert parse_sizes("64") == (64,)


@pytest.mark.parametrize("text, match", [("", "at least one"), ("256,abc", "whole numbers"), ("0,5", "between 1")],
                         ids=["empty", "not-a-number", "zero"])
def test_parse_sizes_rejects_bad_text(text, match):
    with pytest.raises(InputError, match=match):
        parse_sizes(text)


def test_the_convolutional_recipe_picks_channels_by_image_side_and_keeps_explicit_ones():
    from ae_core.model.config import model_config_for

    big = model_config_for("convolutional", n_features=784, image_shape=(28, 28), latent_dim=8)
    small = model_config_for("convolutional", n_features=64, image_shape=(8, 8), latent_dim=8)
    mine = model_config_for("convolutional", n_features=784, image_shape=(28, 28), latent_dim=8, conv_channels=(8,))
    assert big.conv_channels == (32, 64, 128) and big.validate()
    assert small.conv_channels == (16, 32) and small.validate()  # three stride-2 stages would leave 1x1
    assert mine.conv_channels == (8,)


def test_time_budget_and_run_configs_follow_the_variants_recipe():
    from ae_core.data.registry import load_dataset
    from ae_core.model.config import budget_settings, recipe_defaults
    from ae_core.runs.spec import make_config

    ds = load_dataset("digits")
    conv = recipe_defaults(ds.n_samples, ds.n_features, "convolutional")
    dense = recipe_defaults(ds.n_samples, ds.n_features, "vanilla")
    budget = make_config("digits", "convolutional", train=budget_settings(30), ds=ds)["train"]
    assert (budget["batch_size"], budget["lr"], budget["max_seconds"]) == (conv["batch_size"], conv["lr"], 30)
    train = make_config("digits", "convolutional", ds=ds)["train"]
    assert (train["batch_size"], train["lr"], train["weight_decay"]) == (conv["batch_size"], conv["lr"], conv["weight_decay"])
    train = make_config("digits", "vanilla", ds=ds)["train"]
    assert (train["lr"], train["weight_decay"]) == (dense["lr"], dense["weight_decay"])


def test_the_convolutional_recipe_decays_weights_only_where_it_overfits():
    from ae_core.model.config import recipe_defaults

    decay = {n: recipe_defaults(n, 784, "convolutional")["weight_decay"] for n in (1_797, 5_000, 10_000, 60_000)}
    assert decay[5_000] == decay[10_000] > 0  # 5,000-20,000 images: the measured gap between training and held-out
    assert decay[1_797] == decay[60_000] == 0.0  # digits lost 1 % with it; the full sets underfit


@pytest.mark.parametrize(("arch", "front_dim", "shape", "expected", "words"), [
    ("conv", 0, (28, 28), True, "auto: on"),
    ("conv", 0, (32, 32, 3), True, "auto: on"),
    ("dense", 256, (32, 32, 3), True, "auto: on"),
    ("conv", 0, (8, 8), False, "images under 16 pixels a side"),
    ("dense", 0, (28, 28), False, "off for a dense model on the pixels"),
    ("conv", 0, None, False, None),
])
def test_the_recipe_shifts_images_where_a_pixel_is_a_small_move_and_the_model_can_use_it(arch, front_dim, shape,
                                                                                         expected, words):
    from ae_core.model.config import auto_shift_words, recipe_shift

    assert recipe_shift(arch, front_dim, shape) is expected
    if words:
        assert words in auto_shift_words(expected, arch, front_dim)


def test_the_convolutional_recipe_trains_longest_where_it_overfits_and_augments():
    from ae_core.model.config import recipe_defaults

    epochs = {n: recipe_defaults(n, 784, "convolutional")["epochs"] for n in (3_000, 5_000, 10_000, 19_999, 60_000)}
    assert epochs[5_000] == epochs[10_000] == epochs[19_999] > epochs[3_000] > epochs[60_000]

