"""The training loop: one trainer for every variant.

Adam(W), an initialisation from the training rows' mean, ReduceLROnPlateau on
the validation loss, early stopping with the best weights restored, a guard
that stops on a non-finite loss with a reason a person can act on, and
cancellation between batches. The trainer knows nothing about any variant: it
minimises `model(x).losses["loss"]`. Logging, progress, checkpoints and
cancellation live in callbacks (the minGPT trainer's pattern).

Data are preloaded tensors; each epoch shuffles an index and slices batches, a
per-sample DataLoader being many times slower on CPU for in-memory data.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import torch

from ae_core.errors import InputError
from ae_core.model.config import TrainConfig
from ae_core.model.device import native_bf16

CPU_BF16_MIN_PARAMETERS = 200_000
SHIFT_FRACTION = 0.2  # of each batch, with TrainConfig.shift: a fifth measured better than half (FINDINGS)


class TrainingDiverged(InputError):
    """The loss became NaN or infinite: the user's settings made training unstable."""


class TrainingCancelled(Exception):
    """A callback asked the trainer to stop (the user pressed Cancel)."""


def _to_device(X: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """X on `dev` once, for the whole run, when it fits in a quarter of the GPU's free memory; else X
    stays in (pinned) host memory and each batch is copied (the model, activations and optimizer need the rest)."""
    if dev.type == "cpu" or X.device == dev:
        return X
    if dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        if X.numel() * X.element_size() > free / 4:
            return X.pin_memory()
    return X.to(dev)


def cosine_lr(lr: float, frac: float, warmup: float = 0.0) -> float:
    """The learning rate `frac` (0..1) of the way through a run: a linear warm-up over the first `warmup`
    fraction (Goyal et al. 2017: Adam's first steps on a fresh model are the unstable ones), then a cosine
    from `lr` down to lr/100 (Loshchilov & Hutter 2017, SGDR)."""
    frac = min(max(frac, 0.0), 1.0)
    if frac < warmup:
        return lr * max(frac / warmup, 0.01)
    rest = (frac - warmup) / (1.0 - warmup)
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * rest)))


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0
    stop_reason: str = ""
    seconds: float = 0.0


@dataclass
class TrainState:
    """The loop's state as plain data: what each epoch updates and what a checkpoint saves besides tensors."""

    epoch: int = 0  # the last finished epoch
    history: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    bad_epochs: int = 0  # epochs since the validation loss last improved
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None  # the best weights so far, restored at the end
    start: float = field(default_factory=time.perf_counter)

    def record(self, epoch: int, val_loss: float, model) -> None:
        """One finished epoch: keep the weights if the validation loss improved, else count a bad epoch."""
        self.epoch = epoch
        if not math.isfinite(self.best_val) or val_loss < self.best_val - 1e-6 * abs(self.best_val):
            self.best_val, self.bad_epochs, self.best_epoch = val_loss, 0, epoch
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1


