"""From a run's config to a finished run, and from a finished run back to a
model ready for inference.

`execute_run` is what the background worker and `python -m ae_core train` both
call: load the dataset, split 70/15/15, fit the scaler on train, train, compute
metrics, write the artifacts. `ae_core.runs.loaded.load_run` gives a `LoadedRun`
the pages use; loading one needs no torch.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from safetensors.torch import load_file, save

from ae_core.analysis.metrics import encode, model_errors, run_metrics
from ae_core.data.preprocessing import Scaler, Split, anomaly_truth, restrict_to_classes, split_indices
from ae_core.data.registry import Dataset
from ae_core.errors import InputError
from ae_core.model.callbacks import Callback
from ae_core.model.config import model_config_from_dict, train_config_from_dict
from ae_core.model.device import describe_device, resolve_device
from ae_core.model.networks import Autoencoder
from ae_core.model.training import Trainer, TrainingCancelled, TrainingDiverged
from ae_core.runs.every_row import encode_every_row, trained_on_a_sample, write_every_row
from ae_core.runs.spec import dataset_from_config
from ae_core.runs.store import WEIGHTS, RunStore, atomic_write_bytes

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 2.0
MAX_EVOLUTION_FRAMES = 256  # codes kept over training: a time budget on small data runs thousands of epochs


class EvolutionFrames:
    """The codes of a fixed subset of rows over training, one frame per recorded epoch, at most
    MAX_EVOLUTION_FRAMES of them. Past that, every other frame goes and the stride between recorded epochs
    doubles, so the frames stay spread over the whole run; epoch 0 (untrained) and the latest epoch are always
    kept. (One frame per epoch of digits' 30-d code for a 300 s budget, about 10,000 epochs, was 2 GB.)"""

    def __init__(self, X: np.ndarray, codes=(), epochs=()):
        self.X, self.codes, self.epochs = X, list(codes), [int(e) for e in epochs]
        self.stride = max(1, math.gcd(*self.epochs[:-1])) if len(self.epochs) > 1 else 1
        self._thin()

    def add(self, epoch: int, code: np.ndarray) -> None:
        if self.epochs and self.epochs[-1] % self.stride:  # the last frame was only the latest epoch: replace it
            self.codes.pop()
            self.epochs.pop()
        self.codes.append(code)
        self.epochs.append(int(epoch))
        self._thin()

    def _thin(self) -> None:
        while len(self.codes) > MAX_EVOLUTION_FRAMES:
            self.stride *= 2
            last = len(self.epochs) - 1
            keep = [i for i, e in enumerate(self.epochs) if e % self.stride == 0 or i == last]
            self.codes, self.epochs = [self.codes[i] for i in keep], [self.epochs[i] for i in keep]


# ---- weights -------------------------------------------------------------------


def save_weights(model: torch.nn.Module, path) -> None:
    """safetensors, written atomically: a crash leaves the previous file intact."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}  # loadable without a GPU
    atomic_write_bytes(path, save(state))


# ---- executing a run ----------------------------------------------------------


class StoreProgress(Callback):
    """Writes progress into the run store, checkpoints each epoch, polls cancel.

    Store writes are throttled to a few per second: SQLite is fast, but not free.
    """

    def __init__(self, store: RunStore, run_id: str, epochs: int, evolution: EvolutionFrames | None = None,
                 info: dict | None = None, budget: float | None = None):
        self.info = dict(info or {})  # shown with every progress write: where the run trains, on which device
        self.store, self.run_id, self.epochs = store, run_id, epochs
        self.budget = budget  # a time budget's seconds: progress is then the share of it used, not of the epochs
        self.t0 = time.time()
        self.last_write = 0.0
        self.last_cancel_check = 0.0
        self.last_checkpoint = 0.0
        self.history: list[dict] = []
        self.evolution = evolution

    def _progress(self, trainer, epoch, batch, n_batches, extra=None):
        elapsed = time.time() - self.t0
        if self.budget:
            trained = time.perf_counter() - trainer.state.start  # the trainer's clock, which a resume carries on
            done, eta = min(trained / self.budget, 1.0), max(self.budget - trained, 0.0)
        else:
            done = ((epoch - 1) + batch / n_batches) / self.epochs
            eta = elapsed / done - elapsed if done > 0 else None
        p = {"epoch": epoch, "epochs": None if self.budget else self.epochs, "budget_s": self.budget, "batch": batch,
             "batches": n_batches, "fraction": round(done, 4), "elapsed": round(elapsed, 2), "lr": trainer.lr,
             "eta": None if eta is None else round(eta, 1), "history": self.history[-200:]}
        p.update(self.info, **(extra or {}))
        self.store.update(self.run_id, progress=p)
        self.last_write = time.time()

    def on_batch_end(self, trainer, epoch, batch, n_batches, loss):
        if time.time() - self.last_write > 0.3:
            self._progress(trainer, epoch, batch, n_batches, {"batch_loss": loss})

    def on_train_begin(self, trainer):
        # Epoch 0's code is taken here, after the trainer's data initialisation (a PCA-path model's code
        # is all zeros before it), not when the model is built.
        if self.evolution is not None and not self.evolution.codes:
            self.evolution.add(0, encode(trainer.model, self.evolution.X).astype(np.float32))
            trainer.model.train()

    def on_epoch_end(self, trainer, epoch, logs):
        self.history.append({k: round(v, 6) if isinstance(v, float) else v for k, v in logs.items()})
        if self.evolution is not None:
            self.evolution.add(epoch, encode(trainer.model, self.evolution.X).astype(np.float32))
            trainer.model.train()
        # Every epoch on small data would spend more time writing than training:
        # at most one checkpoint per CHECKPOINT_SECONDS, and always the first epoch.
        if time.time() - self.last_checkpoint >= CHECKPOINT_SECONDS:
            self.save_checkpoint(trainer)
        self._progress(trainer, epoch, 1, 1)

    def save_checkpoint(self, trainer) -> None:
        """Everything to resume after this epoch: weights, optimizer, RNG.

        The tensors go to a new file named by epoch; then the JSON that names
        it is replaced; only then is the previous file removed. A crash at any
        point leaves a JSON pointing at a complete file.
        """
        tensors, meta = trainer.checkpoint()
        name = f"checkpoint-{meta['epoch']}.safetensors"
        atomic_write_bytes(self.store.path(self.run_id, name), save(tensors))
        if self.evolution is not None:
            self.store.write_array(self.run_id, "evolution_partial.npy", np.stack(self.evolution.codes))
            self.store.write_array(self.run_id, "evolution_partial_epochs.npy", np.asarray(self.evolution.epochs))
        previous = self.store.read_json(self.run_id, "checkpoint.json")
        self.store.write_json(self.run_id, "checkpoint.json", {**meta, "file": name})
        if previous and previous.get("file") not in (None, name):
            self.store.path(self.run_id, previous["file"]).unlink(missing_ok=True)
        self.last_checkpoint = time.time()

    def should_stop(self, trainer):
        if time.time() - self.last_cancel_check < 0.25:
            return False
        self.last_cancel_check = time.time()
        return self.store.cancel_requested(self.run_id)


def load_checkpoint(store: RunStore, run_id: str) -> tuple[dict, dict] | None:
    """The last saved checkpoint of a run (tensors, meta), or None if it has none."""
    meta = store.read_json(run_id, "checkpoint.json")
    if meta is None or not store.has(run_id, meta.get("file", "")):
        return None
    return load_file(str(store.path(run_id, meta["file"]))), meta


def _tensors(ds: Dataset, split: Split, scaler: Scaler):
    X = scaler.transform(ds.X)
    return X, torch.from_numpy(X[split.train]), torch.from_numpy(X[split.val])


def preload() -> None:
    """Import what `execute_run` imports lazily (scikit-learn's split, PCA, kNN, trustworthiness and
    metrics), for a worker started ahead of its run (ae_core.runs.local_executor.standby_main). The
    modules stay lazy elsewhere: pages that open a run must not pay for them."""
    import sklearn.decomposition  # noqa: F401
    import sklearn.manifold  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import sklearn.neighbors  # noqa: F401


@dataclass
class _Prepared:
    """What a run trains on: its configs, the split, the fitted scaler and the scaled rows."""

    config: dict
    ds: Dataset
    mcfg: object
    tcfg: object
    split: Split
    scaler: Scaler
    X: np.ndarray  # every row, scaled
    X_train: torch.Tensor
    X_val: torch.Tensor
    evo_idx: np.ndarray  # the rows whose codes are kept after every epoch


def _prepare(config: dict) -> _Prepared:
    ds = dataset_from_config(config)
    mcfg = model_config_from_dict(config["model"])
    tcfg = train_config_from_dict(config["train"])
    split = restrict_to_classes(split_indices(ds.n_samples, ds.y, seed=tcfg.seed), ds, config.get("train_classes"))
    scaler = Scaler.fit(ds.X[split.train], ds.scaling, ds.value_range)
    X, X_train, X_val = _tensors(ds, split, scaler)
    rng = np.random.default_rng(tcfg.seed)
    evo_idx = np.sort(rng.choice(ds.n_samples, min(tcfg.evolution_samples, ds.n_samples), replace=False))
    return _Prepared(config, ds, mcfg, tcfg, split, scaler, X, X_train, X_val, evo_idx)


def _train(store: RunStore, run_id: str, p: _Prepared, info: dict, callbacks):
    """Train (from the last checkpoint, if any); returns (model on the CPU, TrainResult, the codes over training)."""
    model = Autoencoder(p.mcfg, seed=p.tcfg.seed)
    resume = load_checkpoint(store, run_id)
    frames = EvolutionFrames(p.X[p.evo_idx])  # epoch 0, the untrained code, is added by StoreProgress.on_train_begin
    if resume is not None:
        codes = store.read_array(run_id, "evolution_partial.npy")
        epochs = store.read_array(run_id, "evolution_partial_epochs.npy")
        epochs = np.arange(len(codes)) if epochs is None else epochs  # a checkpoint from before the thinning
        # Frames beyond the checkpoint's epoch (a crash between the two writes) are dropped.
        kept = [i for i, e in enumerate(epochs) if e <= resume[1]["epoch"]]
        frames = EvolutionFrames(frames.X, [codes[i] for i in kept], [epochs[i] for i in kept])
    budget = p.tcfg.max_seconds
    progress = StoreProgress(store, run_id, p.tcfg.epochs, frames, info, budget=budget)
    if resume is not None:
        progress.history = list(resume[1]["history"])
    store.update(run_id, progress={"epoch": 0, "epochs": None if budget else p.tcfg.epochs, "budget_s": budget,
                                   "fraction": 0.0, "history": [], **info})
    trainer = Trainer(model, p.tcfg, [progress, *callbacks], device=resolve_device(p.config.get("device", "auto")))
    result = trainer.fit(p.X_train, p.X_val, resume=resume)
    model.cpu()  # what follows (codes, errors, metrics) is what a CPU-only server computes from the saved run
    return model, result, frames


def _write_artifacts(store: RunStore, run_id: str, p: _Prepared, model, result, frames: EvolutionFrames) -> None:
    store.write_json(run_id, "scaler.json", p.scaler.to_dict())
    save_weights(model, store.path(run_id, WEIGHTS))
    store.write_json(run_id, "history.json", result.history)
    store.write_array(run_id, "split.npy", p.split.codes(p.ds.n_samples))
    store.write_array(run_id, "latent.npy", encode(model, p.X).astype(np.float32))
    store.write_array(run_id, "recon_error.npy", model_errors(model, p.X).astype(np.float32))
    store.write_array(run_id, "evolution.npy", np.stack(frames.codes).astype(np.float32))  # (n_frames, n_evo, D)
    store.write_array(run_id, "evolution_epochs.npy", np.asarray(frames.epochs, dtype=np.int64))  # each frame's
    store.write_array(run_id, "evolution_index.npy", p.evo_idx.astype(np.int64))
    if p.ds.image_shape is not None:  # the Latent page's hover pictures, built here so no page waits for them
        from ae_core.analysis.atlas import write_atlas

        write_atlas(store, run_id, p.X, p.ds.image_shape, model)
    if trained_on_a_sample(p.ds):  # a big table: the pages draw every row of the file, not only the sample
        options = p.config["dataset"].get("options") or {}
        write_every_row(store, run_id, encode_every_row(options, p.ds.feature_names, model, p.scaler))


def _metrics(p: _Prepared, model, result, info: dict) -> dict:
    train_classes = p.config.get("train_classes")
    # A one-class run's kNN, trained on the normal classes alone, cannot name the others: no labels then.
    y, is_anomaly = (None if train_classes else p.ds.y), anomaly_truth(p.ds, train_classes)
    tr, te = p.split.train, p.split.test
    metrics = run_metrics(model, p.X[tr], p.X[te], None if y is None else y[tr], None if y is None else y[te],
                          None if is_anomaly is None else is_anomaly[te], seed=p.tcfg.seed)
    metrics.update(epochs_run=len(result.history), best_epoch=result.best_epoch, stop_reason=result.stop_reason,
                   train_seconds=round(result.seconds, 3), n_params=sum(q.numel() for q in model.parameters()),
                   scaling=p.scaler.kind, front_dim=model.cfg.front_dim, mirror=p.tcfg.mirror, shift=p.tcfg.shift,
                   epoch_seconds=round(float(np.median([h["seconds"] for h in result.history])), 4), **info,
                   best_val_loss=min(h["val_loss"] for h in result.history))
    return metrics


def _finish(store: RunStore, run_id: str, metrics: dict) -> None:
    store.write_json(run_id, "metrics.json", metrics)
    for path in store.folder(run_id).glob("checkpoint*"):
        path.unlink(missing_ok=True)  # finished: the final weights supersede them
    for path in store.folder(run_id).glob("evolution_partial*"):
        path.unlink(missing_ok=True)
    store.update(run_id, status="done", metrics=metrics, finished=time.time(),
                 progress={**store.get(run_id).progress, "fraction": 1.0, "eta": 0})


def execute_run(store: RunStore, run_id: str, callbacks=(), where: str = "local") -> str:
    """Train run `run_id` to completion; returns the final status.

    User-caused failures (bad data, divergence) end as 'failed' with their
    message; a cancel ends as 'cancelled'; anything else is 'failed' with the
    error and its traceback, so nothing is ever stuck 'running'.
    """
    rec = store.get(run_id)
    try:
        prepared = _prepare(rec.config)
        info = {"device": describe_device(resolve_device(rec.config.get("device", "auto"))), "where": where}
        model, result, frames = _train(store, run_id, prepared, info, callbacks)
        _write_artifacts(store, run_id, prepared, model, result, frames)
        _finish(store, run_id, _metrics(prepared, model, result, info))
        return "done"
    except TrainingCancelled:
        store.update(run_id, status="cancelled", finished=time.time(), error="cancelled by the user")
        return "cancelled"
    except (InputError, TrainingDiverged) as exc:
        store.update(run_id, status="failed", finished=time.time(), error=str(exc))
        return "failed"
    except OSError as exc:
        store.update(run_id, status="failed", finished=time.time(),
                     error=f"could not write the run's files: {exc}. Check free disk space and that {store.root} is writable.")
        return "failed"
    except Exception as exc:  # noqa: BLE001 - a worker must never leave a run stuck 'running'
        log.exception("run %s failed", run_id)
        store.update(run_id, status="failed", finished=time.time(),
                     error=f"internal error: {type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}")
        return "failed"
