"""The loss-curve figure and the dataset mosaic (ae_core.figures.training)."""

from __future__ import annotations

import numpy as np

from ae_core.figures.training import image_mosaic, loss_curve_figure, sample_grid_figure

HISTORY = [
    {"epoch": 1, "train_loss": 0.9, "val_loss": 1.0},
    {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6},
    {"epoch": 3, "train_loss": 0.4, "val_loss": 0.7},
]


def test_loss_curve_figure_has_train_val_and_best_epoch():
    fig = loss_curve_figure(HISTORY)
    names = [t.name for t in fig.data]
    assert names == ["train", "validation", "best validation"]
    assert list(fig.data[0].x) == [1, 2, 3]
    assert list(fig.data[2].x) == [2] and list(fig.data[2].y) == [0.6]
    assert fig.layout.yaxis.type == "linear"
    assert fig.layout.xaxis.dtick == 1  # few epochs: whole-number ticks


def test_loss_curve_figure_log_scale_and_explicit_best():
    fig = loss_curve_figure(HISTORY, log_y=True, best_epoch=3)
    assert fig.layout.yaxis.type == "log"
    assert list(fig.data[2].x) == [3]


def test_loss_curve_figure_empty_history_says_waiting():
    fig = loss_curve_figure([])
    assert "Waiting" in fig.layout.annotations[0].text
    assert fig.layout.xaxis.visible is False


def test_image_mosaic_shape_padding_and_scale():
    X = np.arange(5 * 6, dtype=float).reshape(5, 6)  # five 2x3 images
    m = image_mosaic(X, (2, 3), n=5, cols=2, pad=1)
    assert m.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert np.isnan(m[2, 0]) and np.isnan(m[0, 3])  # padding rows and columns
    tile = m[0:2, 0:3]
    assert np.nanmin(tile) == 0 and np.nanmax(tile) == 1


def test_sample_grid_figure_hover_shows_class():
    X = np.random.default_rng(0).random((4, 4))
    fig = sample_grid_figure(X, (2, 2), labels=np.array(["a", "b", "c", "d"]), n=4, cols=2)
    text = np.asarray(fig.data[0].text)
    assert text[0, 0] == "class a" and text[-1, -1] == "class d"
