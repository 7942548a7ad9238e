"""Training on a GPU against the CPU of the same machine (issue 23).

With a CUDA device, in one process:

- throughput: samples/s of training epochs of our `Trainer` on Fashion-MNIST (70,000 images, 28x28) for the
  dense default (784 -> 256 -> 128 -> 2, batch 256) and the convolutional preset (batch 256), on the GPU
  against the CPU (all its cores), interleaved (CPU, GPU, CPU, GPU, ...). The CPU side trains on a subset
  (its epochs take long); samples/s does not depend on the subset's size.
- quality in a budget: a whole run (the app's pipeline, `execute_run`, the time-budget recipe of
  `model.config.budget_settings`) of 60 s on each device; test reconstruction MSE, lower is better.

Without a CUDA device it says so and exits 0 (`--device cpu` runs the same code with the CPU on both sides,
to check the script itself).
"""

from __future__ import annotations

import os
import tempfile
import time

from common import finish, median, parse_args, row

TARGET_SPEEDUP = 5.0  # a GPU should train a batch-256 autoencoder at least this much faster than a CPU
PRESETS = {"dense": "vanilla", "conv": "convolutional"}


def _data(quick: bool):
    """Fashion-MNIST scaled to [0, 1] as float32 tensors, or random images of its shape when absent."""
    import numpy as np
    import torch

    from ae_core.data.registry import load_dataset
    from ae_core.errors import InputError

    try:
        ds = load_dataset("fashion-mnist")
        X, real = np.asarray(ds.X, np.float32), True
        X = X / max(float(X.max()), 1.0)
    except InputError:
        X, real = np.random.default_rng(0).random((70_000, 784), dtype=np.float32), False
    if quick:
        X = X[:10_000]
    return torch.from_numpy(np.ascontiguousarray(X)), real


def _epoch_seconds(kind: str, X, device, epochs: int) -> float:
    """Median seconds of one training epoch over X (after a first, warm-up epoch)."""
    import torch

    from ae_core.model.callbacks import Callback
    from ae_core.model.config import TrainConfig, model_config_for
    from ae_core.model.networks import Autoencoder
    from ae_core.model.training import Trainer

    mcfg = model_config_for(PRESETS[kind], n_features=784, image_shape=(28, 28), hidden=(256, 128), latent_dim=2)
    tcfg = TrainConfig(epochs=epochs + 1, batch_size=256, lr=1e-3, patience=1000)
    times: list[float] = []

    class Clock(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if device.type == "cuda":
                torch.cuda.synchronize()
            if epoch > 1:
                times.append(logs["seconds"])

    Trainer(Autoencoder(mcfg, seed=0), tcfg, [Clock()], device=device).fit(X, X[:256])
    return median(times)


def _budget_run(kind: str, device: str, seconds: float, root: str) -> dict:
    from ae_core.data.registry import load_dataset
    from ae_core.model.config import budget_settings
    from ae_core.runs.execute import execute_run
    from ae_core.runs.spec import make_config
    from ae_core.runs.store import RunStore

    store = RunStore(root)
    ds = load_dataset("fashion-mnist")
    rec = store.create(make_config("fashion-mnist", PRESETS[kind], train=budget_settings(seconds), ds=ds,
                                   model={"latent_dim": 30 if kind == "dense" else 2}, device=device))
    status = execute_run(store, rec.id)
    done = store.get(rec.id)
    assert status == "done", done.error
    return done.metrics


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--device", default="cuda",
                                                        help="the accelerator to measure (cuda; cpu checks the script)"))
    import torch

    from ae_core.errors import InputError
    from ae_core.model.device import describe_device, resolve_device

    try:
        gpu = resolve_device(args.device)
    except InputError:
        print(f"no GPU: PyTorch {torch.__version__} sees no CUDA device here, so there is nothing to measure.")
        finish(args, "gpu", "GPU training", [], notes=["no GPU on this machine: nothing measured"])
        return
    cpu = torch.device("cpu")
    name = describe_device(gpu)
    X, real = _data(args.quick)
    n_cpu = 5_000 if args.quick else 20_000
    rows, extra = [], {"device": name, "cpu_threads": torch.get_num_threads(), "real_data": real}
    for kind in PRESETS:
        cpu_s, gpu_s = [], []
        for _ in range(1 if args.quick else 2):  # interleaved: CPU, GPU, CPU, GPU
            cpu_s.append(_epoch_seconds(kind, X[:n_cpu], cpu, epochs=2) / n_cpu)
            gpu_s.append(_epoch_seconds(kind, X, gpu, epochs=2 if args.quick else 3) / len(X))
        cpu_rate, gpu_rate = 1 / median(cpu_s), 1 / median(gpu_s)
        extra[f"{kind}_samples_per_s"] = {"cpu": cpu_rate, "gpu": gpu_rate}
        rows.append(row(f"{kind}: training samples/s on {name}", gpu_rate, "samples/s", baseline=cpu_rate,
                        baseline_name=f"CPU, {torch.get_num_threads()} threads", target=f">= {TARGET_SPEEDUP:g}x",
                        passed=gpu_rate / cpu_rate >= TARGET_SPEEDUP,
                        note="batch 256; " + ("Fashion-MNIST" if real else "random images of its shape")))
    if real:
        budget = 10.0 if args.quick else 60.0
        with tempfile.TemporaryDirectory(prefix="aebench-gpu-") as tmp:
            for kind in PRESETS:
                on_cpu = _budget_run(kind, "cpu", budget, os.path.join(tmp, f"{kind}-cpu"))
                on_gpu = _budget_run(kind, str(gpu), budget, os.path.join(tmp, f"{kind}-gpu"))
                extra[f"{kind}_budget"] = {"cpu": on_cpu, "gpu": on_gpu}
                rows.append(row(f"{kind}: test MSE after a {budget:g} s run on {name}", on_gpu["test_mse"], "",
                                baseline=on_cpu["test_mse"], baseline_name="CPU, same budget", target="<= 1x",
                                passed=on_gpu["test_mse"] <= on_cpu["test_mse"],
                                note=f"{on_gpu['epochs_run']} epochs against {on_cpu['epochs_run']}; "
                                     f"{'30' if kind == 'dense' else '2'}-d code"))
    notes = [f"GPU: {name}; CPU: {torch.get_num_threads()} torch threads.",
             "Data moved to the GPU once per run; bf16 autocast where the GPU has bf16; cudnn.benchmark on."]
    finish(args, "gpu", "GPU training", rows, notes=notes, extra=extra)


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
