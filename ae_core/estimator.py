"""`Autoencoder`: the engine as a scikit-learn compatible transformer.

    >>> from sklearn.datasets import load_digits
    >>> from ae_core import Autoencoder
    >>> X = load_digits().data
    >>> ae = Autoencoder(latent_dim=2, epochs=20, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1797, 2)

The same model, trainer and scaling as the app's runs, without the run store.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ae_core.analysis.anomaly_scores import DEFAULT_SCORE, SCORES
from ae_core.errors import InputError
from ae_core.model.callbacks import Callback


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Autoencoder for dimensionality reduction, denoising and anomaly scores.

    Parameters
    ----------
    variant : {"vanilla", "sparse", "denoising", "variational", "convolutional"}, default="vanilla"
        The preset; "convolutional" needs images, of shape (n, h, w) or (n, h, w, 3) for colour. The dense
        variants take images too, flattened channel-last.
    latent_dim : int, default=2
        Size of the code. At most n_features for the vanilla, convolutional and variational variants (a
        code as wide as the input is allowed, with a warning: it does not compress); the sparse and
        denoising variants may be overcomplete.
    hidden : tuple of int or None, default=None
        Dense encoder widths (the decoder mirrors them); None picks by input size.
    epochs : int or None, default=None
        Epochs of the cosine schedule; None picks the recipe's (`ae_core.model.config.recipe_defaults`): 60
        below 5,000 rows, 120 up to 20,000, 40 from there (convolutional: 40, 50 from 5,000 to 20,000 images,
        20 from there, and at least 3,000 steps).
        Early stopping on a validation split may end sooner.
    batch_size : int or None, default=None
        None picks the recipe's, 32-512 by sample count and width.
    learning_rate : float or None, default=None
        Peak learning rate of AdamW (after a short warm-up, then a cosine anneal); None picks the recipe's
        (2e-3; 3e-3 for narrow rows from 20,000; convolutional: 4e-3).
    noise_level, sparsity, beta : float or None, default=None
        Override the preset's input-corruption level, L1 code penalty, KL weight.
    scaling : {"auto", "standard", "range"}, default="auto"
        "range" scales into [0, 1] by the data's value range (images); "standard" standardises each
        feature (tabular). "auto" uses "range" for (n, h, w) input and for flat rows that look like pixels
        (every value in [0, 1], or whole numbers in 0..255 with most columns reaching near the top; see
        `ae_core.data.preprocessing.pixel_range`), else "standard". The chosen one is `scaling_`.
    pca_init : "auto" or bool, default="auto"
        "auto" follows the variant's preset: on for vanilla, sparse and denoising, off for variational
        and convolutional (measured worse with it; benchmarks/FINDINGS.md). True: start from PCA: the code is PCA's code plus a learned correction, the reconstruction PCA's plus a
        learned correction, both zero at the start, and the best weights on the validation rows are
        kept, starting weights included; so the model is not worse than PCA there. False gives the plain
        networks (with a sigmoid output and BCE under "range" scaling).
    front_dim : "auto" or int, default="auto"
        With the PCA path, let the networks work in the training rows' top `front_dim` principal
        coordinates instead of every feature (`ae_core.model.principal.Front`); the loss is still every
        feature's squared error, so what lies outside them counts as error, as for PCA. 0 turns it off.
        "auto": 256 from 2,048 features (`ae_core.model.config.front_dim_for`), none below: at 784 pixels
        it makes steps 1.4x faster for 0.3 % more error, but the default anomaly score loses 0.007 of AUC
        (one-class Fashion-MNIST 0.932 against 0.939). The one in use is `model_.cfg.front_dim`.
    mirror : "auto" or bool, default="auto"
        Image input only: train on a random half of each batch mirrored left to right, so the model also learns
        each training image's mirror image. "auto" turns it on for the convolutional model below 20,000 images and
        for the dense model behind a front when the images are mirror-symmetric (`ae_core.data.symmetry`: a mirrored image
        looks like another image of the set, as photos do and digits do not). The one in use is `mirror_`.
    shift : "auto" or bool, default="auto"
        Image input only: train on a random fifth of each batch (after mirroring) moved by one pixel in one of eight
        directions, the edge pixels repeated. "auto" turns it on for images of a side of 16 pixels or more, for the
        convolutional model and the dense one behind a front (`ae_core.model.config.recipe_shift`). The one in use
        is `shift_`.
    score_method : {"normalized+knn+hidden", "normalized+knn", "normalized", "reconstruction"}, \
            default="normalized+knn+hidden"
        What `anomaly_score` returns; see `ae_core.analysis.anomaly_scores`. "reconstruction" is the raw
        mean squared error.
    validation_fraction : float, default=0.15
        Held out for early stopping when there are at least 20 samples.
    patience : int, default=10
        Early stopping: epochs without validation improvement.
    time_budget : float or None, default=None
        Train for this many seconds of wall clock instead of a number of epochs (`epochs` and `patience` are
        then ignored): the warm-up and the cosine anneal stretch over the budget, so a longer budget gives a
        better model; the best validation weights are kept. As `train --time-budget` and the Train page's
        time budget. Results then depend on the machine's speed.
    random_state : int or None, default=None
    verbose : bool, default=False
    device : {"auto", "cpu", "cuda", "mps"}, default="auto"
        Where to train and infer: "auto" takes a CUDA GPU, then Apple's MPS, then the CPU.

    Attributes
    ----------
    n_features_in_ : int
    image_shape_ : tuple of int or None
        (h, w) or (h, w, c) for image input; `inverse_transform` gives images of this shape back.
    model_ : torch.nn.Module
        The trained `ae_core.model.networks.Autoencoder`.
    scaler_ : ae_core.data.preprocessing.Scaler
    scaling_ : {"range", "standard"}
        The scaling used (what "auto" chose).
    mirror_ : bool
        Whether training mirrored images (what "auto" chose).
    shift_ : bool
        Whether training shifted images by a pixel (what "auto" chose).
    history_ : list of dict
        Per-epoch train/validation loss and learning rate.
    n_epochs_ : int
    device_ : str
        The device the model was trained on, and infers on.
    """

    def __init__(self, variant="vanilla", latent_dim=2, hidden=None, epochs=None, batch_size=None, learning_rate=None,
                 noise_level=None, sparsity=None, beta=None, scaling="auto", pca_init="auto", front_dim="auto",
                 mirror="auto", shift="auto", score_method=DEFAULT_SCORE,
                 validation_fraction=0.15, patience=10, time_budget=None, random_state=None, verbose=False,
                 device="auto"):
        self.variant = variant
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.beta = beta
        self.scaling = scaling
        self.pca_init = pca_init
        self.front_dim = front_dim
        self.mirror = mirror
        self.shift = shift
        self.score_method = score_method
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.time_budget = time_budget
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    # ---- input handling ----------------------------------------------------------

    def _flatten(self, X, reset: bool) -> np.ndarray:
        """Validate X and return float32 (n, n_features); images, (n, h, w) grey or (n, h, w, 3) colour, are
        flattened channel-last, the layout the convolutional model reads (and the app's image rows)."""
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=[np.float32, np.float64], ensure_min_features=1)
        if X.ndim == 3 or (X.ndim == 4 and X.shape[-1] in (1, 3)):
            shape = X.shape[1:]
            X = X.reshape(len(X), -1)
        elif X.ndim == 2:
            shape = None
        elif X.ndim == 4:
            raise InputError(_channels_problem(X.shape))
        else:
            raise InputError(
                "expected an array of shape (n_samples, n_features), or images of shape (n_samples, height, width) "
                f"or (n_samples, height, width, 3); got {X.ndim} dimensions {X.shape}."
            )
        if reset:
            self.image_shape_ = shape
            self.n_features_in_ = X.shape[1] if shape is None else shape[0]
        elif shape != getattr(self, "image_shape_", None):
            raise InputError(
                f"this Autoencoder was fitted on {'images of ' + 'x'.join(map(str, self.image_shape_)) if self.image_shape_ else 'flat rows'}; "
                f"got {'images of ' + 'x'.join(map(str, shape)) if shape else 'flat rows'} of a different shape."
            )
        return np.ascontiguousarray(X, dtype=np.float32)

    def _unflatten(self, X: np.ndarray) -> np.ndarray:
        return X.reshape(len(X), *self.image_shape_) if self.image_shape_ else X

    # ---- fitting -----------------------------------------------------------------

    def fit(self, X, y=None):
        """Train on X; y is ignored. Returns self."""
        import torch

        from ae_core.model.device import resolve_device
        from ae_core.model.networks import Autoencoder as Module
        from ae_core.model.training import Trainer

        Xf = self._flatten(X, reset=True)
        device = resolve_device(self.device)
        self._check_params()
        seed = self.random_state if self.random_state is not None else int(np.random.randint(0, 2**31 - 1))
        X_train, X_val = self._fit_scaler_and_split(Xf, seed)
        cfg, tcfg = self._configs(*Xf.shape, seed, X_train)
        self.model_ = Module(cfg, seed=seed)  # validates cfg: the code-width rule is ModelConfig's
        if self.latent_dim >= cfg.n_features:  # allowed, as PCA allows n_components == n_features
            warnings.warn(f"latent_dim={self.latent_dim} is not smaller than the {cfg.n_features} input feature(s): "
                          "the code does not compress.", UserWarning, stacklevel=2)
        callbacks = [_Verbose()] if self.verbose else []
        result = Trainer(self.model_, tcfg, callbacks, device=device).fit(torch.from_numpy(X_train), torch.from_numpy(X_val))
        self.device_ = str(device)
        self.history_ = result.history
        self.n_epochs_ = len(result.history)
        self._n_features_out = int(self.latent_dim)
        self._fit_score_reference(X_train, X_val, seed)
        return self

    def _check_params(self) -> None:
        """The parameters ModelConfig does not check."""
        if not isinstance(self.latent_dim, (int, np.integer)) or self.latent_dim < 1:
            raise InputError(f"latent_dim must be a positive integer, got {self.latent_dim!r}.")
        if self.scaling not in ("auto", "range", "standard"):
            raise InputError(f"scaling must be 'auto', 'standard' or 'range', got {self.scaling!r}.")
        if self.front_dim != "auto" and (not isinstance(self.front_dim, (int, np.integer)) or self.front_dim < 0):
            raise InputError(f"front_dim must be 'auto' or a whole number of principal coordinates (0 = off), "
                             f"got {self.front_dim!r}.")
        for name, does in (("mirror", "flips images left to right"), ("shift", "moves images by a pixel")):
            value = getattr(self, name)
            if value not in ("auto", True, False):
                raise InputError(f"{name} must be 'auto', True or False, got {value!r}.")
            if value is True and self.image_shape_ is None:
                raise InputError(f"{name}=True {does}; these are flat rows. Give the images as (n, height, width) or "
                                 f"(n, height, width, 3) arrays, or leave {name}='auto'.")
        if self.score_method not in SCORES:
            raise InputError(f"score_method must be one of {', '.join(SCORES)}; got {self.score_method!r}.")

    def _fit_scaler_and_split(self, Xf: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Choose and fit the scaling (scaling_, scaler_); the scaled training and validation rows."""
        from ae_core.data.preprocessing import Scaler, pixel_range

        value_range = pixel_range(Xf) if self.scaling in ("auto", "range") else None
        if self.scaling == "auto":
            self.scaling_ = "range" if self.image_shape_ is not None or value_range is not None else "standard"
        else:
            self.scaling_ = self.scaling
        self.scaler_ = Scaler.fit(Xf, self.scaling_, value_range)
        Xs = self.scaler_.transform(Xf)
        n = len(Xs)
        if n < 20 or not 0 < self.validation_fraction < 1:
            return Xs, Xs  # too few rows to hold any out: stop on the training loss
        order = np.random.default_rng(seed).permutation(n)
        n_val = max(2, int(round(n * self.validation_fraction)))
        return Xs[order[n_val:]], Xs[order[:n_val]]

    def _configs(self, n: int, d: int, seed: int, X_train: np.ndarray):
        """The ModelConfig and TrainConfig: the variant's preset, the recipe for data of this size, the overrides."""
        import dataclasses

        from ae_core.model.config import TrainConfig, budget_settings, model_config_for, recipe_defaults

        defaults = recipe_defaults(n, d, self.variant)
        cfg = model_config_for(
            self.variant, n_features=d, image_shape=self.image_shape_, latent_dim=int(self.latent_dim),
            hidden=tuple(self.hidden) if self.hidden is not None else defaults["hidden"],
            output="sigmoid" if self.scaling_ == "range" else "linear", pca_init=None if self.pca_init == "auto" else bool(self.pca_init),
            front_dim=None if self.front_dim == "auto" else int(self.front_dim),
            noise_level=self.noise_level, sparsity=self.sparsity, beta=self.beta,
        )
        try:
            budget = None if self.time_budget is None else float(self.time_budget)
        except (TypeError, ValueError):
            raise InputError(f"time_budget is a number of seconds, got {self.time_budget!r}.") from None
        tcfg = TrainConfig(epochs=self.epochs or defaults["epochs"], batch_size=self.batch_size or defaults["batch_size"],
                           lr=self.learning_rate or defaults["lr"], weight_decay=defaults["weight_decay"],
                           schedule=defaults["schedule"],
                           warmup=defaults["warmup"], patience=self.patience, seed=seed,
                           mirror=self._mirror(cfg, X_train, n, seed), shift=self._shift(cfg))
        if budget is not None:
            tcfg = dataclasses.replace(tcfg, **budget_settings(budget))
        return cfg, tcfg.validate()

    def _mirror(self, cfg, X_train: np.ndarray, n_samples: int, seed: int) -> bool:
        from ae_core.data.symmetry import recipe_mirror

        if self.mirror == "auto":
            self.mirror_ = recipe_mirror(X_train, cfg.arch, cfg.front_dim, self.image_shape_, n_samples, seed)
        else:
            self.mirror_ = bool(self.mirror)
        return self.mirror_

    def _shift(self, cfg) -> bool:
        from ae_core.model.config import recipe_shift

        self.shift_ = recipe_shift(cfg.arch, cfg.front_dim, self.image_shape_) if self.shift == "auto" else bool(self.shift)
        return self.shift_

    def _fit_score_reference(self, X_train: np.ndarray, X_val: np.ndarray, seed: int) -> None:
        """What the anomaly scores need: the error spread on the held-out rows and the training codes."""
        from ae_core.analysis.anomaly_scores import model_reference
        from ae_core.analysis.metrics import encode

        m = self.model_
        self._score_ref = model_reference(m, X_train, X_val, encode(m, X_train), encode(m, X_val), seed=seed)

    # ---- inference ---------------------------------------------------------------

    def transform(self, X):
        """Codes of X: array of shape (n_samples, latent_dim) (the mean for a VAE)."""
        from ae_core.analysis.metrics import encode

        check_is_fitted(self, "model_")
        return encode(self.model_, self.scaler_.transform(self._flatten(X, reset=False))).astype(np.float64)

    def fit_transform(self, X, y=None, **fit_params):
        return self.fit(X, y).transform(X)

    def inverse_transform(self, Z):
        """Decode codes back to the input space (unscaled; images keep their shape)."""
        from ae_core.analysis.metrics import decode

        check_is_fitted(self, "model_")
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim != 2 or Z.shape[1] != self.latent_dim:
            raise InputError(f"expected codes of shape (n_samples, {self.latent_dim}), got {Z.shape}.")
        return self._unflatten(self.scaler_.inverse_transform(decode(self.model_, Z)).astype(np.float64))

    def reconstruct(self, X):
        """inverse_transform(transform(X)), in the input's units and shape."""
        return self.inverse_transform(self.transform(X))

    def anomaly_score(self, X, method=None):
        """Anomaly score per sample, higher = more anomalous: array of shape (n_samples,).

        method : {"normalized+knn+hidden", "normalized+knn", "normalized", "reconstruction"} or None
            None uses the estimator's `score_method`; "reconstruction" is the mean squared reconstruction
            error in scaled units.
        """
        from ae_core.analysis.anomaly_scores import model_scores, needs
        from ae_core.analysis.metrics import encode

        check_is_fitted(self, "model_")
        kind = self.score_method if method is None else method
        Xs = self.scaler_.transform(self._flatten(X, reset=False))
        Z = encode(self.model_, Xs) if "codes" in needs(kind) else None
        return model_scores(kind, self._score_ref, self.model_, Xs, Z=Z)

    def score_samples(self, X):
        """Negative anomaly score: higher = more normal, as scikit-learn's outlier detectors."""
        return -self.anomaly_score(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


def _channels_problem(shape: tuple[int, ...]) -> str:
    """What is wrong with a 4-D array whose last axis is not 1 (grey) or 3 (RGB) channels, and what to do."""
    fix = ("it looks channels-first: np.moveaxis(X, 1, -1) puts the channels last" if shape[1] in (1, 3)
           else "for RGBA, drop the alpha channel with X[..., :3] (or put the images on a background first)"
           if shape[-1] == 4 else "convert the images to RGB or grayscale first")
    return (f"images of shape (n_samples, height, width, channels) need 1 (grey) or 3 (RGB) channels, last; got "
            f"shape {shape}: {fix}.")


class _Verbose(Callback):
    """verbose=True: one line per epoch on stdout, as scikit-learn's estimators print."""

    def on_epoch_end(self, trainer, epoch, logs):
        print(f"epoch {epoch}: train {logs['train_loss']:.4f}  val {logs['val_loss']:.4f}  lr {logs['lr']:.2g}")
