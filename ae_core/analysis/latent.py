"""What the Latent-space page shows, computed without Streamlit.

A finished run (``loaded.LoadedRun``, or anything with the same attributes:
``model``, ``scaler``, ``dataset``, ``X``, ``latent``, ``split``,
``recon_error``, ``array(name)``) goes in; tables, images and coordinates come
out. The decoder's view of a 2-D code (`decode_plane`), the per-row table behind
the scatter and its CSV (`latent_frame`, `safe_csv`), the samples a user
selected next to their reconstructions, and the code's evolution over training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ae_core.analysis.metrics import decode, reconstruct
from ae_core.data.preprocessing import split_names
from ae_core.errors import InputError

LABEL, ERROR, SPLIT = "label", "reconstruction error", "split"
MAX_SHOWN = 32  # selected samples drawn as thumbnails / table rows
VIEW_MAX = 20_000  # secondary scatters (raw input vs code) draw a random subset above this


# ---- choices the page offers ---------------------------------------------------


def projection_choices(latent_dim: int) -> list[str]:
    """Projection methods worth offering for a code of this size, the default first."""
    return ["latent", "pca", "umap", "tsne"] if latent_dim <= 3 else ["pca", "umap", "tsne"]


def dims_choices(method: str, latent_dim: int) -> list[int]:
    """2 and/or 3: a 2-D code drawn as itself has no third axis."""
    return [2] if method == "latent" and latent_dim < 3 else [2, 3]


def colour_choices(frame: pd.DataFrame) -> list[str]:
    """Columns of a `latent_frame` that make sense as a colour: label, error, split, the data's own."""
    out = [LABEL] if LABEL in frame.columns else []
    return out + [ERROR, SPLIT] + list(frame.attrs.get("data_columns", []))


# ---- the per-row table -----------------------------------------------------------


def _data_columns(run, reserved) -> pd.DataFrame:
    """The dataset's extra columns, renamed where they would clash with ours."""
    cols = run.dataset.columns
    if cols is None or len(cols.columns) == 0:
        return pd.DataFrame(index=range(len(run.latent)))
    cols = cols.reset_index(drop=True)
    names, seen = [], set(reserved)
    for c in cols.columns:
        name = str(c)
        while name in seen:
            name = f"{name} (data)"
        seen.add(name)
        names.append(name)
    out = cols.copy()
    out.columns = names
    return out


def latent_frame(run, coords=None, method: str | None = None) -> pd.DataFrame:
    """One row per sample: row number, code z1..zD, [projection], label, split, error, data columns.

    Parameters
    ----------
    run : a finished run (see module docstring)
    coords : optional array of shape (n_samples, k) of projected coordinates
    method : the projection's name, used for those columns ("pca_1", ...)
    """
    Z = np.asarray(run.latent)
    df = pd.DataFrame({"row": np.arange(len(Z))})
    for j in range(Z.shape[1]):
        df[f"z{j + 1}"] = Z[:, j]
    if coords is not None:
        coords = np.asarray(coords)
        if len(coords) != len(Z):
            raise InputError(f"got {len(coords)} projected points for {len(Z)} codes.")
        for j in range(coords.shape[1]):
            df[f"{method or 'proj'}_{j + 1}"] = coords[:, j]
    labels = run.dataset.label_names()
    if labels is not None:
        df[LABEL] = labels
    df[SPLIT] = split_names(run.split)
    df[ERROR] = np.asarray(run.recon_error, dtype=np.float64)
    extra = _data_columns(run, reserved=set(df.columns))
    out = pd.concat([df, extra], axis=1) if len(extra.columns) else df
    out.attrs["data_columns"] = list(extra.columns)
    return out


