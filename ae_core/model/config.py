"""Configuration of a model and of its training, and the variant presets.

Variants are orthogonal switches on one `ModelConfig` (architecture, VAE,
sparsity, input corruption); "vanilla", "sparse", "denoising", "variational" and
"convolutional" are presets of these switches. Both configs are frozen: they are
hashable (they can key a cache) and are stored verbatim with every run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ae_core.errors import InputError

NOISE_KINDS = ("gaussian", "salt-and-pepper", "masking")
ACTIVATIONS = ("relu", "silu", "gelu")
CONV_NEEDS_IMAGES = ("the convolutional variant needs image data; this dataset is tabular. "
                     "Pick the vanilla, sparse, denoising or variational variant instead.")


def code_width_problem(latent_dim: int, n_features: int, overcomplete_ok: bool) -> str | None:
    """Why a code of `latent_dim` numbers cannot serve `n_features` inputs, or None. PCA's rule: a code as wide
    as the input is allowed (it does not compress; the estimator warns), a wider one only where a sparsity
    penalty or input noise keeps the model from learning to copy its input."""
    if latent_dim > n_features and not overcomplete_ok:
        return (f"latent size {latent_dim} is larger than the input's {n_features} feature(s), so a plain autoencoder "
                f"can just copy its input. Use a latent size of at most {n_features}, or add a sparsity penalty or "
                "input noise (sparse or denoising variant).")
    return None


@dataclass(frozen=True)
class ModelConfig:
    n_features: int = 64  # flattened input size
    image_shape: tuple[int, ...] | None = None  # (h, w) grey or (h, w, c) colour image data; needed by conv
    latent_dim: int = 2
    hidden: tuple[int, ...] = (256, 128)  # dense encoder widths; the decoder mirrors them
    arch: str = "dense"  # dense | conv
    conv_channels: tuple[int, ...] = (16, 32)  # one stride-2 conv per entry
    variational: bool = False  # VAE: Gaussian code, reparameterised, KL to N(0, I)
    beta: float = 1.0  # weight of the KL term (beta-VAE)
    sparsity: float = 0.0  # weight of the L1 penalty on the code; 0 = off
    noise: str = "gaussian"  # input corruption during training (denoising)
    noise_level: float = 0.0  # 0 = off; std for gaussian, fraction of pixels otherwise
    output: str = "sigmoid"  # sigmoid (+BCE) for inputs in [0, 1]; linear (+MSE) for standardised
    dropout: float = 0.0
    activation: str = "relu"  # relu | silu | gelu; new models get RECIPE's, runs stored before keep relu
    # PCA path: code = PCA code + learned correction, reconstruction = PCA reconstruction + learned
    # correction, with the corrections starting at zero, so training starts at PCA's error (a linear AE's
    # optimum, Baldi & Hornik 1989). Its output is linear (+MSE). Off for runs stored before it existed.
    pca_init: bool = False
    # Front: the dense networks (and the PCA path) work in the data's top front_dim principal coordinates,
    # a fixed rotation fitted with the PCA path; the loss is still the data-space squared error. 0 = off;
    # new models get `front_dim_for`'s (benchmarks/FINDINGS.md, "Sixth round").
    front_dim: int = 0

    @property
    def channels(self) -> int:
        """Colour channels per pixel: 1 for (h, w) images, c for (h, w, c)."""
        return self.image_shape[2] if self.image_shape is not None and len(self.image_shape) == 3 else 1

    def validate(self) -> ModelConfig:
        """Raise InputError for values a user could have typed wrong."""
        if self.latent_dim < 1 or self.latent_dim > 1024:
            raise InputError(f"latent size must be between 1 and 1024, got {self.latent_dim}.")
        if problem := code_width_problem(self.latent_dim, self.n_features, self.sparsity > 0 or self.noise_level > 0):
            raise InputError(problem)
        if any(h < 1 for h in self.hidden):
            raise InputError(f"hidden layer sizes must be positive, got {list(self.hidden)}.")
        if self.arch not in ("dense", "conv"):
            raise InputError(f"architecture must be 'dense' or 'conv', got {self.arch!r}.")
        if self.arch == "conv" and self.image_shape is None:
            raise InputError(CONV_NEEDS_IMAGES)
        if self.arch == "conv" and min(self.image_shape[:2]) < 2 ** len(self.conv_channels):
            raise InputError(
                f"images of {self.image_shape[0]}x{self.image_shape[1]} are too small for "
                f"{len(self.conv_channels)} stride-2 conv layers; use fewer conv channels."
            )
        if self.noise not in NOISE_KINDS:
            raise InputError(f"noise must be one of {', '.join(NOISE_KINDS)}; got {self.noise!r}.")
        if not 0.0 <= self.noise_level <= 1.0:
            raise InputError(f"noise level must be between 0 and 1, got {self.noise_level}.")
        if not 0.0 <= self.sparsity <= 10.0:
            raise InputError(f"sparsity weight must be between 0 and 10, got {self.sparsity}.")
        if not 0.0 <= self.beta <= 100.0:
            raise InputError(f"beta must be between 0 and 100, got {self.beta}.")
        if not 0.0 <= self.dropout < 1.0:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}.")
        if self.output not in ("sigmoid", "linear"):
            raise InputError(f"output must be 'sigmoid' or 'linear', got {self.output!r}.")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}.")
        if self.pca_init and self.output != "linear":
            raise InputError("the PCA path reconstructs linearly: use output='linear' with pca_init=True.")
        if self.front_dim and not (self.arch == "dense" and self.pca_init and self.latent_dim <= self.front_dim < self.n_features):
            raise InputError(f"a front of {self.front_dim} principal coordinates needs a dense model with the PCA "
                             f"path and a size from the code's ({self.latent_dim}) to below the features' "
                             f"({self.n_features}); pick one in that range, or 0 for none.")
        return self


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.0  # L2 penalty through AdamW
    patience: int = 6  # early stopping: epochs without validation improvement
    lr_factor: float = 0.5  # ReduceLROnPlateau factor
    lr_patience: int = 2  # epochs without improvement before the learning rate drops
    seed: int = 0
    evolution_samples: int = 2000  # fixed subset whose codes are stored after every epoch
    max_seconds: float | None = None  # wall-clock budget; None = no limit
    # "plateau": halve the LR when validation stalls. "cosine": anneal the LR to 1% along
    # a cosine over the run (over wall-clock time when max_seconds is set, else epochs).
    schedule: str = "plateau"
    warmup: float = 0.0  # cosine only: the first fraction of the run ramps the LR up linearly from 0
    # Before the first step: output bias at the training rows' mean, first layer centred on it
    # (Autoencoder.init_from_data). Off gives PyTorch's default initialisation.
    data_init: bool = True
    # bfloat16 matmuls while training where the device computes them natively (model.device.native_bf16);
    # False keeps everything float32.
    bf16: bool = True
    # Image data only: a random half of each training batch is mirrored left to right, so the model also
    # learns the mirror image of every training image (validation rows are never mirrored). The recipe
    # turns it on where the data are mirror-symmetric (ae_core.data.symmetry) and it measured a gain.
    mirror: bool = False
    # Image data only: a fifth of each training batch (after mirroring) is shifted by one pixel in one of the
    # eight directions, the edge pixels repeated into the gap, so the model also learns images a pixel off
    # centre. The recipe turns it on for images of 16+ pixels a side but not for a dense model on the pixels.
    shift: bool = False

    def validate(self) -> TrainConfig:
        if not 1 <= self.epochs <= 10_000:
            raise InputError(f"epochs must be between 1 and 10000, got {self.epochs}.")
        if not 1 <= self.batch_size <= 65_536:
            raise InputError(f"batch size must be between 1 and 65536, got {self.batch_size}.")
        if not 0.0 < self.lr <= 1.0:
            raise InputError(f"learning rate must be in (0, 1], got {self.lr}.")
        if not 0.0 <= self.weight_decay <= 1.0:
            raise InputError(f"weight decay must be in [0, 1], got {self.weight_decay}.")
        if self.schedule not in ("plateau", "cosine"):
            raise InputError(f"schedule must be 'plateau' or 'cosine', got {self.schedule!r}.")
        if self.max_seconds is not None and not 0 < self.max_seconds <= 86_400:
            raise InputError(f"time budget must be between 0 and 86400 seconds, got {self.max_seconds}.")
        if not 0.0 <= self.warmup < 1.0:
            raise InputError(f"warm-up must be a fraction of the run in [0, 1), got {self.warmup}.")
        if self.patience < 1:
            raise InputError(f"early-stopping patience must be at least 1, got {self.patience}.")
        if not 0 <= self.seed <= 2**31 - 1:
            raise InputError(f"seed must be between 0 and 2147483647, got {self.seed}.")
        return self


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str  # one sentence: what it is for
    model: dict = field(default_factory=dict)  # ModelConfig overrides


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("vanilla", "A plain undercomplete autoencoder: the baseline to compare everything with."),
        Preset(
            "sparse",
            "Adds an L1 penalty on the code so that few units fire per input: more interpretable features.",
            {"sparsity": 0.05},
        ),
        Preset(
            "denoising",
            "Corrupts the input while training and learns to restore it: robust features and a denoiser.",
            {"noise": "gaussian", "noise_level": 0.3},
        ),
        Preset(
            "variational",
            "Learns a smooth Gaussian code you can sample from to generate new data (a VAE).",
            # No PCA path: the KL term pulls codes towards N(0, I), away from PCA's scale, and the
            # objective is not the reconstruction error that PCA minimises.
            {"variational": True, "beta": 1.0, "pca_init": False},
        ),
        Preset(
            "convolutional",
            "Convolutions for images: fewer weights and sharper reconstructions than dense layers.",
            # No PCA path: on Fashion-MNIST the conv model with it reached 0.69x PCA's error, without it (sigmoid
            # + BCE) 0.60x, same recipe and time (benchmarks/FINDINGS.md, "Model quality").
            {"arch": "conv", "pca_init": False},
        ),
    ]
}


def variant_problem(variant: str, image_shape) -> str | None:
    """Why `variant` cannot train on data of this shape (None: it can). The Train form warns with it
    before Start; `ModelConfig.validate` refuses the same case."""
    if PRESETS[variant].model.get("arch") == "conv" and image_shape is None:
        return CONV_NEEDS_IMAGES
    return None


# What every new model gets unless a preset or an override says otherwise; measured against PCA and the
# earlier ReLU networks in benchmarks/bench_quality.py ("Model quality"), the why in benchmarks/FINDINGS.md.
RECIPE_MODEL = {"activation": "silu", "pca_init": True}


CONV_MIN_STEPS = 3000


def recipe_defaults(n_samples: int, n_features: int, variant: str = "vanilla") -> dict:
    """Widths, batch size, learning rate, weight decay, schedule and epochs of the default recipe for data of
    this size (and the convolutional variant's own), measured in benchmarks/bench_model_quality.py.

    Dense: widths grow with the input (a 784-d image needs more than 256 units to correct PCA's errors);
    AdamW with a short warm-up and a cosine anneal. From 5,000 to 20,000 rows the model overfits before it
    underfits: strong decay, batch 128 at 2e-3 for 120 epochs (below 5,000 rows decay cost digits' 2-d
    code 4 %, so none: batch 64 at 2e-3, 60 epochs); from 20,000 rows it
    underfits, so the net is wider (for 512+ features, batch 256 at 2e-3) with batch 512 at 3e-3 for narrower rows
    (cheap steps in bfloat16; at 784 features the smaller batch costs 3-16 % more time per epoch and trains better).
    Convolutional: 32-64-128 channels for images of side 16 or more, 4e-3, batch 32 (128 from 20,000 rows), 40 epochs (50 from 5,000 to 20,000 rows) and at least CONV_MIN_STEPS steps:
    its quality follows the number of steps more than the dense model's, and from its random start a small set
    needs many epochs (200 colour images: the colour appears only after ~3,000 steps). From 5,000 to 20,000 rows it
    overfits (10,000 Fashion-MNIST images: training error 0.0058 against 0.0077 held out), and a light decay (0.1)
    helps; on digits it cost 1 %, so none below.
    There, with the images mirrored and shifted (`recipe_shift`), more epochs keep paying (10,000 Fashion-MNIST
    images: 0.482x PCA's error at 40 epochs, 0.473x at 50, 0.464x at 60, 0.456x at 80); 50 keep the fit near two
    minutes on two CPU cores. The rate was 2e-3 until 4e-3 measured better at every size: Fashion-MNIST 3,000
    images 0.598x -> 0.563x PCA, 10,000 0.473x -> 0.463x (mean of two seeds), 49,000 0.450x -> 0.428x; photo patches
    0.888x -> 0.882x; digits' 8-d code 0.568x -> 0.496x (FINDINGS, "Ninth round").
    """
    d, n = n_features, n_samples
    if PRESETS.get(variant, PRESETS["vanilla"]).model.get("arch") == "conv":
        batch = 128 if n >= 20_000 else 32
        overfits = 5000 <= n < 20_000
        epochs = 20 if n >= 20_000 else min(1000, max(50 if overfits else 40,
                                                      math.ceil(CONV_MIN_STEPS / math.ceil(max(n, 1) / batch))))
        decay = 0.1 if overfits else 0.0
        return {"hidden": (256, 128), "batch_size": batch, "epochs": epochs,
                "lr": 4e-3, "weight_decay": decay, "schedule": "cosine", "warmup": 0.03}
    hidden = (512, 256) if d >= 512 else (256, 128) if d >= 128 else (128, 64) if d >= 32 else (64, 32)
    if n >= 20_000:
        wide = d >= 512
        return {"hidden": (1024, 512, 256) if wide else hidden, "batch_size": 256 if wide else 512, "epochs": 40,
                "lr": 2e-3 if wide else 3e-3, "weight_decay": 0.1, "schedule": "cosine", "warmup": 0.03}
    big = n >= 5000
    return {"hidden": hidden, "batch_size": 128 if big else 64 if n >= 1000 else 32, "epochs": 120 if big else 60,
            "lr": 2e-3, "weight_decay": 0.5 if big else 0.0, "schedule": "cosine", "warmup": 0.03}


def budget_settings(seconds: float) -> dict:
    """TrainConfig fields for a wall-clock budget: as many epochs as fit (the most `validate` allows), no early
    stop, the cosine anneal stretched over the time."""
    return {"epochs": 10_000, "patience": 10_000, "schedule": "cosine", "max_seconds": float(seconds)}


FRONT_FROM_FEATURES = 2048


def front_dim_for(n_features: int, latent_dim: int) -> int:
    """The recipe's front: from 2,048 features, the top max(256, 8 x code) principal coordinates (none where that
    is over half the features); below, none. There the first and last layers are most of a step, and the front
    measured as good or better: 56x56 Fashion-MNIST 0.606x PCA against 0.607x in 58 % of the time, 32x32 photo
    patches 0.983x against 1.000x (the plain networks never beat PCA's start). At 784 pixels it cost the one-class
    anomaly score 0.007 of AUC for 1.4x faster steps, so narrower rows go without (FINDINGS, "Sixth round")."""
    k = max(256, 8 * latent_dim)
    return k if n_features >= FRONT_FROM_FEATURES and 2 * k <= n_features else 0


SHIFT_MIN_SIDE = 16


def recipe_shift(arch: str, front_dim: int, image_shape: tuple[int, ...] | None) -> bool:
    """The recipe's `TrainConfig.shift`: on for images of a side of SHIFT_MIN_SIDE or more, where a pixel is a small
    move, for the convolutional model (Fashion-MNIST: 3,000 images 0.615x -> 0.598x PCA, 10,000 0.488x -> 0.482x,
    49,000 0.452x -> 0.450x; photo patches 0.900x -> 0.897x) and the dense one behind a front (photo patches
    0.932x -> 0.911x, in 1.18x the time); off for 8x8 digits, where one pixel is an eighth of the image (0.557x ->
    0.586x at one seed), and for the dense model on the pixels, which underfits before it overfits (FINDINGS,
    "Ninth round")."""
    return ((arch == "conv" or front_dim > 0) and image_shape is not None
            and min(image_shape[:2]) >= SHIFT_MIN_SIDE)


def auto_shift_words(chosen: bool, arch: str, front_dim: int) -> str:
    """What `recipe_shift` chose for image data, and why, in a few words (the Train form's caption)."""
    if chosen:
        return "auto: on, a fifth of each batch moved by a pixel"
    if arch != "conv" and not front_dim:
        return "auto: off for a dense model on the pixels"
    return f"auto: off for images under {SHIFT_MIN_SIDE} pixels a side, where a pixel is a big move"


def conv_channels_for(image_shape) -> tuple[int, ...]:
    """The convolutional recipe's channels: three stride-2 stages from a side of 16, two below."""
    return (32, 64, 128) if image_shape is not None and min(image_shape[:2]) >= 16 else (16, 32)


def model_config_for(variant: str, **overrides) -> ModelConfig:
    """The ModelConfig of a preset on top of `RECIPE_MODEL`, with explicit overrides applied last.

    Overrides equal to None are ignored, so CLI flags left unset keep the preset. With the PCA path on,
    the output is linear (+MSE) whatever the scaling asked for: the path reconstructs linearly.
    """
    if variant not in PRESETS:
        raise InputError(f"unknown variant {variant!r}; choose one of: {', '.join(PRESETS)}.")
    values = {**RECIPE_MODEL, **PRESETS[variant].model}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("pca_init"):
        values["output"] = "linear"
    if values.get("front_dim") is None:
        dense_with_path = values.get("pca_init") and values.get("arch", "dense") == "dense"
        values["front_dim"] = front_dim_for(values.get("n_features", 64), values.get("latent_dim", 2)) if dense_with_path else 0
    if values.get("arch") == "conv" and "conv_channels" not in values:
        values["conv_channels"] = conv_channels_for(values.get("image_shape"))
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = set(values) - names
    if unknown:
        raise InputError(f"unknown model setting(s): {', '.join(sorted(unknown))}.")
    for key in ("hidden", "conv_channels", "image_shape"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    return ModelConfig(**values)


def config_to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def model_config_from_dict(d: dict) -> ModelConfig:
    d = dict(d)
    for key in ("hidden", "conv_channels", "image_shape"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    return ModelConfig(**d)


def train_config_from_dict(d: dict) -> TrainConfig:
    return TrainConfig(**d)


def parse_sizes(text: str, what: str = "hidden sizes") -> tuple[int, ...]:
    """'256, 128' -> (256, 128). Raises InputError on anything else."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    if not parts:
        raise InputError(f"{what}: give at least one layer width, e.g. 256,128.")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not a comma-separated list of whole numbers, e.g. 256,128.") from None
    if any(s < 1 or s > 8192 for s in sizes):
        raise InputError(f"{what}: every width must be between 1 and 8192, got {list(sizes)}.")
    return sizes
