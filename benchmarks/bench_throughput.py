"""Training throughput (issue 5.3).

Samples/s of one training epoch of our `Trainer` against, interleaved in the
same process:

- a plain PyTorch loop: DataLoader(TensorDataset, shuffle=True) with the same
  model, batch size, optimizer (AdamW, same lr) and loss;
- the ceiling: the model's matmuls alone (dense) or its conv ops alone (conv),
  forward + backward, on the same shapes.

Threads: the app's worker setting (cpu_count - 1), plus one row per model at
torch's default thread count (what the CLI uses today).

Configurations: the dense default for Fashion-MNIST (784 → 256 → 128 → 2,
batch 256), the dense default for digits (64 → 64 → 32 → 2, batch 128) and the
convolutional preset on 28x28 images (batch 256). Data are random values in
[0, 1] of the real shapes: throughput does not depend on them. The Trainer's
epoch includes its per-epoch validation pass; the validation set is kept tiny
(one batch) so the comparison is about the training loop.
"""

from __future__ import annotations

import time

from common import finish, interleaved, median, parse_args, row

TARGET_PLAIN, TARGET_CEIL = 1.0, 0.60


def setup(kind: str, n: int):
    import torch

    from ae_core.model.config import TrainConfig, model_config_for
    from ae_core.model.networks import Autoencoder

    if kind == "dense-784":
        mcfg = model_config_for("vanilla", n_features=784, image_shape=(28, 28), hidden=(256, 128), latent_dim=2)
        bs = 256
    elif kind == "dense-64":
        mcfg = model_config_for("vanilla", n_features=64, image_shape=(8, 8), hidden=(64, 32), latent_dim=2)
        bs = 128
    else:
        mcfg = model_config_for("convolutional", n_features=784, image_shape=(28, 28), hidden=(256, 128), latent_dim=2)
        bs = 256
    g = torch.Generator().manual_seed(0)
    X = torch.rand(n, mcfg.n_features, generator=g)
    X_val = torch.rand(bs, mcfg.n_features, generator=g)
    tcfg = TrainConfig(epochs=1, batch_size=bs, lr=1e-3, patience=100)
    return mcfg, tcfg, X, X_val, Autoencoder


def ours_fn(mcfg, tcfg, X, X_val, Autoencoder):
    from ae_core.model.training import Trainer

    def run():
        model = Autoencoder(mcfg, seed=0)
        Trainer(model, tcfg).fit(X, X_val)

    return run


