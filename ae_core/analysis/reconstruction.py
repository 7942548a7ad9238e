"""What the Reconstructions page shows: held-out samples next to their
reconstructions, which features a tabular model gets wrong, walks between two
codes, samples from a VAE's prior, and code size versus reconstruction error
(the compression trade-off) for autoencoders and PCA.

Every function takes a model, plain arrays, run records or a `LoadedRun`
(anything with `.model`, `.X`, `.split`, `.dataset`, `.scaler`), never
Streamlit. All errors are mean squared errors in *scaled* units: pixels in
[0, 1] for images, standard deviations for tabular data, exactly as the
training loss and the `test_mse` metric of every run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ae_core.analysis.metrics import decode, encode, pca_baseline, reconstruct, reconstruction_errors
from ae_core.data.preprocessing import held_out_rows
from ae_core.errors import InputError

HOW = ("random", "by class", "best", "worst")
CODE_SIZES = (2, 4, 8, 16, 32)


# ---- samples and their reconstructions ----------------------------------------------


@dataclass(frozen=True)
class SampleSet:
    """Chosen test rows with their reconstructions.

    Attributes
    ----------
    rows : int array of shape (n,), row numbers in the dataset
    original, reconstructed : arrays of shape (n, n_features), scaled units
    error : array of shape (n,), per-sample MSE in scaled units
    labels : array of shape (n,) of class names, or None
    """

    rows: np.ndarray
    original: np.ndarray
    reconstructed: np.ndarray
    error: np.ndarray
    labels: np.ndarray | None


def pick_samples(run, how: str = "random", n: int = 8, cls: str | None = None, seed: int = 0) -> SampleSet:
    """Choose `n` rows of the test split and reconstruct them.

    Parameters
    ----------
    run : LoadedRun (or any object with model, X, split, dataset)
    how : "random" | "by class" | "best" (lowest error) | "worst" (highest error)
    n : how many samples (fewer if the test split is smaller)
    cls : class name, for how="by class"
    seed : random seed for "random" and "by class"
    """
    if how not in HOW:
        raise InputError(f"unknown choice {how!r}; choose one of: {', '.join(HOW)}.")
    if n < 1:
        raise InputError(f"choose at least one sample, not {n}.")
    rows = held_out_rows(run.split)
    names = run.dataset.label_names()
    if how == "by class":
        if names is None:
            raise InputError("this dataset has no classes; choose random, best or worst samples instead.")
        if cls is None or cls not in set(names[rows]):
            raise InputError(f"no test sample of class {str(cls)[:40]!r}; choose one of: {', '.join(class_choices(run))}.")
        rows = rows[names[rows] == cls]
    if len(rows) == 0:
        raise InputError("this run has no test samples to show.")
    X = run.X[rows]
    err = reconstruction_errors(X, reconstruct(run.model, X))
    if how in ("best", "worst"):
        order = np.argsort(err, kind="stable")
        chosen = order[:n] if how == "best" else order[::-1][:n]
    else:
        chosen = np.sort(np.random.default_rng(seed).choice(len(rows), min(n, len(rows)), replace=False))
    X = X[chosen]
    X_hat = reconstruct(run.model, X)
    picked = rows[chosen]
    return SampleSet(picked, X, X_hat, reconstruction_errors(X, X_hat), None if names is None else names[picked])


def class_choices(run) -> list[str]:
    """Class names present in the test split, sorted; [] without labels."""
    names = run.dataset.label_names()
    return [] if names is None else sorted(set(names[held_out_rows(run.split)]))


def sample_titles(samples: SampleSet) -> tuple[list[str], list[str]]:
    """Titles for a figure of originals above reconstructions: row (and class) above, error below."""
    labels = samples.labels if samples.labels is not None else [None] * len(samples.rows)
    top = [f"row {r}" + (f" · {c}" if c is not None else "") for r, c in zip(samples.rows, labels)]
    return top, [f"MSE {e:.4f}" for e in samples.error]


def samples_frame(samples: SampleSet) -> pd.DataFrame:
    """row, class (where labelled) and reconstruction MSE of chosen samples."""
    df = pd.DataFrame({"row": samples.rows})
    if samples.labels is not None:
        df["class"] = samples.labels
    df["MSE"] = samples.error
    return df


def row_choice_label(run, row: int) -> str:
    """'row 12 · class 7' (or 'row 12' without labels), for pickers of test rows."""
    names = run.dataset.label_names()
    return f"row {row}" + ("" if names is None else f" · class {names[row]}")


def default_pair(run) -> tuple[int, int]:
    """Two test rows to interpolate between: the first, and the first of another class after it."""
    rows = held_out_rows(run.split)
    if len(rows) < 2:
        raise InputError("interpolation needs at least two test samples.")
    names = run.dataset.label_names()
    other = rows[1:] if names is None else rows[1:][names[rows[1:]] != names[rows[0]]]
    return int(rows[0]), int(other[0] if len(other) else rows[1])


def feature_table(run, X_scaled: np.ndarray, column_names: list[str]) -> pd.DataFrame:
    """Features as rows, one column per scaled sample (decoded frames, prior samples), in original units."""
    names = list(run.dataset.feature_names) or [f"feature {i + 1}" for i in range(run.dataset.n_features)]
    values = run.scaler.inverse_transform(np.asarray(X_scaled)).astype(np.float64)
    if len(column_names) != len(values):
        raise InputError(f"{len(column_names)} column names for {len(values)} samples.")
    return pd.DataFrame({"feature": names, **{c: values[i] for i, c in enumerate(column_names)}})


def feature_errors(X: np.ndarray, X_hat: np.ndarray, feature_names) -> pd.DataFrame:
    """Per-feature MSE in scaled units, worst first.

    Returns a DataFrame with columns `feature`, `mse`.
    """
    X, X_hat = np.asarray(X, np.float64), np.asarray(X_hat, np.float64)
    if X.shape != X_hat.shape or X.ndim != 2:
        raise InputError(f"originals {X.shape} and reconstructions {X_hat.shape} must have the same 2-D shape.")
    names = list(feature_names) or [f"feature {i + 1}" for i in range(X.shape[1])]
    mse = ((X - X_hat) ** 2).mean(axis=0)
    df = pd.DataFrame({"feature": names, "mse": mse})
    return df.sort_values("mse", ascending=False, kind="stable").reset_index(drop=True)


def held_out_feature_errors(run) -> pd.DataFrame:
    """`feature_errors` over the whole test split of a run."""
    X = run.X[held_out_rows(run.split)]
    return feature_errors(X, reconstruct(run.model, X), run.dataset.feature_names)


def original_vs_reconstructed(run, samples: SampleSet) -> pd.DataFrame:
    """Features as rows; for each sample its original and reconstructed value in the data's own units.

    Original values are the raw data (NaN where a value was missing); the
    reconstruction is mapped back with the run's scaler.
    """
    names = list(run.dataset.feature_names) or [f"feature {i + 1}" for i in range(run.dataset.n_features)]
    raw = np.asarray(run.dataset.X, np.float64)[samples.rows]
    rec = run.scaler.inverse_transform(samples.reconstructed).astype(np.float64)
    cols = {"feature": names}
    for i, row in enumerate(samples.rows):
        cols[f"row {row}: original"] = raw[i]
        cols[f"row {row}: reconstructed"] = rec[i]
    return pd.DataFrame(cols)


# ---- generation ----------------------------------------------------------------------


def interpolate(model, x_a: np.ndarray, x_b: np.ndarray, steps: int = 8) -> np.ndarray:
    """Decoded frames along the straight line between the codes of two inputs.

    Parameters
    ----------
    x_a, x_b : arrays of shape (n_features,), scaled inputs
    steps : number of frames including both ends (2..64)

    Returns
    -------
    array of shape (steps, n_features): decode((1 - t) z_a + t z_b), t = 0 .. 1
    """
    if not 2 <= steps <= 64:
        raise InputError(f"choose between 2 and 64 interpolation steps, not {steps}.")
    Z = encode(model, np.stack([np.asarray(x_a, np.float32), np.asarray(x_b, np.float32)]))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return decode(model, (1 - t) * Z[0] + t * Z[1])


def prior_samples(model, n: int = 16, seed: int = 0) -> np.ndarray:
    """Decode `n` codes drawn from the prior N(0, I): new data from a VAE, shape (n, n_features)."""
    if not model.cfg.variational:
        raise InputError("only a variational autoencoder has a prior to sample from; train the variational variant.")
    if not 1 <= n <= 256:
        raise InputError(f"choose between 1 and 256 samples, not {n}.")
    Z = np.random.default_rng(seed).standard_normal((n, model.cfg.latent_dim)).astype(np.float32)
    return decode(model, Z)


# ---- compression: code size versus error ----------------------------------------------


def _family(config: dict) -> tuple:
    ds = config.get("dataset", {})
    return ds.get("name"), repr(sorted((ds.get("options") or {}).items())), config.get("variant")


def same_family(records, ref) -> list:
    """Records trained on the same dataset (and options) with the same variant as `ref`."""
    key = _family(ref.config)
    return [r for r in records if _family(r.config) == key]


def code_sizes(n_features: int, extra=()) -> list[int]:
    """Code sizes to compare: 2, 4, 8, 16, 32 below the number of features, plus `extra`."""
    sizes = {k for k in CODE_SIZES if k < n_features} | {int(k) for k in extra if 0 < int(k) < n_features}
    return sorted(sizes or {1})


def pca_errors(X_train: np.ndarray, X_test: np.ndarray, sizes, seed: int = 0) -> dict[int, float]:
    """PCA's test reconstruction MSE at each code size (fitted on the training rows)."""
    out = {}
    for k in sizes:
        _, X_pca = pca_baseline(X_train, X_test, int(k), seed)
        out[int(k)] = float(reconstruction_errors(X_test, X_pca).mean())
    return out


