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