def evaluate(model, X: torch.Tensor, batch_size: int = 4096) -> dict[str, float]:
    """Mean loss terms and per-element MSE over X, in eval mode (no noise, VAE mean)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    sq_err = 0.0
    with torch.inference_mode():
        for i in range(0, len(X), batch_size):
            xb = X[i : i + batch_size]
            out = model(xb)
            for k, v in out.losses.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(xb)
            sq_err += float((out.recon - xb).pow(2).sum())
    model.train(was_training)
    n = max(len(X), 1)
    logs = {k: v / n for k, v in sums.items()}
    logs["mse"] = sq_err / (n * X.shape[1])
    return logs


class Trainer:
    """Fit an autoencoder module on preloaded (n, n_features) float32 tensors.

    Parameters
    ----------
    model : ae_core.model.networks.Autoencoder
    config : TrainConfig
    callbacks : sequence of Callback
    progress_every : int
        Call `on_batch_end` every this many batches (and on the last one).
    device : str or torch.device
        Where to train (`ae_core.model.device.resolve_device` picks one); the model stays there after `fit`.
    """

    def __init__(self, model, config: TrainConfig, callbacks=(), progress_every: int = 5, device="cpu"):
        self.model = model
        self.config = config.validate()
        self.callbacks = list(callbacks)
        self.progress_every = progress_every
        self.device = torch.device(device)
        self.optimizer: torch.optim.Optimizer | None = None

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"] if self.optimizer else self.config.lr

    def _stop_requested(self) -> bool:
        return any(cb.should_stop(self) for cb in self.callbacks)

    def checkpoint(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything needed to resume after the last finished epoch.

        Returns (tensors, meta): tensors for safetensors (model, best weights,
        optimizer moments, RNG state), meta JSON-able (epoch, history, early
        stopping and scheduler state). Called from `on_epoch_end` callbacks.
        """
        s = self.state
        tensors = {f"model.{k}": v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        if s.best_state is not None:
            tensors.update({f"best.{k}": v.cpu() for k, v in s.best_state.items()})
        opt = self.optimizer.state_dict()
        for idx, st in opt["state"].items():
            for key, value in st.items():
                tensors[f"opt.{idx}.{key}"] = torch.as_tensor(value).detach().cpu().clone()
        tensors["rng"] = self._gen.get_state()
        meta = {
            "epoch": s.epoch, "history": s.history, "best_val": s.best_val, "bad_epochs": s.bad_epochs,
            "best_epoch": s.best_epoch, "elapsed": time.perf_counter() - s.start,
            "param_groups": opt["param_groups"], "scheduler": self._scheduler.state_dict(),
        }
        return tensors, meta

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        best = {k[5:]: v.to(self.device) for k, v in tensors.items() if k.startswith("best.")}
        opt_state: dict[int, dict] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, key = k.split(".", 2)
                opt_state.setdefault(int(idx), {})[key] = v
        self.optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
        self._scheduler.load_state_dict(meta["scheduler"])
        try:
            self._gen.set_state(tensors["rng"])
        except RuntimeError:  # a checkpoint from another kind of device: its generator state does not fit ours
            self._gen.manual_seed(self.config.seed + meta["epoch"])
        self.state = TrainState(epoch=meta["epoch"], history=list(meta["history"]), best_val=meta["best_val"],
                                bad_epochs=meta["bad_epochs"], best_epoch=meta["best_epoch"], best_state=best or None,
                                start=time.perf_counter() - meta.get("elapsed", 0.0))

    def _anneal(self, epochs_done: float) -> None:
        """Cosine from lr to lr/100 over the run: by wall-clock time under a budget
        (the whole budget is used, ending at a small LR), else by epochs."""
        cfg = self.config
        if cfg.max_seconds is not None:
            frac = (time.perf_counter() - self.state.start) / cfg.max_seconds
        else:
            frac = epochs_done / cfg.epochs
        lr = cosine_lr(cfg.lr, frac, cfg.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def fit(self, X_train: torch.Tensor, X_val: torch.Tensor, resume: tuple[dict, dict] | None = None) -> TrainResult:
        """Train; with `resume` (a `checkpoint()`), continue after its epoch with the same history."""
        cfg = self.config
        X_train, X_val = self._setup(X_train, X_val, resume)
        for cb in self.callbacks:
            cb.on_train_begin(self)
        stop_reason = f"reached {cfg.epochs} epochs"
        for epoch in range(self.state.epoch + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            train_loss = self._train_epoch(epoch, X_train)
            logs = self._validate(epoch, X_val, train_loss, t0)
            if reason := self._end_epoch(epoch, logs):
                stop_reason = reason
                break
        s = self.state
        if s.best_state is not None:
            self.model.load_state_dict(s.best_state)  # early stopping restores the best weights
        self.model.eval()
        return TrainResult(history=s.history, best_epoch=s.best_epoch, stop_reason=stop_reason,
                           seconds=time.perf_counter() - s.start)

    def _setup(self, X_train: torch.Tensor, X_val: torch.Tensor, resume) -> tuple[torch.Tensor, torch.Tensor]:
        """Model, data, generator, optimizer and scheduler on the device; the state fresh or resumed."""
        cfg, model, dev = self.config, self.model, self.device
        torch.manual_seed(cfg.seed)
        model.to(dev)
        X_train, X_val = _to_device(X_train, dev), _to_device(X_val, dev)
        # The generator lives on the training device, so shuffles and noise are drawn there (the same seed
        # gives the same run on the same kind of device; on CPU exactly as before devices existed).
        self._gen = torch.Generator(device=dev).manual_seed(cfg.seed)
        model.noise_generator = self._gen
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN time its conv algorithms once
        # bfloat16 matmuls and convs where the device has them natively (a GPU, or a CPU with AMX/AVX-512 BF16);
        # the loss terms, the optimizer and every evaluation stay float32. On a CPU a small model's casts
        # cost more than its matmuls save (benchmarks/FINDINGS.md, "Model quality").
        big = dev.type != "cpu" or sum(p.numel() for p in model.parameters()) >= CPU_BF16_MIN_PARAMETERS
        amp = cfg.bf16 and big and native_bf16(dev)
        self._autocast = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if amp else contextlib.nullcontext
        if resume is None and cfg.data_init:  # a resumed run has its weights (and its front) already
            model.init_from_data(X_train)
        elif resume is None:
            model.fit_front(X_train)
        # Behind a front, each training row's coordinates once per run instead of once per batch: the projection
        # was a fifth of a step at 3,072 features (benchmarks/FINDINGS.md, "Seventh round").
        self._coords = model.front_coordinates_of(X_train) if model.front is not None else None
        self._mirror_index = self._mirror_setup(X_train) if cfg.mirror else None
        self._shift_index = self._shift_setup() if cfg.shift else None
        # fused: one kernel updates every parameter. The default on CPU loops over the parameters with
        # several small ops each, which dominates a small model's step (benchmarks/FINDINGS.md §3).
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                           fused=all(p.device.type in ("cpu", "cuda") for p in model.parameters()))
        self._scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience)
        self.state = TrainState()
        if resume is not None:
            self._restore(*resume)
        else:
            # The starting weights compete as epoch 0: a model initialised at a good solution (the PCA path)
            # ends no worse than it started, on the validation rows.
            self.state.record(0, evaluate(model, X_val.to(dev))["loss"], model)
        return X_train, X_val

    def _image_grid(self, what: str, setting: str) -> torch.Tensor:
        """The column numbers of a row laid out as its image, (h, w, c): rows are channel-last."""
        shape = self.model.cfg.image_shape
        if shape is None:
            raise InputError(f"{what}; this data has no image shape. Train without it ({setting}=False), or give "
                             "the images as (n, height, width) arrays.")
        return torch.arange(self.model.cfg.n_features).view(shape[0], shape[1], -1)

    def _mirror_setup(self, X_train: torch.Tensor) -> torch.Tensor:
        """The column order that mirrors a row's image left to right; behind a front, the mirrored rows'
        coordinates too (once per run, like the rows' own)."""
        index = self._image_grid("mirror augmentation flips images left to right", "mirror").flip(1).reshape(-1)
        if self._coords is not None:
            on_rows = index.to(X_train.device)
            self._coords_mirrored = torch.cat([self.model.front_coordinates_of(X_train[i : i + 8192][:, on_rows])
                                               for i in range(0, len(X_train), 8192)])
        return index.to(self.device)  # batches are mirrored where they train

    def _mirrored(self, xb: torch.Tensor, coords: torch.Tensor | None, idx: torch.Tensor):
        """A random half of the batch's rows mirrored (their coordinates too, behind a front)."""
        flip = torch.rand(len(xb), generator=self._gen, device=self.device) < 0.5
        xb = torch.where(flip[:, None], xb[:, self._mirror_index], xb)
        if coords is not None:
            mirrored = self._coords_mirrored[idx].to(coords.device, non_blocking=True)
            coords = torch.where(flip[:, None], mirrored, coords)
        return xb, coords

    def _shift_setup(self) -> torch.Tensor:
        """(8, F): the column order of each one-pixel shift of a row's image, the edge pixels repeated."""
        grid = self._image_grid("shift augmentation moves images by a pixel", "shift")
        h, w = grid.shape[:2]
        orders = [grid[(torch.arange(h) - dy).clamp(0, h - 1)][:, (torch.arange(w) - dx).clamp(0, w - 1)].reshape(-1)
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        return torch.stack(orders).to(self.device)

    def _shifted(self, xb: torch.Tensor, coords: torch.Tensor | None):
        """A random fifth of the batch's rows shifted by a pixel (behind a front, their coordinates projected)."""
        on = torch.rand(len(xb), generator=self._gen, device=self.device) < SHIFT_FRACTION
        which = torch.randint(len(self._shift_index), (len(xb),), generator=self._gen, device=self.device)
        rows = on.nonzero().squeeze(1)  # only these are gathered and projected: at 3,072 features that is the cost
        moved = torch.gather(xb[rows], 1, self._shift_index[which[rows]])
        xb = xb.index_copy(0, rows, moved)
        if coords is not None:
            coords = coords.index_copy(0, rows, self.model.front_coordinates(moved).to(coords.dtype))
        return xb, coords

    def _train_epoch(self, epoch: int, X_train: torch.Tensor) -> float:
        """One pass over the shuffled training rows; returns the mean training loss."""
        cfg, model, dev = self.config, self.model, self.device
        model.train()
        n = len(X_train)
        bs = min(cfg.batch_size, n)
        n_batches = math.ceil(n / bs)
        perm = torch.randperm(n, generator=self._gen, device=dev).to(X_train.device)
        total, seen = 0.0, 0
        for b in range(n_batches):
            idx = perm[b * bs : (b + 1) * bs]
            xb = X_train[idx].to(dev, non_blocking=True)  # (B, F)
            coords = None if self._coords is None else self._coords[idx].to(dev, non_blocking=True)  # (B, k + 1)
            if self._mirror_index is not None:
                xb, coords = self._mirrored(xb, coords, idx)
            if self._shift_index is not None:
                xb, coords = self._shifted(xb, coords)
            with self._autocast():
                loss = model(xb, coords).losses["loss"].float()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"training diverged (loss became {'NaN' if math.isnan(loss_value) else loss_value} at epoch {epoch}) "
                    f"— lower the learning rate (now {self.lr:g}) or the batch size."
                )
            if cfg.schedule == "cosine":
                self._anneal(epoch - 1 + b / n_batches)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss_value * len(xb)
            seen += len(xb)
            # A time budget ends mid-epoch: an epoch of a big set on a slow or busy machine can be long.
            out_of_time = cfg.max_seconds is not None and time.perf_counter() - self.state.start >= cfg.max_seconds
            if (b + 1) % self.progress_every == 0 or b == n_batches - 1 or out_of_time:
                for cb in self.callbacks:
                    cb.on_batch_end(self, epoch, b + 1, n_batches, loss_value)
                if self._stop_requested():
                    raise TrainingCancelled()
            if out_of_time:
                break
        return total / seen

    def _validate(self, epoch: int, X_val: torch.Tensor, train_loss: float, t0: float) -> dict:
        """The epoch's log line: training loss, validation loss terms, learning rate and time."""
        val = evaluate(self.model, X_val.to(self.device))
        if not math.isfinite(val["loss"]):
            raise TrainingDiverged(
                f"training diverged (loss became NaN at epoch {epoch}) — lower the learning rate (now {self.lr:g})."
            )
        return {"epoch": epoch, "train_loss": train_loss, "val_loss": val["loss"], "val_mse": val["mse"],
                "lr": self.lr, "seconds": time.perf_counter() - t0,
                **{f"val_{k}": v for k, v in val.items() if k not in ("loss", "mse")}}

    def _end_epoch(self, epoch: int, logs: dict) -> str:
        """Record the epoch, step the plateau schedule, call back; the reason to stop now, or ''."""
        cfg, s = self.config, self.state
        s.history.append(logs)
        s.record(epoch, logs["val_loss"], self.model)
        if cfg.schedule == "plateau":
            self._scheduler.step(logs["val_loss"])
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, logs)
        if s.bad_epochs >= cfg.patience:
            return f"early stopping: no validation improvement for {cfg.patience} epochs"
        if cfg.max_seconds is not None and time.perf_counter() - s.start >= cfg.max_seconds:
            return f"time budget of {cfg.max_seconds:g} s reached"
        return ""
