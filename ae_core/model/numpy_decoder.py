"""A dense decoder run in numpy, from its saved weights: a finished run's decoder without torch."""

from __future__ import annotations

import numpy as np

from ae_core.errors import InputError
from ae_core.model.config import ModelConfig


class ArrayDecoder:
    """A dense decoder's forward pass in numpy, from its weights: Linear + activation (ReLU, SiLU or GELU)
    per hidden layer (dropout is the identity at inference), the head, plus the PCA path's linear
    reconstruction when the model has one, mapped back from a front's coordinates when it has one, then the
    output activation.
    The same function as `Autoencoder.decode` in eval mode (float32; equal within 1e-5).

    `cfg` and `decode` are what `analysis.decode` (and so `latent.decode_plane`) use."""

    def __init__(self, cfg: ModelConfig, weights: dict[str, np.ndarray]):
        if cfg.arch != "dense":
            raise ValueError(f"ArrayDecoder is for dense models, not {cfg.arch!r}")
        self.cfg = cfg
        body = sorted({int(k.split(".")[2]) for k in weights if k.startswith("decoder.body.")})
        names = [f"decoder.body.{i}" for i in body] + ["decoder.head"]
        try:
            self.layers = [(weights[f"{n}.weight"].T, weights[f"{n}.bias"]) for n in names]  # (in, out), (out,)
            self.pca = (weights["pca.mean"], weights["pca.dec"].T) if cfg.pca_init else None  # (F or k,), (D, F or k)
            self.front = (weights["front.mean"], weights["front.basis"].T) if cfg.front_dim else None  # (F,), (k, F)
        except KeyError as exc:
            raise InputError(f"the weights have no {exc.args[0]!r}: they are not this model's; retrain the run.") from None

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Scaled reconstructions (n, n_features) of codes (n, latent_dim), float32."""
        z = x = np.asarray(Z, dtype=np.float32)
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = _activate(x, self.cfg.activation)
        if self.pca is not None:
            x = x + (self.pca[0] + z @ self.pca[1])
        if self.front is not None:
            x = self.front[0] + x @ self.front[1]
        if self.cfg.output == "sigmoid":
            x = 0.5 * (np.tanh(0.5 * x) + 1)  # the logistic function, without exp's overflow warnings
        return x.astype(np.float32, copy=False)


def _activate(x: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0, out=x)
    if name == "silu":
        return x * (0.5 * (np.tanh(0.5 * x) + 1))  # x * logistic(x), without exp's overflow warnings
    if name == "gelu":  # exact GELU, as torch's default: x * Phi(x)
        from math import erf, sqrt

        return (x * 0.5 * (1 + np.vectorize(erf, otypes=[np.float32])(x / sqrt(2)))).astype(np.float32)
    raise ValueError(f"unknown activation {name!r}")
