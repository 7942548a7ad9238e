"""A finished run read back for inference: what the pages, the CLI and scripts use.

Loading a run imports neither torch nor scikit-learn. The weights are read and
checked at load (safetensors' numpy reader); the torch model is built from them
the first time `model` is used, and a dense model's decoder also runs in numpy
(`LoadedRun.decoder`). So the latent page and its decoded plane never wait for
torch's import (benchmarks/FINDINGS.md, "What was fixed").
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from functools import cached_property

import numpy as np

from ae_core.data.preprocessing import Scaler
from ae_core.data.registry import Dataset
from ae_core.errors import InputError
from ae_core.model.config import ModelConfig, model_config_from_dict, train_config_from_dict
from ae_core.model.numpy_decoder import ArrayDecoder
from ae_core.runs.spec import dataset_from_config
from ae_core.runs.store import WEIGHTS, RunStore


def read_weights(path) -> dict[str, np.ndarray]:
    """A safetensors file's tensors as numpy arrays; a damaged file is an InputError."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"the weights file {path} cannot be read ({exc}); retrain the run.") from exc


def model_from_weights(cfg: ModelConfig, weights: dict[str, np.ndarray]):
    """An Autoencoder (eval mode) for `cfg` holding `weights` (as `read_weights` gives them)."""
    import torch

    from ae_core.model.networks import Autoencoder

    model = Autoencoder(cfg)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
    return model.eval()


def load_model(cfg: ModelConfig, path):
    """The Autoencoder saved at `path` (safetensors), in eval mode."""
    return model_from_weights(cfg, read_weights(path))


_SHARED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def _shared(key: tuple, make):
    """One object per key in this process while anything still holds it: runs of the same
    dataset (and the same scaling) share its arrays instead of each holding a copy (a
    70,000 x 784 dataset is 220 MB raw and 220 MB scaled)."""
    with _SHARED_LOCK:
        obj = _SHARED.get(key)
    if obj is None:
        obj = make()
        with _SHARED_LOCK:
            obj = _SHARED.setdefault(key, obj)
    return obj


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared between runs: nobody may change it in place
    return a


class LoadedRun:
    """A finished run, ready for inference; data, arrays and the torch model load on first use.

    Runs of one dataset share `dataset.X` and `X` within a process; both are read-only
    (copy before changing them, e.g. `torch.from_numpy(run.X[:20].copy())`)."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.id = store, run_id
        self.record = store.get(run_id)
        if self.record.status != "done" or not store.has(run_id, WEIGHTS):
            raise InputError(f"run {run_id} is {self.record.status}, not finished; pick a finished run.")
        self.model_config = model_config_from_dict(self.record.config["model"])
        self.train_config = train_config_from_dict(self.record.config["train"])
        self._weights = read_weights(store.path(run_id, WEIGHTS))
        self._model, self._model_lock = None, threading.Lock()
        # Built now, holding the decoder's arrays (not copies): a damaged or foreign weights file is refused at load.
        self._array_decoder = ArrayDecoder(self.model_config, self._weights) if self.model_config.arch == "dense" else None
        scaler = store.read_json(run_id, "scaler.json")
        self.scaler = Scaler.from_dict(scaler)
        self._data_key = json.dumps(self.record.config["dataset"], sort_keys=True)
        self._scaler_key = hashlib.sha256(json.dumps(scaler, sort_keys=True).encode()).hexdigest()

    @property
    def model(self):
        """The Autoencoder (eval mode), built from the weights read at load: torch is imported here."""
        if self._model is None:
            with self._model_lock:  # two sessions asking at once build it once
                if self._model is None:
                    self._model = model_from_weights(self.model_config, self._weights)
                    self._weights = None  # the model holds them now
        return self._model

    @property
    def decoder(self):
        """What decodes codes, for `analysis.decode` and `latent.decode_plane`: the numpy `ArrayDecoder`
        for a dense model (no torch), the torch model for a convolutional one."""
        return self._array_decoder if self._array_decoder is not None else self.model

    @cached_property
    def dataset(self) -> Dataset:
        # Image sets' pixels are read when first used (`datasets.Deferred`): a page that draws the
        # code needs only the labels.
        return _shared(("dataset", self._data_key), lambda: dataset_from_config(self.record.config).read_only())

    @cached_property
    def X(self) -> np.ndarray:
        """All rows, scaled as the model saw them (read-only)."""
        return _shared(("scaled", self._data_key, self._scaler_key),
                       lambda: _read_only(self.scaler.transform(self.dataset.X)))

    def array(self, name: str) -> np.ndarray | None:
        return self.store.read_array(self.id, name)

    @cached_property
    def latent(self) -> np.ndarray:
        return self.array("latent.npy")

    @cached_property
    def split(self) -> np.ndarray:
        return self.array("split.npy")

    @cached_property
    def recon_error(self) -> np.ndarray:
        return self.array("recon_error.npy")

    @property
    def history(self) -> list[dict]:
        return self.store.read_json(self.id, "history.json", [])

    @property
    def metrics(self) -> dict:
        return self.record.metrics


def load_run(store: RunStore, run_id: str) -> LoadedRun:
    return LoadedRun(store, run_id)
