"""Every variant builds, round-trips shapes, and returns the same Output."""

import pytest
import torch

from ae_core.errors import InputError
from ae_core.model.config import PRESETS, ModelConfig, model_config_for
from ae_core.model.networks import Autoencoder, corrupt

VARIANTS = list(PRESETS)


def _model(variant, **kw):
    return Autoencoder(model_config_for(variant, n_features=64, image_shape=(8, 8), latent_dim=3, hidden=(32, 16), **kw))


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_returns_reconstruction_code_and_named_losses(variant):
    model = _model(variant)
    out = model(torch.rand(5, 64))
    assert out.recon.shape == (5, 64)
    assert out.z.shape == (5, 3)
    assert "reconstruction" in out.losses and "loss" in out.losses
    assert all(torch.isfinite(v) for v in out.losses.values())


@pytest.mark.parametrize("variant", VARIANTS)
def test_encode_decode_shapes_and_sigmoid_range(variant):
    model = _model(variant).eval()
    with torch.inference_mode():
        z = model.encode(torch.rand(4, 64))
        x_hat = model.decode(z)
    assert z.shape == (4, 3) and x_hat.shape == (4, 64)
    assert float(x_hat.min()) >= 0 and float(x_hat.max()) <= 1


def test_variational_has_kl_and_samples_from_prior():
    model = _model("variational")
    assert "kl" in model(torch.rand(8, 64)).losses
    with torch.inference_mode():
        assert model.sample(6).shape == (6, 64)


def test_sparse_adds_l1_term_and_switches_combine():
    out = _model("convolutional", variational=True, noise_level=0.2, sparsity=0.1)(torch.rand(4, 64))
    assert {"kl", "sparsity", "reconstruction", "loss"} <= set(out.losses)


def test_conv_handles_odd_image_sizes():
    model = Autoencoder(model_config_for("convolutional", n_features=35, image_shape=(5, 7), latent_dim=2))
    assert model(torch.rand(3, 35)).recon.shape == (3, 35)


def test_conv_refused_for_tabular_data():
    with pytest.raises(InputError, match="needs image data"):
        Autoencoder(model_config_for("convolutional", n_features=30, image_shape=None))


@pytest.mark.parametrize("variant", list(PRESETS))
def test_variant_problem_warns_of_exactly_what_validation_refuses(variant):
    """The Train form's warning (variant_problem) and the model's refusal name the same cases."""
    from ae_core.model.config import variant_problem

    for shape, n in ((None, 30), ((8, 8), 64)):
        problem = variant_problem(variant, shape)
        cfg = model_config_for(variant, n_features=n, image_shape=shape, latent_dim=2)
        if problem:
            with pytest.raises(InputError, match=problem[:30]):
                cfg.validate()
        else:
            cfg.validate()


def test_plain_overcomplete_code_is_refused():
    with pytest.raises(InputError, match="can just copy its input"):
        Autoencoder(model_config_for("vanilla", n_features=4, latent_dim=5))


def test_code_as_wide_as_the_input_is_allowed():
    # PCA's rule: n_components == n_features is allowed; only wider is refused.
    Autoencoder(model_config_for("vanilla", n_features=4, latent_dim=4))


def test_unknown_variant_lists_choices():
    with pytest.raises(InputError, match="choose one of: vanilla, sparse"):
        model_config_for("fancy", n_features=10)


@pytest.mark.parametrize("kind", ["gaussian", "salt-and-pepper", "masking"])
def test_corruption_changes_input_and_stays_in_unit_range(kind):
    x = torch.rand(50, 64)
    noisy = corrupt(x, kind, 0.5, torch.Generator().manual_seed(0))
    assert not torch.equal(noisy, x)
    assert float(noisy.min()) >= 0 and float(noisy.max()) <= 1


def test_noise_only_while_training():
    model = _model("denoising").eval()
    x = torch.rand(4, 64)
    assert torch.equal(model(x).recon, model(x).recon)


