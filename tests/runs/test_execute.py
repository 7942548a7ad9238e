"""From config to finished run and back: metrics, artifacts, save/load."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ae_core.analysis.metrics import encode
from ae_core.errors import InputError
from ae_core.runs.execute import execute_run
from ae_core.runs.loaded import load_run
from ae_core.runs.spec import make_config
from tests.conftest import train_tiny

ROOT = Path(__file__).resolve().parents[2]


def test_finished_run_has_metrics_against_pca(trained_store):
    store, ids = trained_store
    m = store.get(ids["digits"]).metrics
    for key in ("test_mse", "pca_mse", "ae_pca_ratio", "knn_accuracy", "pca_knn_accuracy", "trustworthiness"):
        assert np.isfinite(m[key]), key
    assert m["ae_pca_ratio"] == pytest.approx(m["test_mse"] / m["pca_mse"])
    assert 0 <= m["knn_accuracy"] <= 1


def test_a_run_records_the_scaling_it_used(trained_store):
    store, ids = trained_store
    assert store.get(ids["digits"]).metrics["scaling"] == "range"  # pixels
    assert store.get(ids["outliers"]).metrics["scaling"] == "standard"  # sensor readings


def test_outlier_run_reports_anomaly_auc(trained_store):
    store, ids = trained_store
    m = store.get(ids["outliers"]).metrics
    assert m["anomaly_auc"] > 0.8  # injected outliers break the correlations the AE learned


def test_save_then_load_gives_identical_outputs(trained_store):
    store, ids = trained_store
    run = load_run(store, ids["digits"])
    np.testing.assert_array_equal(encode(run.model, run.X), run.latent)
    again = load_run(store, ids["digits"])
    with torch.inference_mode():
        x = torch.from_numpy(run.X[:20].copy())  # run.X is read-only: runs of one dataset share it
        assert torch.equal(run.model.decode(run.model.encode(x)), again.model.decode(again.model.encode(x)))


def test_artifacts_cover_the_whole_dataset(trained_store):
    store, ids = trained_store
    run = load_run(store, ids["digits"])
    n = run.dataset.n_samples
    assert run.latent.shape == (n, 2) and run.recon_error.shape == (n,)
    assert sorted(np.unique(run.split)) == [0, 1, 2]
    assert (run.split == 2).mean() == pytest.approx(0.15, abs=0.01)
    evo = run.array("evolution.npy")
    assert evo.shape[0] == len(run.history) + 1  # epoch 0 (untrained) plus every epoch


@pytest.mark.parametrize("dataset", ["swiss-roll", "digits"])
def test_autoencoder_beats_pca_at_same_code_size(store, dataset):
    """The property every reader asks about: on data with curvature a 2-D AE
    reconstructs better than PCA with 2 components."""
    rid = train_tiny(store, dataset, "vanilla", train={"epochs": 60 if dataset == "swiss-roll" else 40})
    assert store.get(rid).metrics["ae_pca_ratio"] < 0.9


def test_same_config_same_seed_same_metrics(store):
    a = train_tiny(store, "wine", "vanilla")
    b = train_tiny(store, "wine", "vanilla")
    assert store.get(a).metrics["test_mse"] == store.get(b).metrics["test_mse"]


def test_diverging_run_fails_with_reason(store, monkeypatch):
    import ae_core.model.training as training

    # Force a NaN loss at the first batch: the guard must turn it into a readable failure.
    real = training.Trainer.fit

    def poisoned(self, X_train, X_val, **kwargs):
        return real(self, X_train * float("nan"), X_val, **kwargs)

    monkeypatch.setattr(training.Trainer, "fit", poisoned)
    rec = store.create(make_config("wine", "vanilla", train={"epochs": 3}))
    assert execute_run(store, rec.id) == "failed"
    assert "training diverged (loss became NaN at epoch 1) — lower the learning rate" in store.get(rec.id).error


def test_unwritable_store_fails_run_with_reason(store, monkeypatch):
    rec = store.create(make_config("wine", "vanilla", train={"epochs": 2}))

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("ae_core.runs.execute.atomic_write_bytes", refuse)
    assert execute_run(store, rec.id) == "failed"
    err = store.get(rec.id).error
    assert "could not write the run's files" in err and "writable" in err


def test_make_config_validates_before_training():
    with pytest.raises(InputError, match="latent size must be between"):
        make_config("digits", "vanilla", model={"latent_dim": 0})
    with pytest.raises(InputError, match="unknown training setting"):
        make_config("digits", "vanilla", train={"epoch": 3})


def test_make_config_shifts_images_for_the_convolutional_recipe_and_refuses_a_table(tmp_path):
    from tests.image_samples import shapes_zip

    options = {"path": str(shapes_zip(tmp_path / "shapes.zip", n=20, side=24))}  # 24x24: a pixel is a small move
    assert make_config("images", "convolutional", options)["train"]["shift"] is True
    assert make_config("images", "vanilla", options)["train"]["shift"] is False
    assert make_config("digits", "convolutional")["train"]["shift"] is False  # 8x8: a pixel is a big move
    assert make_config("digits", "convolutional", train={"shift": True})["train"]["shift"] is True
    with pytest.raises(InputError, match="shifting moves images by a pixel; .* is a table"):
        make_config("wine", "vanilla", train={"shift": True})


def test_make_config_mirrors_only_images_that_are_mirror_symmetric_and_refuses_a_table():
    assert make_config("digits", "convolutional")["train"]["mirror"] is False  # digits have a handedness
    assert make_config("digits", "convolutional", train={"mirror": True})["train"]["mirror"] is True
    assert make_config("wine", "vanilla")["train"]["mirror"] is False
    with pytest.raises(InputError, match="mirroring flips images left to right"):
        make_config("wine", "vanilla", train={"mirror": True})


def test_loading_an_unfinished_run_is_refused(store):
    rec = store.create(make_config("wine", "vanilla"))
    with pytest.raises(InputError, match="not finished"):
        load_run(store, rec.id)


def test_runs_of_one_dataset_share_its_arrays_read_only(store):
    """Five loaded 70,000-row runs must fit in the server's memory: runs of one dataset hold
    one copy of its raw and scaled arrays, which nobody may change in place."""
    import gc
    import weakref

    a_id, b_id = train_tiny(store, "wine", "vanilla"), train_tiny(store, "wine", "sparse")
    other_id = train_tiny(store, "digits", "vanilla")
    a, b, other = load_run(store, a_id), load_run(store, b_id), load_run(store, other_id)
    assert a.dataset is b.dataset and a.X is b.X
    assert other.X is not a.X and other.X.shape[1] == 64
    with pytest.raises(ValueError, match="read-only"):
        a.X[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        a.dataset.X[0, 0] = 1.0
    np.testing.assert_array_equal(encode(b.model, b.X), b.latent)  # inference reads it as before
    ref = weakref.ref(a.X)
    del a, b
    gc.collect()
    assert ref() is None  # freed with the last run that held it


def test_loading_a_run_for_its_codes_imports_no_torch(trained_store):
    """The latent page draws a run's stored codes before anything needs the model: loading the run, its codes,
    labels and per-row table, and decoding the plane below the scatter, must not pay for torch (about 3 s to
    import here) or for scikit-learn (1.5-3 s with the scipy.stats it imports; digits is read from its file).
    The numpy decoder gives what the torch model gives."""
    store, ids = trained_store
    code = (
        "import sys\n"
        "from ae_core.runs.loaded import load_run\n"
        "from ae_core.analysis.latent import latent_frame\n"
        "from ae_core.runs.store import RunStore\n"
        f"run = load_run(RunStore({str(store.root)!r}), {ids['digits']!r})\n"
        "frame = latent_frame(run)\n"
        "assert len(frame) == len(run.latent) == 1797, len(frame)\n"
        "from ae_core.analysis.latent import decode_plane, decode_point, latent_range\n"  # the tab below the scatter
        "plane = decode_plane(run.decoder, latent_range(run.latent), 5)\n"
        "point = decode_point(run.decoder, [0.0, 0.0])\n"
        "heavy = ('torch', 'sklearn', 'scipy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from ae_core.analysis.metrics import encode\n"
        "import numpy as np\n"
        "np.testing.assert_array_equal(encode(run.model, run.X), run.latent)\n"  # the model still builds on use
        "np.testing.assert_allclose(plane, decode_plane(run.model, latent_range(run.latent), 5), atol=1e-5)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "True"]


@pytest.mark.parametrize("variant, front", [("vanilla", 0), ("sparse", 0), ("denoising", 0), ("variational", 0),
                                             ("vanilla", 16)])
def test_a_dense_runs_numpy_decoder_is_its_torch_decoder(store, variant, front):
    """Every dense variant decodes in numpy (`run.decoder`) exactly as its torch model does, dropout layers,
    the VAE's decoder, the sigmoid output and a front included; large codes do not overflow."""
    from ae_core.analysis.metrics import decode
    from ae_core.model.numpy_decoder import ArrayDecoder

    model = {"hidden": [24, 12], "dropout": 0.2, **({"front_dim": front} if front else {})}
    run_id = train_tiny(store, "digits", variant, model=model)
    assert load_run(store, run_id).model.cfg.front_dim == front == store.get(run_id).metrics["front_dim"]
    run = load_run(store, run_id)
    assert isinstance(run.decoder, ArrayDecoder)
    Z = np.random.default_rng(0).normal(scale=3.0, size=(300, 2)).astype(np.float32)
    Z[:2] = [[1e4, -1e4], [-1e4, 1e4]]
    with np.errstate(all="raise"):
        got = decode(run.decoder, Z)
    assert got.dtype == np.float32 and got.shape == (300, 64)
    # float32 to its precision: numpy and torch sum the products in different orders (on one AMD EPYC they
    # differed by 2.5e-6 relative at |values| of 24, beyond a 1e-5 absolute tolerance)
    np.testing.assert_allclose(got, decode(run.model, Z), rtol=1e-5, atol=1e-5)


