"""The trainer: loss falls for every preset, early stopping, divergence guard,
cancellation, determinism."""

import math

import numpy as np
import pytest
import torch

from ae_core.data.preprocessing import Scaler, split_indices
from ae_core.data.registry import load_dataset
from ae_core.errors import InputError
from ae_core.model.callbacks import Callback
from ae_core.model.config import PRESETS, TrainConfig, model_config_for
from ae_core.model.networks import Autoencoder
from ae_core.model.training import Trainer, TrainingCancelled, TrainingDiverged, evaluate


@pytest.fixture(scope="module")
def digits_tensors():
    ds = load_dataset("digits")
    sp = split_indices(ds.n_samples, ds.y)
    sc = Scaler.fit(ds.X[sp.train], ds.scaling, ds.value_range)
    return ds, torch.from_numpy(sc.transform(ds.X[sp.train])), torch.from_numpy(sc.transform(ds.X[sp.val]))


def _fit(ds, X_tr, X_va, variant="vanilla", **train):
    cfg = model_config_for(variant, n_features=64, image_shape=ds.image_shape, latent_dim=2, hidden=(64, 32))
    model = Autoencoder(cfg, seed=train.get("seed", 0))
    return model, Trainer(model, TrainConfig(**{"epochs": 8, **train})).fit(X_tr, X_va)


@pytest.mark.parametrize("variant", list(PRESETS))
def test_every_preset_trains_on_digits_and_beats_predicting_the_mean(digits_tensors, variant):
    ds, X_tr, X_va = digits_tensors
    model, result = _fit(ds, X_tr, X_va, variant=variant, epochs=15)
    h = result.history
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert min(e["val_loss"] for e in h) < h[0]["val_loss"]
    # Learning the mean image is not learning: the code must carry something (0.60-0.87 of it, 3 seeds).
    mean_mse = float(((X_va - X_tr.mean(0)) ** 2).mean())
    assert evaluate(model, X_va)["mse"] < 0.92 * mean_mse


def test_same_seed_gives_identical_weights(digits_tensors):
    a, _ = _fit(*digits_tensors, epochs=3, seed=7)
    b, _ = _fit(*digits_tensors, epochs=3, seed=7)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), k


def test_early_stopping_restores_best_weights(digits_tensors):
    ds, X_tr, X_va = digits_tensors
    # A tiny training set overfits fast, so validation loss stops improving.
    model, result = _fit(ds, X_tr[:40], X_va, epochs=300, patience=3, batch_size=8, lr=1e-2)
    assert result.stop_reason.startswith("early stopping")
    assert len(result.history) < 300
    from ae_core.model.training import evaluate

    best = min(e["val_loss"] for e in result.history)
    assert math.isclose(evaluate(model, X_va)["loss"], best, rel_tol=1e-4)
    assert result.history[result.best_epoch - 1]["val_loss"] == best


def test_learning_rate_decays_on_plateau(digits_tensors):
    ds, X_tr, X_va = digits_tensors
    _, result = _fit(ds, X_tr[:40], X_va, epochs=60, patience=50, lr_patience=1, batch_size=8, lr=1e-2)
    lrs = [e["lr"] for e in result.history]
    assert lrs[-1] < lrs[0]


def test_divergence_stops_with_actionable_reason():
    X = torch.from_numpy(np.random.default_rng(0).normal(size=(64, 10)).astype(np.float32) * 1e20)  # squared errors overflow float32
    cfg = model_config_for("vanilla", n_features=10, latent_dim=2, hidden=(16,), output="linear")
    with pytest.raises(TrainingDiverged, match=r"training diverged \(loss became .* at epoch \d+\) — lower the learning rate"):
        Trainer(Autoencoder(cfg), TrainConfig(epochs=50, lr=1.0, batch_size=8)).fit(X, X)


def test_cancel_between_batches(digits_tensors):
    class StopAfter(Callback):
        batches = 0

        def on_batch_end(self, trainer, epoch, batch, n_batches, loss):
            self.batches += 1

        def should_stop(self, trainer):
            return self.batches >= 2

    ds, X_tr, X_va = digits_tensors
    cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2)
    cb = StopAfter()
    with pytest.raises(TrainingCancelled):
        Trainer(Autoencoder(cfg), TrainConfig(epochs=50), [cb], progress_every=1).fit(X_tr, X_va)
    assert cb.batches == 2