def rate_distortion(records, X_train: np.ndarray, X_test: np.ndarray, sizes=None, seed: int = 0,
                    pca: dict[int, float] | None = None) -> pd.DataFrame:
    """Code size versus test reconstruction MSE for autoencoder runs and for PCA.

    Parameters
    ----------
    records : RunRecord list, the finished runs of one dataset and variant
        (see `same_family`); where several share a code size the lowest error wins
    X_train, X_test : scaled arrays of one run's split, for PCA
    sizes : code sizes to include; default `code_sizes(n_features, run sizes)`
    pca : PCA errors from `pca_errors` already computed (sizes missing from it are computed)

    Returns
    -------
    DataFrame with columns `code size`, `AE test MSE` (NaN where no run has that
    size yet), `PCA test MSE`, `run` (id or ""), one row per code size.
    """
    n_features = X_train.shape[1]
    done = [r for r in records if r.status == "done" and "test_mse" in r.metrics]
    if sizes is None:
        sizes = code_sizes(n_features, [r.latent_dim for r in done])
    pca = dict(pca or {})
    pca.update(pca_errors(X_train, X_test, [k for k in sizes if int(k) not in pca], seed))
    rows = []
    for k in sizes:
        at_k = sorted((r for r in done if r.latent_dim == k), key=lambda r: r.metrics["test_mse"])
        rows.append({
            "code size": int(k),
            "AE test MSE": float(at_k[0].metrics["test_mse"]) if at_k else float("nan"),
            "PCA test MSE": pca[int(k)],
            "run": at_k[0].id if at_k else "",
        })
    return pd.DataFrame(rows, columns=["code size", "AE test MSE", "PCA test MSE", "run"])