def plain_fn(mcfg, tcfg, X, X_val, Autoencoder):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    def run():
        model = Autoencoder(mcfg, seed=0).train()
        opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr)
        for (xb,) in DataLoader(TensorDataset(X), batch_size=tcfg.batch_size, shuffle=True):
            loss = model(xb).losses["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run


def dense_ceiling_fn(mcfg, tcfg, X, *_):
    """Forward (B,in)@(in,out), and backward's two matmuls (dX = dY @ W, dW = dY^T @ X), per layer."""
    import torch

    sizes = [mcfg.n_features, *mcfg.hidden, mcfg.latent_dim, *reversed(mcfg.hidden), mcfg.n_features]
    bs, n = tcfg.batch_size, len(X)
    n_batches = -(-n // bs)
    mats = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mats.append((torch.rand(bs, a), torch.rand(a, b), torch.rand(bs, b)))

    def run():
        for _ in range(n_batches):
            for x, w, dy in mats:
                torch.mm(x, w)  # forward
                torch.mm(dy, w.t())  # grad of the input
                torch.mm(x.t(), dy)  # grad of the weight

    def forward_only():
        for _ in range(n_batches):
            for x, w, _dy in mats:
                torch.mm(x, w)

    return run, forward_only


def conv_ceiling_fn(mcfg, tcfg, X, _Xv, Autoencoder):
    """The model's conv2d / conv_transpose2d ops alone (functional), forward + backward, same shapes."""
    import torch
    import torch.nn.functional as F

    model = Autoencoder(mcfg, seed=0)
    enc, dec = model.encoder, model.decoder
    bs, n = tcfg.batch_size, len(X)
    n_batches = -(-n // bs)
    h, w = mcfg.image_shape
    x0 = torch.rand(bs, 1, h, w)
    # Record the input shape of every conv and deconv.
    shapes, x = [], x0
    with torch.no_grad():
        for conv in enc.convs:
            shapes.append(("conv", conv, x.shape, None))
            x = conv(x)
        hh, ww = dec.shapes[-1]
        x = torch.rand(bs, dec.top, hh, ww)
        for i, deconv in enumerate(dec.deconvs):
            out_size = dec.shapes[-2 - i]
            y = deconv(x, output_size=out_size)
            pad = deconv._output_padding(x, list(out_size), deconv.stride, deconv.padding, deconv.kernel_size, 2,
                                         deconv.dilation)
            shapes.append(("deconv", deconv, x.shape, tuple(pad)))
            x = y
    ops = []
    for kind, mod, shape, pad in shapes:
        inp = torch.rand(shape, requires_grad=True)
        wt = mod.weight.detach().clone().requires_grad_(True)
        b = mod.bias.detach().clone().requires_grad_(True)
        ops.append((kind, mod, inp, wt, b, pad))

    def run():
        for _ in range(n_batches):
            for kind, mod, inp, wt, b, pad in ops:
                if kind == "conv":
                    y = F.conv2d(inp, wt, b, stride=mod.stride, padding=mod.padding)
                else:
                    y = F.conv_transpose2d(inp, wt, b, stride=mod.stride, padding=mod.padding, output_padding=pad)
                torch.autograd.grad(y, (inp, wt, b), torch.ones_like(y))

    return run, None


def default_threads(fn, n: int):
    """`fn` with torch's default intra-op thread count (what the CLI and the estimator use today)."""
    import torch

    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            fn()
        finally:
            torch.set_num_threads(before)

    return run


def main():
    args = parse_args(__doc__)
    started = time.perf_counter()
    import os

    import torch

    default_n = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # as the app's training worker
    repeats = 3 if args.quick else 5
    n = {"dense-784": 3_000 if args.quick else 20_000, "dense-64": 1_260 * (1 if args.quick else 8),
         "conv": 1_500 if args.quick else 8_000}
    rows, extra = [], {}
    for kind in ("dense-784", "dense-64", "conv"):
        parts = setup(kind, n[kind])
        tcfg, X = parts[1], parts[2]
        ceil_run, fwd_only = (conv_ceiling_fn if kind == "conv" else dense_ceiling_fn)(*parts)
        fns = {"ours": ours_fn(*parts), "plain": plain_fn(*parts), "ceiling": ceil_run,
               "ours_default_threads": default_threads(ours_fn(*parts), default_n)}
        if fwd_only is not None:
            fns["fwd_x3"] = fwd_only
        times = interleaved(fns, repeats=repeats, warmup=1)
        sps = {k: len(X) / median(v) for k, v in times.items()}
        if "fwd_x3" in sps:
            sps["fwd_x3"] /= 3.0  # the estimate: forward + backward ≈ 3x the forward matmuls
        extra[kind] = {"n": len(X), "batch": tcfg.batch_size, "samples_per_s": sps, "times": times}
        label = {"dense-784": "dense 784-256-128-2, batch 256", "dense-64": "dense 64-64-32-2, batch 128",
                 "conv": "conv (16, 32) 28x28, batch 256"}[kind]
        r_plain = sps["ours"] / sps["plain"]
        r_ceil = sps["ours"] / sps["ceiling"]
        rows.append(row(f"{label}: ours vs plain DataLoader loop", sps["ours"], "samples/s", baseline=sps["plain"],
                        baseline_name="plain DataLoader loop", ratio=r_plain, target=f"≥ {TARGET_PLAIN:.1f}x",
                        passed=r_plain >= TARGET_PLAIN))
        ceil_name = "conv ops alone, fwd+bwd" if kind == "conv" else "matmuls alone, fwd+bwd"
        note = f"3x-forward estimate of the ceiling: {sps['fwd_x3']:,.0f} samples/s" if "fwd_x3" in sps else \
            "ceiling excludes the two small linear layers (code ↔ flat features)"
        rows.append(row(f"{label}: ours vs ceiling", sps["ours"], "samples/s", baseline=sps["ceiling"],
                        baseline_name=ceil_name, ratio=r_ceil, target=f"≥ {TARGET_CEIL:.0%}", passed=r_ceil >= TARGET_CEIL,
                        note=note))
        r1 = sps["ours_default_threads"] / sps["ours"]
        rows.append(row(f"{label}: ours at torch's default {default_n} threads vs the worker's {torch.get_num_threads()}",
                        sps["ours_default_threads"], "samples/s", baseline=sps["ours"],
                        baseline_name=f"ours, {torch.get_num_threads()} thread(s)", ratio=r1,
                        note="not a target: < 1x means the default thread count oversubscribes this machine"))
    notes = [f"All comparisons at {torch.get_num_threads()} torch thread(s), as the app's training worker "
             f"(cpu_count - 1); torch's default here is {default_n}, used by the CLI and the estimator."]
    return finish(args, "throughput", "3. Training throughput", rows, notes, extra=extra, started=started)


if __name__ == "__main__":
    main()