def hover_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The scatter's tooltip lines: row, label (if any), reconstruction error, and an image's file (a person's
    own images: the name finds it again) (see `plots.latent_scatter`)."""
    names = ["row"] + ([LABEL] if LABEL in frame else []) + [ERROR] + (["file"] if "file" in frame else [])
    return {name: frame[name] for name in names}


def view_rows(n: int, limit: int = VIEW_MAX, seed: int = 0) -> np.ndarray:
    """Sorted row indices to draw in a secondary view: all of range(n), or a seeded random `limit`."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8) with text cells and headers neutralised against formula injection.

    Numbers are left alone: -1.5 is data, not a formula.
    """
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for c in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c])):
            out[c] = out[c].map(neutralise)
    return out.to_csv(index=False).encode("utf-8")


# ---- selections ------------------------------------------------------------------


def rows_from_selection(selection) -> list[int]:
    """Row indices from a Streamlit plotly selection: each point's customdata (our row number).

    `point_indices` count within a trace, so with one trace per class they are not rows.
    With several values per point (row, then hover numbers) the row is the first; the
    browser sends a row of a typed array as an object with keys "0", "1", ...
    """
    if not selection:
        return []
    rows = []
    for p in selection.get("points", []) or []:
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        elif isinstance(cd, dict):
            cd = cd.get("0", cd.get(0))
        if cd is not None:
            rows.append(int(cd))
    return sorted(set(rows))


def as_images(X_scaled, image_shape) -> np.ndarray:
    """Scaled image rows (n, h*w[*3]) as (n, h, w[, 3]) in [0, 1]."""
    X_scaled = np.asarray(X_scaled, dtype=np.float32)
    return np.clip(X_scaled, 0, 1).reshape(len(X_scaled), *image_shape)


def as_thumbnail(x_scaled, image_shape, px: int = 220) -> np.ndarray:
    """One scaled image row as a uint8 picture about `px` pixels wide: dark ink on white, each
    pixel a sharp square (a browser would blur an 8x8 digit scaled up smoothly)."""
    img = as_images(np.asarray(x_scaled)[None], image_shape)[0]
    img = 1.0 - img if img.ndim == 2 else img  # colour pictures as they are
    k = max(1, px // max(image_shape[:2]))
    return (img.repeat(k, axis=0).repeat(k, axis=1) * 255 + 0.5).astype(np.uint8)


def selection_images(run, rows, limit: int = MAX_SHOWN):
    """Originals and reconstructions of the first `limit` selected rows, with titles.

    Returns (originals (n, h, w), reconstructions (n, h, w), titles, reconstruction titles).
    """
    if run.dataset.image_shape is None:
        raise InputError("thumbnails are for image datasets; this one is tabular.")
    rows = np.asarray(rows, dtype=np.int64)[:limit]
    X = run.X[rows]
    X_hat = reconstruct(run.model, X)
    labels = run.dataset.label_names()
    titles = [f"#{r}" + (f" · {labels[r]}" if labels is not None else "") for r in rows]
    errors = [f"{e:.3f}" for e in np.asarray(run.recon_error)[rows]]
    shape = run.dataset.image_shape
    return as_images(X, shape), as_images(X_hat, shape), titles, errors


def compare_rows(run, rows, limit: int = MAX_SHOWN) -> pd.DataFrame:
    """Tabular rows in original units next to their reconstructions: two lines per sample."""
    rows = np.asarray(rows, dtype=np.int64)[:limit]
    X = run.X[rows]
    original = run.scaler.inverse_transform(X)
    rebuilt = run.scaler.inverse_transform(reconstruct(run.model, X))
    names = list(run.dataset.feature_names) or [f"x{j + 1}" for j in range(X.shape[1])]
    labels = run.dataset.label_names()
    records = []
    for i, r in enumerate(rows):
        for kind, values in (("original", original[i]), ("reconstructed", rebuilt[i])):
            rec = {"row": int(r), "": kind}
            if labels is not None:
                rec[LABEL] = labels[r]
            rec.update(zip(names, values.tolist()))
            records.append(rec)
    return pd.DataFrame.from_records(records)


# ---- the decoder across the plane ------------------------------------------------


def latent_range(Z, q: tuple[float, float] = (1.0, 99.0), pad: float = 0.1):
    """((z1_lo, z1_hi), (z2_lo, z2_hi)): where most codes lie, from percentiles, padded."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 2 or len(Z) == 0:
        raise InputError(f"the plane needs a 2-D code; this code has shape {Z.shape}.")
    lo, hi = np.percentile(Z, q, axis=0)
    span = np.maximum(hi - lo, 1e-6)
    return tuple((float(a - pad * s), float(b + pad * s)) for a, b, s in zip(lo, hi, span))