def missing_sizes(table: pd.DataFrame, family_records) -> list[int]:
    """Code sizes in `table` without a finished AE run and without one queued or running."""
    busy = {r.latent_dim for r in family_records if r.active}
    return [int(k) for k, e in zip(table["code size"], table["AE test MSE"]) if np.isnan(e) and int(k) not in busy]


def rate_distortion_summary(table: pd.DataFrame) -> str:
    """One sentence: at which code sizes the autoencoder beats PCA, and where it does not."""
    ae = table.dropna(subset=["AE test MSE"])
    if ae.empty:
        return "No autoencoder run yet at these code sizes: only PCA is drawn."
    better = [str(k) for k, a, p in zip(ae["code size"], ae["AE test MSE"], ae["PCA test MSE"]) if a < p]
    worse = [str(k) for k, a, p in zip(ae["code size"], ae["AE test MSE"], ae["PCA test MSE"]) if a >= p]
    parts = []
    if better:
        parts.append(f"the autoencoder reconstructs better than PCA at code size {', '.join(better)}")
    if worse:
        parts.append(f"PCA is as good or better at {', '.join(worse)}"
                     + (" (a larger code gives PCA almost every direction of the data; the network may need "
                        "more epochs or wider layers to keep up)" if max(map(int, worse)) >= 8 else ""))
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _number(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def compression_ratio_text(n_features: int, latent_dim: int, image_shape: tuple[int, int] | None = None) -> str:
    """The compression of a code in plain words.

    >>> compression_ratio_text(64, 2, (8, 8))
    'each 64-pixel image is stored as 2 numbers: 32x smaller'
    """
    if n_features < 1 or latent_dim < 1:
        raise InputError(f"need positive sizes, got {n_features} features and a {latent_dim}-number code.")
    what = f"each {n_features}-pixel image" if image_shape is not None else f"each row of {n_features} values"
    numbers = "1 number" if latent_dim == 1 else f"{latent_dim} numbers"
    ratio = n_features / latent_dim
    if ratio > 1:
        how = f"{_number(ratio)}x smaller"
    elif ratio == 1:
        how = "no smaller"
    else:
        how = f"{_number(1 / ratio)}x larger (no compression)"
    return f"{what} is stored as {numbers}: {how}"