def test_a_conv_runs_decoder_is_its_torch_model(store):
    run_id = train_tiny(store, "digits", "convolutional")
    run = load_run(store, run_id)
    assert run.decoder is run.model


def test_weights_of_another_model_are_refused_at_load(store):
    run_id = train_tiny(store, "digits", "vanilla")
    from safetensors.numpy import load_file, save_file

    path = store.path(run_id, "weights.safetensors")
    weights = load_file(str(path))
    save_file({k: v for k, v in weights.items() if not k.startswith("decoder.head")}, str(path))
    with pytest.raises(InputError, match="not this model's"):
        load_run(store, run_id)


def test_a_damaged_weights_file_is_refused_at_load(store):
    run_id = train_tiny(store, "digits", "vanilla")
    store.path(run_id, "weights.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="weights file .* cannot be read"):
        load_run(store, run_id)


def test_a_time_budget_runs_progress_is_the_share_of_the_budget_used(store, monkeypatch):
    """A budget run's config says 10,000 epochs; its live panel must count against the clock instead, and its
    record of the code over training stays a few frames spread over all its epochs."""
    from ae_core.analysis.latent import evolution_frames
    from ae_core.model.callbacks import Callback
    from ae_core.model.config import budget_settings
    from ae_core.runs import execute

    monkeypatch.setattr(execute, "MAX_EVOLUTION_FRAMES", 16)

    rec = store.create(make_config("wine", "vanilla", train=budget_settings(1.5)))
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            seen.append(dict(store.get(rec.id).progress))

    assert execute_run(store, rec.id, callbacks=[Watch()]) == "done"
    assert len(seen) > 3 and all(p["epochs"] is None and p["budget_s"] == 1.5 for p in seen)
    fractions, etas = [p["fraction"] for p in seen], [p["eta"] for p in seen]
    assert fractions == sorted(fractions) and 0 < fractions[0] and fractions[-1] <= 1.0
    assert fractions[-2] > 0.5  # the last epochs come near the end of the budget, not at 0.1 % of 10,000 epochs
    assert etas == sorted(etas, reverse=True) and etas[-1] <= 1.5 * (1 - fractions[-1]) + 0.01
    run = load_run(store, rec.id)
    evo = evolution_frames(run, "latent")
    assert len(evo.frames) == len(evo.epochs) <= 16 and len(run.history) > 16
    assert evo.epochs[0] == 0 and evo.epochs[-1] == len(run.history) and evo.epochs == sorted(evo.epochs)
    assert not list(store.folder(rec.id).glob("evolution_partial*"))


def test_the_code_over_training_keeps_at_most_max_frames_evenly_spread_and_resumes_alike(monkeypatch):
    from ae_core.runs import execute
    from ae_core.runs.execute import EvolutionFrames

    monkeypatch.setattr(execute, "MAX_EVOLUTION_FRAMES", 16)

    def train(frames, epochs):
        for e in epochs:
            frames.add(e, np.full((3, 2), e, dtype=np.float32))
        return frames

    whole = train(EvolutionFrames(np.zeros((3, 4))), range(1001))
    assert 8 <= len(whole.codes) <= 16 and whole.epochs[0] == 0 and whole.epochs[-1] == 1000  # halved when full
    assert all(c[0, 0] == e for c, e in zip(whole.codes, whole.epochs))  # each frame is its epoch's code
    gaps = np.diff(whole.epochs[:-1])
    assert gaps.min() == gaps.max()  # evenly spread
    # Stopped at epoch 600 and resumed from what the checkpoint stored: the same frames at the end.
    half = train(EvolutionFrames(np.zeros((3, 4))), range(601))
    resumed = train(EvolutionFrames(half.X, half.codes, half.epochs), range(601, 1001))
    assert resumed.epochs == whole.epochs

