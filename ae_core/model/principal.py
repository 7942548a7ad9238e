"""The linear parts of the dense recipe: PCA's subspace around the networks (Baldi & Hornik 1989: a linear
autoencoder's optimum is PCA).

`PCAPath` puts PCA at the code size beside the networks, so training starts at PCA's error. `Front` is a
fixed rotation into the data's top principal directions, truncated: the networks work in those
coordinates, so a wide input's first and last layers shrink, and the loss stays the exact squared error in
the data's space. The recipe puts one before rows of 2,048+ features (`config.front_dim_for`;
benchmarks/FINDINGS.md, "Sixth round", has what it buys and costs).
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def principal_axes(X: torch.Tensor, k: int, max_rows: int = 20_000) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Mean (F,) and the top-k principal directions (F, k), largest first, in float64; None for data with
    NaN or inf (training's divergence guard then reports the data's loss). Columns past the data's rank (a
    code or front wider than the data, or than its rows) are zero."""
    X = X[:: max(1, -(-len(X) // max_rows))]  # (N', F): an even subset bounds the cost on large sets
    X = X.double() if X.device.type != "mps" else X.float()  # MPS has no float64
    if not torch.isfinite(X).all():
        return None
    mean = X.mean(0)
    Xc = X - mean
    r = min(k, X.shape[1], len(X))
    if X.shape[1] <= 4096:  # exact: eigenvectors of the (F, F) covariance, largest first
        V = torch.linalg.eigh(Xc.T @ Xc)[1][:, -r:].flip(1)  # (F, r)
    else:  # randomized SVD (Halko et al. 2011), as scikit-learn's PCA for large inputs
        V = torch.svd_lowrank(Xc, q=min(r + 10, *Xc.shape), niter=4)[2][:, :r]
    return mean, torch.cat([V, V.new_zeros(X.shape[1], k - r)], dim=1)  # (F, k)


class PCAPath(nn.Module):
    """The linear autoencoder at its optimum, PCA: code = (x - mean) @ enc, recon = mean + code @ dec.T.

    `fit` sets enc = dec = the top principal directions of the training rows; all three stay trainable.
    A code wider than the data's rank gets zero columns (sparse and denoising codes may be overcomplete).
    """

    def __init__(self, n_features: int, latent_dim: int):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(n_features))
        self.enc = nn.Parameter(torch.zeros(n_features, latent_dim))
        self.dec = nn.Parameter(torch.zeros(n_features, latent_dim))

    def encode(self, x):  # (B, F) -> (B, D)
        return (x - self.mean) @ self.enc

    def decode(self, z):  # (B, D) -> (B, F)
        return self.mean + z @ self.dec.T

    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> None:
        if (axes := principal_axes(X, self.enc.shape[1])) is not None:
            self.mean.copy_(axes[0])
            self.enc.copy_(axes[1])
            self.dec.copy_(axes[1])


class Front(nn.Module):
    """A fixed orthonormal map from the data's F features to its top-k principal coordinates, and back.

    With orthonormal columns, |x - x_hat|^2 = |c - c_hat|^2 + |x - mean|^2 - |c|^2 for c = (x - mean) @ basis
    and x_hat = mean + c_hat @ basis.T: `squared_error` is the data-space loss computed in k dimensions, from a
    row's `coordinates` (c and what it leaves out), which a trainer can compute once per run.
    Buffers, not parameters: the optimizer never moves them, and they are saved with the weights.
    """

    def __init__(self, n_features: int, k: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("basis", torch.zeros(n_features, k))

    def back(self, c):  # (B, k) -> (B, F)
        return self.mean + c @ self.basis.T

    def coordinates(self, x):  # (B, F) -> (B, k + 1): c, then |x - mean|^2 - |c|^2 (what c leaves out)
        centred = x - self.mean
        c = centred @ self.basis
        outside = (centred.pow(2).sum(1) - c.pow(2).sum(1)).clamp_min(0)
        return torch.cat([c, outside[:, None]], dim=1)

    @staticmethod
    def squared_error(coords, c_hat):  # (B, k + 1), (B, k) -> (B,): |x - back(c_hat)|^2 per row
        return (c_hat - coords[:, :-1]).pow(2).sum(1) + coords[:, -1]

    @torch.no_grad()
    def fit(self, X: torch.Tensor) -> None:
        if (axes := principal_axes(X, self.basis.shape[1])) is not None:
            self.mean.copy_(axes[0])
            # Entries below float32's resolution of a unit vector are rounding noise (pixels that never vary).
            self.basis.copy_(axes[1].masked_fill(axes[1].abs() < 1e-7, 0.0))