def test_callbacks_see_every_epoch(digits_tensors):
    seen = []

    class Record(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append((epoch, sorted(logs)))

    ds, X_tr, X_va = digits_tensors
    cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2)
    Trainer(Autoencoder(cfg), TrainConfig(epochs=3, patience=10), [Record()]).fit(X_tr, X_va)
    assert [e for e, _ in seen] == [1, 2, 3]
    assert {"train_loss", "val_loss", "lr", "val_mse"} <= set(seen[0][1])


@pytest.mark.parametrize("field,value,match", [
    ("epochs", 0, "epochs must be between"),
    ("lr", 0.0, "learning rate must be"),
    ("batch_size", 0, "batch size must be"),
])
def test_out_of_range_training_settings_are_refused(field, value, match):
    from ae_core.errors import InputError

    with pytest.raises(InputError, match=match):
        TrainConfig(**{field: value}).validate()


class _Interrupt(Callback):
    """Keeps the checkpoint of epoch `at`, then stops as if the process died."""

    def __init__(self, at):
        self.at, self.saved = at, None

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch == self.at:
            from safetensors.torch import load, save

            tensors, meta = trainer.checkpoint()
            self.saved = (load(save(tensors)), meta)  # through the on-disk format
            raise TrainingCancelled()


@pytest.mark.parametrize("variant", ["vanilla", "variational"])
def test_resume_from_checkpoint_continues_with_same_history(digits_tensors, variant):
    ds, X_tr, X_va = digits_tensors
    cfg = model_config_for(variant, n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,))
    tcfg = TrainConfig(epochs=6, patience=10, seed=3)
    full_model = Autoencoder(cfg, seed=3)
    full = Trainer(full_model, tcfg).fit(X_tr, X_va)

    stopper = _Interrupt(at=3)
    with pytest.raises(TrainingCancelled):
        Trainer(Autoencoder(cfg, seed=3), tcfg, [stopper]).fit(X_tr, X_va)
    resumed_model = Autoencoder(cfg, seed=99)  # fresh weights: all state must come from the checkpoint
    resumed = Trainer(resumed_model, tcfg).fit(X_tr, X_va, resume=stopper.saved)

    assert [e["epoch"] for e in resumed.history] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full.history, resumed.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
    for k, v in full_model.state_dict().items():
        torch.testing.assert_close(v, resumed_model.state_dict()[k])


def test_cosine_schedule_anneals_to_one_percent_over_the_epochs(digits_tensors):
    ds, X_tr, X_va = digits_tensors
    _, result = _fit(ds, X_tr, X_va, epochs=5, patience=10, schedule="cosine", lr=1e-2)
    lrs = [e["lr"] for e in result.history]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.05 * lrs[0]


def test_time_budget_stops_training_when_time_is_up(digits_tensors):
    ds, X_tr, X_va = digits_tensors
    _, result = _fit(ds, X_tr, X_va, epochs=10_000, patience=10_000, schedule="cosine", max_seconds=1.0)
    assert result.stop_reason == "time budget of 1 s reached"
    assert result.history[-1]["lr"] < 0.1 * 2e-3


def test_data_init_starts_training_closer(digits_tensors):
    """The output bias at the data mean and a centred first layer. Measured here: after 8 epochs at the
    default rate, PyTorch's initialisation has learned the mean image and no more (val MSE 0.0729, the
    mean's 0.0734); from the data's mean, 0.049."""
    ds, X_tr, X_va = digits_tensors
    _, plain = _fit(ds, X_tr, X_va, epochs=1, data_init=False)
    _, init = _fit(ds, X_tr, X_va, epochs=1)
    assert init.history[0]["val_mse"] < 0.8 * plain.history[0]["val_mse"]
    _, plain = _fit(ds, X_tr, X_va, data_init=False)
    _, init = _fit(ds, X_tr, X_va)
    assert init.history[-1]["val_mse"] < 0.8 * plain.history[-1]["val_mse"]


def test_data_init_can_be_turned_off(digits_tensors):
    ds, X_tr, X_va = digits_tensors
    cfg = model_config_for("vanilla", n_features=64, latent_dim=2, hidden=(64, 32))
    untouched, model = Autoencoder(cfg, seed=0), Autoencoder(cfg, seed=0)
    Trainer(model, TrainConfig(epochs=1, lr=1e-12, data_init=False)).fit(X_tr, X_va)
    assert torch.allclose(model.decoder.head.bias, untouched.decoder.head.bias, atol=1e-6)