@pytest.mark.parametrize("variant", ["vanilla", "sparse", "denoising", "variational"])
def test_init_from_data_centres_the_first_layer_and_starts_the_output_at_the_mean(variant):
    X = torch.rand(200, 64) * torch.linspace(0.05, 0.95, 64)  # per-feature means from ~0.02 to ~0.48
    mean = X.mean(0)
    before = _model(variant, pca_init=False).eval()
    after = _model(variant, pca_init=False).eval()
    after.load_state_dict(before.state_dict())
    after.init_from_data(X)
    with torch.inference_mode():
        # The encoder sees x as the untouched one saw x - mean: same function, centred input.
        assert torch.allclose(after.encode(X[:8]), before.encode(X[:8] - mean), atol=1e-5)
    assert torch.allclose(torch.sigmoid(after.decoder.head.bias), mean.clamp(1e-3, 1 - 1e-3), atol=1e-5)


def test_init_from_data_on_conv_uses_the_mean_pixel():
    X = torch.full((10, 64), 0.3)
    before = _model("convolutional", pca_init=False).eval()
    after = _model("convolutional", pca_init=False).eval()
    after.load_state_dict(before.state_dict())
    after.init_from_data(X)
    with torch.inference_mode():
        # A constant image at the mean: interior pixels of the first conv give the old bias (zero input).
        y = after.encoder.convs[0](X[:1].view(1, 1, 8, 8))[0, :, 1:, 1:]
        assert torch.allclose(y, before.encoder.convs[0].bias.view(-1, 1, 1).expand_as(y), atol=1e-5)
    assert torch.allclose(torch.sigmoid(after.decoder.deconvs[-1].bias), torch.tensor([0.3]), atol=1e-5)


def test_init_from_data_with_linear_output_starts_at_the_mean_itself():
    cfg = model_config_for("vanilla", n_features=6, latent_dim=2, hidden=(8,), output="linear", pca_init=False)
    model = Autoencoder(cfg, seed=0)
    X = torch.randn(50, 6) + torch.arange(6.0)
    model.init_from_data(X)
    assert torch.allclose(model.decoder.head.bias, X.mean(0), atol=1e-5)


@pytest.mark.parametrize("variant", ["vanilla", "sparse", "denoising", "convolutional"])
def test_pca_path_starts_at_pca(variant):
    from sklearn.decomposition import PCA

    X = torch.rand(300, 64) * torch.linspace(0.05, 0.95, 64)
    model = _model(variant, pca_init=True).eval()  # the conv preset has it off; the path works for conv too
    model.init_from_data(X)
    pca = PCA(3).fit(X.numpy())
    expected = pca.inverse_transform(pca.transform(X[:20].numpy()))
    with torch.inference_mode():
        recon = model(X[:20]).recon
    assert torch.allclose(recon, torch.from_numpy(expected).float(), atol=1e-4)


def test_pca_path_pads_a_code_wider_than_the_data_with_zeros():
    model = Autoencoder(model_config_for("sparse", n_features=4, latent_dim=6, hidden=(8,)))
    X = torch.randn(3, 4)  # rank 2 after centring: at most 3 directions
    model.init_from_data(X)
    assert torch.equal(model.pca.enc[:, 3:], torch.zeros(4, 3))


def test_pca_path_needs_the_linear_output():
    with pytest.raises(InputError, match="output='linear' with pca_init=True"):
        ModelConfig(n_features=8, latent_dim=2, pca_init=True, output="sigmoid").validate()


def test_new_models_get_the_recipe_and_old_configs_keep_relu_without_pca():
    assert model_config_for("vanilla", n_features=8).activation == "silu"
    assert model_config_for("vanilla", n_features=8, output="sigmoid").output == "linear"  # the PCA path's
    assert model_config_for("variational", n_features=8).pca_init is False
    stored = ModelConfig(n_features=8)  # what a run stored before these fields existed loads as
    assert (stored.activation, stored.pca_init) == ("relu", False)


def _front_model(front_dim=12, variant="vanilla"):
    return Autoencoder(model_config_for(variant, n_features=40, latent_dim=3, hidden=(16,), front_dim=front_dim), seed=0)


def _low_rank(n=300, f=40, rank=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, rank, generator=g) @ torch.randn(rank, f, generator=g) + 0.01 * torch.randn(n, f, generator=g)