def plane_values(z_range, n: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """The n code values along z1 and along z2, increasing."""
    (a, b), (c, d) = z_range
    return np.linspace(a, b, n), np.linspace(c, d, n)


def decode_plane(model, z_range, n: int = 15) -> np.ndarray:
    """Decoded inputs on an n x n grid across a 2-D latent plane, through `model` (an Autoencoder or
    a run's `decoder`).

    Returns
    -------
    array of shape (n, n, n_features), scaled units; row 0 is the highest z2 (the top
    of a picture), column 0 the lowest z1.
    """
    if model.cfg.latent_dim != 2:
        raise InputError(f"decoding the plane needs a 2-D code; this run's code has {model.cfg.latent_dim} dimensions.")
    if not 2 <= n <= 40:
        raise InputError(f"the plane grid must be between 2 and 40 cells a side, got {n}.")
    z1, z2 = plane_values(z_range, n)
    g1, g2 = np.meshgrid(z1, z2[::-1])  # (n, n): top row = highest z2
    Z = np.stack([g1.ravel(), g2.ravel()], axis=1).astype(np.float32)
    return decode(model, Z).reshape(n, n, -1)


def decode_point(model, z) -> np.ndarray:
    """The decoder's output (n_features,) in scaled units for one code z."""
    z = np.asarray(z, dtype=np.float32).reshape(1, -1)
    if z.shape[1] != model.cfg.latent_dim:
        raise InputError(f"this code has {model.cfg.latent_dim} dimensions; got a point with {z.shape[1]}.")
    return decode(model, z)[0]


def decoded_row(run, z) -> pd.DataFrame:
    """The decoder's output for code z as a table in the data's own units: feature, decoded value."""
    values = run.scaler.inverse_transform(decode_point(run.decoder, z)[None])[0]
    names = list(run.dataset.feature_names) or [f"x{j + 1}" for j in range(len(values))]
    return pd.DataFrame({"feature": names, "decoded value": values.astype(np.float64)})


# ---- evolution over training -------------------------------------------------------


@dataclass(frozen=True)
class Evolution:
    frames: np.ndarray  # (n_frames, n, 2): the first is epoch 0, the untrained code
    epochs: list[int]  # each frame's epoch: every epoch, or every k-th of a long run (runs.execute.EvolutionFrames)
    index: np.ndarray  # (n,) the dataset rows these points are


def evolution_frames(run, method: str = "pca") -> Evolution | None:
    """The codes of a fixed subset over training (each recorded epoch's) mapped to 2-D, comparable across epochs.

    method "latent" draws a code of at most 2 dimensions as it is (1-D codes on a line);
    "pca" fits one PCA on the final epoch and applies it to every epoch, so the axes
    mean the same thing throughout. Each frame is then centred and scaled to unit RMS
    radius: the code's size changes a lot during training, and the shape is the point.
    Returns None when the run stored no evolution.
    """
    codes, index = run.array("evolution.npy"), run.array("evolution_index.npy")
    if codes is None or index is None:
        return None
    codes = np.asarray(codes, dtype=np.float64)  # (E + 1, n, D)
    E1, n, D = codes.shape
    if method == "latent":
        if D > 2:
            raise InputError(f"a {D}-D code cannot be drawn as it is in 2-D; use pca.")
        flat = codes if D == 2 else np.concatenate([codes, np.zeros((E1, n, 1))], axis=2)
    elif method == "pca":
        if D <= 2:
            flat = codes if D == 2 else np.concatenate([codes, np.zeros((E1, n, 1))], axis=2)
        else:
            from sklearn.decomposition import PCA

            pca = PCA(n_components=2, random_state=0).fit(codes[-1])
            flat = np.stack([pca.transform(c) for c in codes])
    else:
        raise InputError(f"the evolution is drawn with 'latent' or 'pca' (one map for all epochs), not {method!r}.")
    centred = flat - flat.mean(axis=1, keepdims=True)
    rms = np.sqrt((centred ** 2).sum(axis=2).mean(axis=1))[:, None, None]
    frames = centred / np.where(rms > 1e-12, rms, 1.0)
    epochs = run.array("evolution_epochs.npy")  # the epoch of each frame; a run from before had one per epoch
    epochs = list(range(E1)) if epochs is None else [int(e) for e in epochs]
    return Evolution(frames.astype(np.float32), epochs, np.asarray(index, dtype=np.int64))