def test_cosine_lr_warms_up_then_anneals_to_a_hundredth():
    from ae_core.model.training import cosine_lr

    assert cosine_lr(1.0, 0.05, warmup=0.1) == pytest.approx(0.5)
    assert cosine_lr(1.0, 0.1, warmup=0.1) == pytest.approx(1.0)
    assert cosine_lr(1.0, 1.0, warmup=0.1) == pytest.approx(0.01)
    assert cosine_lr(1.0, 0.5) == pytest.approx(0.505)
    lrs = [cosine_lr(1.0, f / 20, warmup=0.1) for f in range(2, 21)]
    assert lrs == sorted(lrs, reverse=True)


@pytest.mark.parametrize("latent_dim", [2, 8, 30])
def test_pca_initialised_model_ends_no_worse_than_pca_on_validation(digits_tensors, latent_dim):
    # Even a run too short and too hot to learn anything keeps its PCA start: the starting weights are epoch 0.
    from sklearn.decomposition import PCA

    ds, X_tr, X_va = digits_tensors
    X_tr = X_tr[:150]
    cfg = model_config_for("vanilla", n_features=64, latent_dim=latent_dim, hidden=(16,))
    model = Autoencoder(cfg, seed=0)
    Trainer(model, TrainConfig(epochs=2, lr=0.5, batch_size=16, seed=0)).fit(X_tr, X_va)
    pca = PCA(latent_dim).fit(X_tr.numpy())
    pca_mse = float(((pca.inverse_transform(pca.transform(X_va.numpy())) - X_va.numpy()) ** 2).mean())
    assert evaluate(model, X_va)["mse"] <= pca_mse * (1 + 1e-4)


def _autocast_seen(monkeypatch, native: bool, hidden, **train) -> bool:
    """Whether the model's forward pass ran under bfloat16 autocast during training."""
    from ae_core.model import training

    monkeypatch.setattr(training, "native_bf16", lambda dev: native)
    cfg = model_config_for("vanilla", n_features=64, latent_dim=2, hidden=hidden)
    model = Autoencoder(cfg, seed=0)
    seen = []
    model.encoder.register_forward_hook(lambda *_: seen.append(torch.is_autocast_enabled("cpu")) if model.training else None)
    X = torch.rand(64, 64)
    Trainer(model, TrainConfig(epochs=1, batch_size=32, **train)).fit(X, X[:16])
    return any(seen)


def test_a_big_model_trains_in_bfloat16_on_a_cpu_that_has_it_natively(monkeypatch):
    assert _autocast_seen(monkeypatch, True, (512, 256))
    assert not _autocast_seen(monkeypatch, True, (512, 256), bf16=False)  # the user's way out
    assert not _autocast_seen(monkeypatch, False, (512, 256))  # emulated bfloat16 would be slower
    assert not _autocast_seen(monkeypatch, True, (32, 16))  # a small model's casts cost more than they save


def test_a_bfloat16_trained_model_evaluates_in_float32_and_reconstructs_as_well(monkeypatch, digits_tensors):
    from ae_core.model import training

    ds, X_tr, X_va = digits_tensors
    losses = {}
    for native in (False, True):
        monkeypatch.setattr(training, "native_bf16", lambda dev, native=native: native)
        monkeypatch.setattr(training, "CPU_BF16_MIN_PARAMETERS", 0)
        model, result = _fit(ds, X_tr, X_va, epochs=10)
        assert next(model.parameters()).dtype == torch.float32
        losses[native] = evaluate(model, X_va)["mse"]
    assert losses[True] == pytest.approx(losses[False], rel=0.1)


def test_a_time_budget_ends_an_epoch_part_way(digits_tensors):
    """A budget shorter than one epoch stops after the batch that crossed it, not at the epoch's end."""
    ds, X_tr, X_va = digits_tensors
    batches = []

    class Count(Callback):
        def on_batch_end(self, trainer, epoch, batch, n_batches, loss):
            batches.append((batch, n_batches))

    cfg = model_config_for("vanilla", n_features=64, latent_dim=2, hidden=(64, 32))
    trainer = Trainer(Autoencoder(cfg, seed=0), TrainConfig(epochs=5, batch_size=1, max_seconds=0.3), callbacks=[Count()])
    trainer.progress_every = 1
    result = trainer.fit(X_tr, X_va)
    assert result.stop_reason == "time budget of 0.3 s reached" and len(result.history) == 1
    last, n_batches = batches[-1]
    assert last < n_batches  # 1,257 one-row batches take far longer than 0.3 s
    assert math.isfinite(result.history[0]["train_loss"])


def _one_sided_images(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 64) rows of 8x8 images whose bright bar is always in the left half, at a random column and brightness."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 8, 8), np.float32)
    for img, col, level in zip(X, rng.integers(0, 4, n), rng.uniform(0.3, 1.0, n)):
        img[:, col] = level
    return torch.from_numpy(X.reshape(n, 64))


