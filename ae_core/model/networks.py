"""Autoencoder variants behind one module API.

One `Autoencoder` module is built from a `ModelConfig`: a dense or convolutional
encoder/decoder pair, optionally variational (Kingma & Welling 2014, "Auto-Encoding
Variational Bayes"), optionally with an L1 penalty on the code (sparse AE) and
input corruption while training (Vincent et al. 2008, denoising AE). Every
variant's `forward` returns the reconstruction plus named loss terms, so one
trainer runs them all. Inputs are always flat `(B, n_features)`; the conv
variant reshapes to `(B, 1, h, w)` inside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import nn

from ae_core.model.config import ModelConfig
from ae_core.model.principal import Front, PCAPath


@dataclass
class Output:
    z: torch.Tensor  # (B, latent_dim): the code (the mean for a VAE)
    losses: dict[str, torch.Tensor]  # named scalar terms; "loss" is their weighted sum
    make_recon: Callable[[], torch.Tensor]  # a model with a front computes its loss without the reconstruction

    @cached_property
    def recon(self) -> torch.Tensor:  # (B, n_features), in the data's scaled space
        return self.make_recon()


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt a batch for denoising: gaussian noise, salt-and-pepper or masking.

    Values are clipped to [0, 1] only for data in [0, 1] (the textbook setting,
    noise factor 0.5 then clip); standardised tabular data is left unclipped.
    """
    if level <= 0:
        return x
    if kind == "gaussian":
        noisy = x + level * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        if x.min() >= 0 and x.max() <= 1:
            noisy = noisy.clamp(0.0, 1.0)
        return noisy
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    if kind == "masking":
        return torch.where(u < level, torch.zeros_like(x), x)
    if kind == "salt-and-pepper":
        lo, hi = (0.0, 1.0) if x.min() >= 0 and x.max() <= 1 else (float(x.min()), float(x.max()))
        out = torch.where(u < level / 2, torch.full_like(x, lo), x)
        return torch.where((u >= level / 2) & (u < level), torch.full_like(x, hi), out)
    raise ValueError(f"unknown noise kind {kind!r}")


ACTIVATION = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


def _mlp(sizes: list[int], dropout: float, activation: str = "relu") -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(ACTIVATION[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DenseEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig, n_out: int, n_in: int):
        super().__init__()
        self.body = _mlp([n_in, *cfg.hidden], cfg.dropout, cfg.activation)
        self.head = nn.Linear(cfg.hidden[-1] if cfg.hidden else n_in, n_out)
        self.hidden_widths = tuple(cfg.hidden) or (n_in,)

    def hidden_layers(self, x):  # (B, F) -> (B, sum(hidden_widths)): each hidden layer, side by side
        out = []
        for layer in self.body:
            x = layer(x)
            if not isinstance(layer, (nn.Linear, nn.Dropout)):
                out.append(x)
        return torch.cat(out, 1) if out else x

    def forward(self, x):  # (B, F) -> (B, n_out)
        return self.head(self.body(x))


class DenseDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig, n_out: int):
        super().__init__()
        hidden = list(reversed(cfg.hidden))
        self.body = _mlp([cfg.latent_dim, *hidden], cfg.dropout, cfg.activation)
        self.head = nn.Linear(hidden[-1] if hidden else cfg.latent_dim, n_out)

    def forward(self, z):  # (B, D) -> (B, F) logits / linear values
        return self.head(self.body(z))


class ConvEncoder(nn.Module):
    """Stride-2 3x3 convolutions, then a linear layer to the code."""

    def __init__(self, cfg: ModelConfig, n_out: int):
        super().__init__()
        h, w = cfg.image_shape[:2]
        chans = [cfg.channels, *cfg.conv_channels]
        self.convs = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1) for i in range(len(chans) - 1))
        self.shapes = [(h, w)]  # spatial size before each conv; the decoder retraces them
        for _ in self.convs:
            h, w = (h + 1) // 2, (w + 1) // 2
            self.shapes.append((h, w))
        self.flat = chans[-1] * h * w
        self.head = nn.Linear(self.flat, n_out)
        self.act = ACTIVATION[cfg.activation]()
        self.hidden_widths = (self.flat,)  # the last feature map only: the earlier maps are thousands of values a row

    def hidden_layers(self, x):  # (B, C, H, W) -> (B, flat): the last feature map, flat
        for conv in self.convs:
            x = self.act(conv(x))
        return x.flatten(1)

    def forward(self, x):  # (B, C, H, W) -> (B, n_out)
        return self.head(self.hidden_layers(x))


class ConvDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig, shapes: list[tuple[int, int]]):
        super().__init__()
        chans = [cfg.channels, *cfg.conv_channels]
        self.shapes = shapes
        self.top = chans[-1]
        self.fc = nn.Linear(cfg.latent_dim, chans[-1] * shapes[-1][0] * shapes[-1][1])
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(chans[i + 1], chans[i], 3, stride=2, padding=1) for i in reversed(range(len(chans) - 1))
        )
        self.act = ACTIVATION[cfg.activation]()

    def forward(self, z):  # (B, D) -> (B, C, H, W) logits
        h, w = self.shapes[-1]
        x = self.act(self.fc(z)).view(-1, self.top, h, w)
        for i, deconv in enumerate(self.deconvs):
            # output_size resolves the odd/even ambiguity of stride-2 transposed convs.
            x = deconv(x, output_size=self.shapes[-2 - i])
            if i < len(self.deconvs) - 1:
                x = self.act(x)
        return x


class Autoencoder(nn.Module):
    """Encoder, decoder and the loss terms of every variant.

    `encode` gives the code (the mean for a VAE), `decode` maps codes back to the
    data space (after the output activation), `forward` returns an `Output`.
    """

    def __init__(self, cfg: ModelConfig, seed: int | None = None):
        super().__init__()
        self.cfg = cfg.validate()
        n_out = 2 * cfg.latent_dim if cfg.variational else cfg.latent_dim
        # A seed makes the initial weights reproducible without touching the global RNG.
        with torch.random.fork_rng(enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            if cfg.arch == "conv":
                self.encoder = ConvEncoder(cfg, n_out)
                self.decoder = ConvDecoder(cfg, self.encoder.shapes)
            else:
                n_in = cfg.front_dim or cfg.n_features  # the networks' side of the front, if any
                self.encoder = DenseEncoder(cfg, n_out, n_in)
                self.decoder = DenseDecoder(cfg, n_in)
        self.front = Front(cfg.n_features, cfg.front_dim) if cfg.front_dim else None
        self.pca = PCAPath(cfg.front_dim or cfg.n_features, cfg.latent_dim) if cfg.pca_init else None
        if self.pca is not None:
            # The networks learn corrections to PCA's code and reconstruction; zero at the start.
            for layer in (self.encoder.head, self._output_layer()):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.noise_generator: torch.Generator | None = None  # set by the trainer for determinism

    def _output_layer(self) -> nn.Module:
        return self.decoder.deconvs[-1] if self.cfg.arch == "conv" else self.decoder.head

    def _inner(self, x):  # (B, F) -> what the networks see: (B, k) behind a front, else x
        return x if self.front is None else self.front_coordinates(x)[:, :-1]

    def front_coordinates(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, k + 1) behind a front: the rows' k coordinates and the squared distance they leave out.
        Float32 whatever the autocast: they are the loss's target. The trainer computes them once per run."""
        with torch.autocast(x.device.type, enabled=False):
            return self.front.coordinates(x.float())

    def _encode_raw(self, x):  # (B, F) -> (B, n_out)
        return self._encode_inner(self._inner(x))

    def _encode_inner(self, c):  # (B, F or k) -> (B, n_out)
        out = self.encoder(self._image(c))
        if self.pca is None:
            return out
        d = self.cfg.latent_dim  # the PCA code adds to the code (the mean for a VAE), not to a VAE's logvar
        return torch.cat([out[:, :d] + self.pca.encode(c), out[:, d:]], dim=1)

    def _decode_inner(self, z):  # (B, D) -> (B, F or k) before the output activation (and before the front)
        out = self.decoder(z)
        out = (out.permute(0, 2, 3, 1) if self.cfg.arch == "conv" else out).flatten(1)
        return out if self.pca is None else out + self.pca.decode(z)

    def _decode_raw(self, z):  # (B, D) -> (B, F) before the output activation
        out = self._decode_inner(z)
        return out if self.front is None else self.front.back(out.float())

    def _activate(self, raw):
        return torch.sigmoid(raw) if self.cfg.output == "sigmoid" else raw

    def _image(self, x):  # (B, F) -> the encoder's input: (B, C, H, W) for conv (rows store pixels channel-last)
        if self.cfg.arch != "conv":
            return x
        h, w = self.cfg.image_shape[:2]
        return x.view(-1, h, w, self.cfg.channels).permute(0, 3, 1, 2)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's hidden layers side by side (B, sum(hidden_widths)): richer views of a row than its code,
        used by the anomaly score's nearest-neighbour terms (ae_core.analysis.anomaly_scores)."""
        return self.encoder.hidden_layers(self._image(self._inner(x)))

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return self.encoder.hidden_widths

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self._encode_raw(x)
        return h[:, : self.cfg.latent_dim]  # the mean for a VAE

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x); logvar is zero for a deterministic AE."""
        return self._split(self._encode_raw(x))

    def _split(self, h):  # (B, n_out) -> (mu, logvar)
        d = self.cfg.latent_dim
        if not self.cfg.variational:
            return h, torch.zeros_like(h)
        return h[:, :d], h[:, d:].clamp(-12.0, 12.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._activate(self._decode_raw(z))

    @torch.no_grad()
    def front_coordinates_of(self, X: torch.Tensor) -> torch.Tensor:
        """`front_coordinates` of many rows (N, F) -> (N, k + 1), a chunk at a time on the model's device; the
        result stays where X is (a training set too big for the GPU stays in host memory)."""
        dev = self.front.basis.device
        return torch.cat([self.front_coordinates(X[i : i + 8192].to(dev)).to(X.device) for i in range(0, len(X), 8192)])

    @torch.no_grad()
    def fit_front(self, X: torch.Tensor) -> None:
        """Fit the front, if the model has one, to the training rows (N, F). It is part of the architecture, not
        of the initialisation: the trainer fits it for every fresh run, `TrainConfig(data_init=False)` too."""
        if self.front is not None:
            self.front.fit(X.reshape(len(X), -1).float())

    @torch.no_grad()
    def init_from_data(self, X: torch.Tensor) -> None:
        """Start from the training rows' mean, before the first step (the Trainer calls this).

        The decoder's output bias is set so that the untrained model already outputs the mean input
        (through the sigmoid for data in [0, 1]), and the encoder's first layer is shifted so that it
        sees inputs centred on that mean (LeCun et al. 1998, "Efficient BackProp": centred inputs
        condition the first layer). A convolution has one bias per channel, so the conv variant uses
        the mean over all pixels. The function the network computes at initialisation is otherwise
        unchanged. Measured in benchmarks/FINDINGS.md ("What was fixed").

        With the PCA path (`cfg.pca_init`) the path is fitted here instead, so the untrained model is
        PCA at this code size (benchmarks/FINDINGS.md, "Model quality"); a front (`cfg.front_dim`) is
        fitted first, and the rest sees its coordinates.
        """
        X = X.reshape(len(X), -1).float()  # (N, F)
        if self.front is not None:  # the networks and the PCA path live in the front's coordinates
            self.fit_front(X)
            X = self.front_coordinates_of(X)[:, :-1]  # (N, k)
        mean = X.mean(0).to(next(self.parameters()).device)  # (F,) or (k,); X may be in host memory
        if self.cfg.arch == "conv":
            mean = mean.view(-1, self.cfg.channels).mean(0)  # (C_in,): one value per colour channel
            first, out = self.encoder.convs[0], self.decoder.deconvs[-1]
            shift = first.weight.sum(dim=(2, 3)) @ mean  # (C,): W applied to a constant image
        else:
            first = self.encoder.body[0] if len(self.encoder.body) else self.encoder.head
            out = self.decoder.head
            shift = first.weight @ mean  # (H,)
        first.bias.sub_(shift)
        if self.pca is not None:  # the PCA path carries the mean; its output layer stays at zero
            self.pca.fit(X)
            return
        target = torch.logit(mean.clamp(1e-3, 1 - 1e-3)) if self.cfg.output == "sigmoid" else mean
        out.bias.copy_(target)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode codes drawn from the prior N(0, I): generation (VAE)."""
        z = torch.randn(n, self.cfg.latent_dim, generator=generator)
        return self.decode(z)

    def forward(self, x: torch.Tensor, coords: torch.Tensor | None = None) -> Output:
        """`coords`: behind a front, `front_coordinates(x)` computed beforehand (the trainer's, once per run)."""
        cfg = self.cfg
        x_in = corrupt(x, cfg.noise, cfg.noise_level, self.noise_generator) if self.training else x
        if self.front is not None and coords is None:
            coords = self.front_coordinates(x)
        c = x if self.front is None else coords[:, :-1]  # (B, F), or (B, k) behind a front
        mu, logvar = self._split(self._encode_inner(c if x_in is x else self._inner(x_in)))  # (B, D) each
        if cfg.variational and self.training:
            # Reparameterisation trick: z = mu + sigma * eps keeps z differentiable in mu, sigma.
            z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=self.noise_generator, dtype=mu.dtype, device=mu.device)
        else:
            z = mu
        out = self._decode_inner(z)  # (B, F), or (B, k) behind a front
        # Per-sample sums, batch means: the scale at which the KL term is derived.
        if self.front is not None:  # the same squared error, computed in the front's k coordinates
            rec = self.front.squared_error(coords, out.float()).mean()
            make_recon = lambda: self.front.back(out.detach().float())  # noqa: E731 (B, F), only when asked
        else:
            recon = self._activate(out)
            make_recon = lambda: recon  # noqa: E731
            if cfg.output == "sigmoid":
                rec = F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1).mean()
            else:
                rec = F.mse_loss(out, x, reduction="none").sum(1).mean()
        losses = {"reconstruction": rec}
        total = rec
        if cfg.variational:
            kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean()
            losses["kl"] = kl
            total = total + cfg.beta * kl
        if cfg.sparsity > 0:
            l1 = z.abs().sum(1).mean()
            losses["sparsity"] = l1
            total = total + cfg.sparsity * l1
        losses["loss"] = total
        return Output(z=mu, losses=losses, make_recon=make_recon)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