@pytest.mark.parametrize("variant", ["vanilla", "sparse", "denoising"])
def test_a_front_trains_on_the_data_space_squared_error(variant):
    """Behind a front the loss is computed in its k coordinates; it must be the squared error of the
    reconstruction the user gets, rows the front cannot represent included."""
    X = _low_rank()
    model = _front_model(variant=variant)
    model.init_from_data(X)
    with torch.no_grad():  # move the networks off their zero start, so the test sees their corrections too
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.cat([X[:10], torch.rand(3, 40)])  # the last rows lie far outside the front's subspace
    # The trainer passes each row's coordinates, computed once per run; a caller without them gets the same loss.
    for coords in (None, model.front_coordinates_of(x)):
        for training in (False, True):  # in training the denoising variant's input is noisy, its target clean
            out = model.train(training)(x, coords)
            expected = (out.recon - x).pow(2).sum(1).mean()
            assert torch.allclose(out.losses["reconstruction"], expected, rtol=1e-4)
            assert out.recon.shape == (13, 40) and out.z.shape == (13, 3)


def test_a_front_model_starts_at_pca_and_trains_only_the_networks():
    from sklearn.decomposition import PCA

    X = _low_rank()
    model = _front_model().eval()
    model.init_from_data(X)
    pca = PCA(3).fit(X.numpy())
    expected = pca.inverse_transform(pca.transform(X[:20].numpy()))
    with torch.inference_mode():
        assert torch.allclose(model(X[:20]).recon, torch.from_numpy(expected).float(), atol=1e-4)
    trained = {name for name, _ in model.named_parameters()}
    assert not any(name.startswith("front.") for name in trained)  # buffers: the optimizer never moves them
    assert {"front.mean", "front.basis"} <= set(model.state_dict())  # but they are saved with the weights
    assert model.encoder.body[0].in_features == 12 and model.decoder.head.out_features == 12


def test_the_recipe_puts_a_front_before_very_wide_rows_only():
    assert model_config_for("vanilla", n_features=3072, latent_dim=30).front_dim == 256
    assert model_config_for("vanilla", n_features=3072, latent_dim=64).front_dim == 512  # 8 per code unit
    assert model_config_for("vanilla", n_features=2048, latent_dim=200).front_dim == 0  # 1,600 would not halve it
    assert model_config_for("vanilla", n_features=784, latent_dim=30).front_dim == 0  # it cost the anomaly score
    assert model_config_for("vanilla", n_features=3072, latent_dim=30, front_dim=0).front_dim == 0  # asked off
    assert model_config_for("vanilla", n_features=784, latent_dim=30, front_dim=256).front_dim == 256  # asked on
    assert model_config_for("vanilla", n_features=3072, latent_dim=30, pca_init=False).front_dim == 0  # no path
    for variant in ("variational", "convolutional"):  # no PCA path, no front
        assert model_config_for(variant, n_features=3072, image_shape=(32, 32, 3), latent_dim=30).front_dim == 0
    assert ModelConfig(n_features=3072).front_dim == 0  # what a run stored before the field existed loads as


@pytest.mark.parametrize("kw, problem", [
    ({"front_dim": 2}, "from the code's"),  # narrower than the code
    ({"front_dim": 40}, "below the features'"),  # not narrower than the input
    ({"front_dim": 12, "pca_init": False}, "PCA path"),
])
def test_a_front_that_cannot_work_is_refused_with_what_to_change(kw, problem):
    with pytest.raises(InputError, match=problem):
        model_config_for("vanilla", n_features=40, latent_dim=3, **kw).validate()


def test_the_trainer_fits_a_front_without_the_data_initialisation_too():
    from ae_core.model.config import TrainConfig
    from ae_core.model.training import Trainer

    X = _low_rank()
    model = _front_model()
    Trainer(model, TrainConfig(epochs=1, batch_size=64, data_init=False)).fit(X[:240], X[240:])
    basis = model.front.basis
    assert torch.allclose(basis.T @ basis, torch.eye(12), atol=1e-4)  # fitted: orthonormal, not the zeros it starts at