def _record_inputs(model: Autoencoder) -> dict[bool, list[tuple[torch.Tensor, torch.Tensor | None]]]:
    """Every (rows, front coordinates) the model's forward receives from now on, by `model.training`."""
    seen = {True: [], False: []}
    forward = model.forward

    def recording(x, coords=None):
        seen[model.training].append((x.detach().clone(), None if coords is None else coords.detach().clone()))
        return forward(x, coords)

    model.forward = recording
    return seen


def _mirrored(X: torch.Tensor) -> torch.Tensor:
    return X.view(-1, 8, 8).flip(2).reshape(len(X), 64)


@pytest.mark.parametrize("shape", [(8, 8), (4, 6, 3)])
def test_mirror_trains_on_mirrored_rows_and_validates_on_the_rows_as_they_are(shape):
    """Grey and colour (channel-last) images: the columns of pixels reverse, the channels keep their order."""
    rng = np.random.default_rng(0)
    images = rng.random((260, *shape), dtype=np.float32)
    mirrored = torch.from_numpy(np.ascontiguousarray(images[:, :, ::-1]).reshape(260, -1))
    X = torch.from_numpy(images.reshape(260, -1))
    X_tr, X_va = X[:200], X[200:]
    cfg = model_config_for("vanilla", n_features=X.shape[1], image_shape=shape, latent_dim=2, hidden=(32,),
                           pca_init=False, output="sigmoid")
    model = Autoencoder(cfg, seed=0)
    seen = _record_inputs(model)
    Trainer(model, TrainConfig(epochs=2, batch_size=50, mirror=True)).fit(X_tr, X_va)
    trained = torch.cat([x for x, _ in seen[True]])
    as_is = (trained[:, None] == X_tr[None]).all(-1).any(1)
    flipped = (trained[:, None] == mirrored[:200][None]).all(-1).any(1)
    assert bool((as_is | flipped).all())  # every training row, mirrored or not, and nothing else
    assert 0.35 < float(flipped.float().mean()) < 0.65  # about half of them mirrored
    evaluated = torch.cat([x for x, _ in seen[False]])
    assert bool((evaluated[:, None] == X_va[None]).all(-1).any(1).all())  # validation rows as they are


def test_a_model_trained_with_mirror_reconstructs_mirror_images_it_never_saw():
    X_tr, X_va = _one_sided_images(400), _one_sided_images(100, seed=1)
    errors = {}
    for mirror in (False, True):
        # the plain network: with the PCA path, PCA's start already reconstructs the (one-sided) validation
        # rows best and is kept, so the mirrored rows' error would not move
        cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,),
                               pca_init=False, output="sigmoid")
        model = Autoencoder(cfg, seed=0)
        Trainer(model, TrainConfig(epochs=40, batch_size=32, mirror=mirror)).fit(X_tr, X_va)
        errors[mirror] = evaluate(model, _mirrored(X_va))["mse"]
    assert errors[True] < 0.2 * errors[False]  # 0.003-0.009 of it over four seeds


def test_mirror_behind_a_front_gives_the_model_the_mirrored_rows_coordinates():
    X_tr = _one_sided_images(300)
    cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,), front_dim=16)
    model = Autoencoder(cfg, seed=0)
    seen = _record_inputs(model)
    Trainer(model, TrainConfig(epochs=1, batch_size=100, mirror=True)).fit(X_tr, X_tr[:50])
    for x, coords in seen[True]:
        torch.testing.assert_close(coords, model.front_coordinates_of(x), rtol=1e-4, atol=1e-4)


def test_mirror_with_the_same_seed_gives_identical_weights():
    X_tr, X_va = _one_sided_images(200), _one_sided_images(60, seed=1)
    weights = []
    for _ in range(2):
        cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,))
        model = Autoencoder(cfg, seed=0)
        Trainer(model, TrainConfig(epochs=3, mirror=True, seed=3)).fit(X_tr, X_va)
        weights.append(model.state_dict())
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key


def test_mirror_on_rows_without_an_image_shape_is_refused():
    cfg = model_config_for("vanilla", n_features=64, latent_dim=2, hidden=(32,))
    with pytest.raises(InputError, match="no image shape"):
        Trainer(Autoencoder(cfg, seed=0), TrainConfig(epochs=1, mirror=True)).fit(_one_sided_images(50), _one_sided_images(20))


def _shifts(images: np.ndarray) -> np.ndarray:
    """(n, h, w, c) -> (n, 8, h * w * c): each image moved by one pixel in each of the eight directions, the edge
    pixels repeated into the gap (numpy's edge padding, then a crop)."""
    n, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    moved = [padded[:, 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    return np.stack(moved, 1).reshape(n, 8, -1)


@pytest.mark.parametrize("shape", [(8, 8), (4, 6, 3)])
def test_shift_trains_on_rows_moved_by_a_pixel_and_validates_on_the_rows_as_they_are(shape):
    rng = np.random.default_rng(0)
    images = rng.random((260, *shape), dtype=np.float32)
    X = torch.from_numpy(images.reshape(260, -1))
    X_tr, X_va = X[:200], X[200:]
    moved = torch.from_numpy(_shifts(images[:200].reshape(200, shape[0], shape[1], -1)))  # (200, 8, F)
    cfg = model_config_for("vanilla", n_features=X.shape[1], image_shape=shape, latent_dim=2, hidden=(32,),
                           pca_init=False, output="sigmoid")
    model = Autoencoder(cfg, seed=0)
    seen = _record_inputs(model)
    Trainer(model, TrainConfig(epochs=3, batch_size=50, shift=True)).fit(X_tr, X_va)
    trained = torch.cat([x for x, _ in seen[True]])  # (600, F)
    as_is = (trained[:, None] == X_tr[None]).all(-1).any(1)
    shifted = (trained[:, None, None] == moved[None]).all(-1).any((1, 2))
    assert bool((as_is | shifted).all())  # every training row, as it is or moved by a pixel, and nothing else
    assert 0.12 < float(shifted.float().mean()) < 0.28  # about a fifth of them moved
    evaluated = torch.cat([x for x, _ in seen[False]])
    assert bool((evaluated[:, None] == X_va[None]).all(-1).any(1).all())


def _bars(n: int, columns, seed: int = 0) -> torch.Tensor:
    """(n, 64) rows of 8x8 images with one bright vertical bar, at one of `columns`, of a random brightness."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 8, 8), np.float32)
    for img, col, level in zip(X, rng.choice(columns, n), rng.uniform(0.3, 1.0, n)):
        img[:, col] = level
    return torch.from_numpy(X.reshape(n, 64))


def test_a_model_trained_with_shift_reconstructs_images_a_pixel_off_that_it_never_saw():
    X_tr, X_va = _bars(400, [2, 5]), _bars(100, [2, 5], seed=1)
    unseen = _bars(100, [3, 4], seed=2)  # each a pixel from a training column
    errors = {}
    for shift in (False, True):
        cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,),
                               pca_init=False, output="sigmoid")
        model = Autoencoder(cfg, seed=0)
        Trainer(model, TrainConfig(epochs=40, batch_size=32, shift=shift)).fit(X_tr, X_va)
        errors[shift] = evaluate(model, unseen)["mse"]
    assert errors[True] < 0.5 * errors[False]  # 0.01-0.23 of it over three seeds


def test_shift_behind_a_front_gives_the_model_the_moved_rows_coordinates():
    X_tr = _one_sided_images(300)
    cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,), front_dim=16)
    model = Autoencoder(cfg, seed=0)
    seen = _record_inputs(model)
    Trainer(model, TrainConfig(epochs=1, batch_size=100, mirror=True, shift=True)).fit(X_tr, X_tr[:50])
    moved = 0
    for x, coords in seen[True]:
        torch.testing.assert_close(coords, model.front_coordinates_of(x), rtol=1e-4, atol=1e-4)
        known = torch.cat([X_tr, _mirrored(X_tr)])
        moved += int((~(x[:, None] == known[None]).all(-1).any(1)).sum())  # shifted, after mirroring or not
    assert moved > 0


def test_shift_with_the_same_seed_gives_identical_weights_and_a_different_run_than_without():
    X_tr, X_va = _one_sided_images(200), _one_sided_images(60, seed=1)
    weights = []
    for shift in (True, True, False):
        cfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), latent_dim=2, hidden=(32,))
        model = Autoencoder(cfg, seed=0)
        Trainer(model, TrainConfig(epochs=3, shift=shift, seed=3)).fit(X_tr, X_va)
        weights.append(model.state_dict())
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
    assert any(not torch.equal(weights[0][key], weights[2][key]) for key in weights[0])


def test_shift_on_rows_without_an_image_shape_is_refused():
    cfg = model_config_for("vanilla", n_features=64, latent_dim=2, hidden=(32,))
    with pytest.raises(InputError, match="no image shape.*shift=False"):
        Trainer(Autoencoder(cfg, seed=0), TrainConfig(epochs=1, shift=True)).fit(_one_sided_images(50), _one_sided_images(20))
