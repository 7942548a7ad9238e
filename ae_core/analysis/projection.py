"""Latent codes (or raw inputs) to 2-D/3-D coordinates for drawing.

Four methods, one call: ``project(Z, method)``.

- ``latent``: the code itself (first k coordinates; a code with fewer than k
  dimensions is padded with zeros). Only offered when the code has at most 3.
- ``pca``: a linear projection; fast, faithful to global distances.
- ``umap``: umap-learn (McInnes et al. 2018) with 15 neighbours.
- ``tsne``: openTSNE (Policar et al. 2019) with PCA initialisation, falling back
  to scikit-learn's TSNE. Above ``TSNE_MAX`` points it is fitted on a random
  subsample and the other points are placed by the fitted embedding
  (openTSNE's ``transform``) or, with scikit-learn, at the mean of their fitted
  nearest neighbours. UMAP likewise: above ``UMAP_MAX`` points it is fitted on a random subsample and
  the rest are placed by umap-learn's ``transform``, a chunk at a time, so a million codes take bounded
  time and memory.

UMAP and t-SNE are for looking only: they have no decoder and no transform that
an autoencoder's decoder could invert. ``cached_projection`` stores results as
``proj_<source>_<method>_<k>d[_<settings>].npy`` in the run's folder, so a second
view (and a server restart) is instant; a map drawn with other settings is drawn
again and its old file deleted.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ae_core.errors import InputError

METHODS = ("latent", "pca", "umap", "tsne")
METHOD_TITLES = {"latent": "the code itself", "pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
SOURCES = ("latent", "input")
TSNE_MAX = 20_000  # t-SNE is fitted on at most this many points; the rest are placed afterwards
UMAP_NEIGHBORS = 15
UMAP_SMALL = 4096  # umap-learn computes exact neighbours below this many points, NN-descent from it
UMAP_MAX = 20_000  # UMAP is fitted on at most this many points; the rest are placed afterwards
# Layout epochs for the placed points: each starts at the weighted mean of its fitted neighbours, so a
# few epochs settle it (umap-learn's transform would run a third of the fit's 200: 66).
UMAP_TRANSFORM_EPOCHS = 30
PLACE_CHUNK = 100_000  # points placed per transform call: bounds the neighbour graph held at once

Progress = Callable[..., None] | None  # progress(message, fraction=None); fraction in [0, 1] when known
# A third of openTSNE's default iterations (250 + 500) keeps the map's 5-NN accuracy at less than half the
# time; bench_projection.py checks it against the defaults every run (numbers: benchmarks/FINDINGS.md).
TSNE_EXAGGERATION_ITER, TSNE_ITER, TSNE_REPORT_EVERY = 125, 125, 25
# umap-learn runs 500 layout epochs up to 10,000 points and 200 above; 200 from 4,096 points halves the
# time with the same map quality (benchmarks/FINDINGS.md, checked by bench_projection.py).
UMAP_LARGE_EPOCHS = 200
# The settings that shape a cached map, part of its file name: a map drawn with other settings (an
# older version of this module) is drawn again, not shown as if it were today's. PCA and the code
# itself have no settings that changed.
SETTINGS_TAG = {"umap": f"n{UMAP_NEIGHBORS}-e{UMAP_LARGE_EPOCHS}",
                "tsne": f"i{TSNE_EXAGGERATION_ITER}-{TSNE_ITER}-exact"}


def _check(Z, method: str, n_components: int) -> np.ndarray:
    if method not in METHODS:
        raise InputError(f"unknown projection {method!r}; choose one of: {', '.join(METHODS)}.")
    if n_components not in (2, 3):
        raise InputError(f"a projection draws 2 or 3 dimensions, not {n_components}.")
    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 2 or Z.shape[0] < 2 or Z.shape[1] < 1:
        raise InputError(f"need an array of shape (n_samples >= 2, n_dims >= 1) to project, got shape {Z.shape}.")
    if not np.isfinite(Z).all():
        raise InputError("the codes contain NaN or infinite values (did training diverge?); retrain the run.")
    if method == "latent" and Z.shape[1] > 3:
        raise InputError(f"the code has {Z.shape[1]} dimensions, too many to draw as it is; choose pca, umap or tsne.")
    return Z


def _pad(Y: np.ndarray, k: int) -> np.ndarray:
    """Exactly k columns: extra columns are zero (a 1-D code drawn on a line)."""
    Y = np.asarray(Y, dtype=np.float32)[:, :k]
    if Y.shape[1] < k:
        Y = np.hstack([Y, np.zeros((len(Y), k - Y.shape[1]), np.float32)])
    return np.ascontiguousarray(Y)


def subsample_note(method: str, n: int) -> str | None:
    """What the page should say about how `n` points were projected, or None."""
    cap = {"tsne": TSNE_MAX, "umap": UMAP_MAX}.get(method)
    if cap is not None and n > cap:
        return (f"{METHOD_TITLES[method]} was fitted on a random {cap:,} of the {n:,} points; "
                "the others were placed into that map afterwards.")
    return None


def project(Z, method: str, n_components: int = 2, seed: int = 0, progress: Progress = None,
            umap: Callable[[np.ndarray, int, int], np.ndarray] | None = None) -> np.ndarray:
    """Coordinates of shape (n_samples, n_components), float32.

    Parameters
    ----------
    Z : array of shape (n_samples, n_dims)
    method : "latent" | "pca" | "umap" | "tsne"
    n_components : 2 or 3
    seed : random seed (UMAP, t-SNE, subsampling)
    progress : optional callable receiving a short message per stage
    umap : optional callable (Z, n_components, seed) -> coordinates that fits UMAP elsewhere
        (the app's `projector.Projector.fit`: a helper process); default: in this process

    Examples
    --------
    >>> project(np.random.rand(100, 5), "pca").shape
    (100, 2)
    """
    Z = _check(Z, method, n_components)
    say = progress or (lambda _message, _fraction=None: None)
    if method == "latent":
        return _pad(Z, n_components)
    if method == "pca":
        return _pad(_pca(Z, n_components, seed), n_components)
    if Z.shape[0] < 5:
        raise InputError(f"{METHOD_TITLES[method]} needs at least 5 points, got {Z.shape[0]}; use pca.")
    if method == "umap":
        say(f"UMAP on {min(len(Z), UMAP_MAX):,} points" + (f", then placing the other {len(Z) - UMAP_MAX:,}"
                                                            if len(Z) > UMAP_MAX else "")
            + " (the first run compiles UMAP's code: allow a minute)…")
        return _pad((umap or _umap)(Z, n_components, seed), n_components)
    say(f"t-SNE on {min(len(Z), TSNE_MAX):,} points…")
    return _pad(_tsne(Z, n_components, seed, say), n_components)


def _pca(Z: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = min(k, Z.shape[1], Z.shape[0])
    return PCA(n_components=k, random_state=seed).fit_transform(Z)


def _umap(Z: np.ndarray, k: int, seed: int) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        # umap-learn announces on import that its optional TensorFlow extra is missing; we don't use it.
        warnings.filterwarnings("ignore", message="Tensorflow not installed", category=ImportWarning)
        import umap  # heavy (numba): only when asked for

    n = len(Z)
    fit_idx = np.arange(n)
    if n > UMAP_MAX:
        fit_idx = np.sort(np.random.default_rng(seed).choice(n, UMAP_MAX, replace=False))
    # n_jobs=1: a fixed random_state makes UMAP single-threaded anyway (and it warns if told otherwise).
    reducer = umap.UMAP(n_neighbors=min(UMAP_NEIGHBORS, len(fit_idx) - 1), n_components=k, random_state=seed,
                        n_jobs=1, init="spectral" if len(fit_idx) > k + 1 else "random",
                        n_epochs=UMAP_LARGE_EPOCHS if len(fit_idx) >= UMAP_SMALL else None)
    fitted = reducer.fit_transform(Z[fit_idx])
    if n == len(fit_idx):
        return fitted
    out = np.empty((n, k), np.float32)
    out[fit_idx] = fitted
    rest = np.setdiff1d(np.arange(n), fit_idx)
    reducer.n_epochs = 3 * UMAP_TRANSFORM_EPOCHS  # transform runs a third of n_epochs
    for start in range(0, len(rest), PLACE_CHUNK):
        part = rest[start:start + PLACE_CHUNK]
        out[part] = reducer.transform(Z[part])
    return out


def warm_up(sizes: tuple[int, ...] = (500, UMAP_SMALL + 100), seed: int = 0) -> None:
    """Pay UMAP's one-time numba compilation on throwaway problems.

    The app's UMAP helper process (`ae_core.analysis.projection_process`) calls this a few
    seconds after start-up, so the first UMAP a user asks for costs only its
    own fit. Two sizes, because umap-learn takes two paths: exact neighbours
    below UMAP_SMALL points (the default digits run, 1,797), pynndescent's
    NN-descent from it. Warmed on 4,196 points alone, the first 1,797-point
    UMAP still took 16.2 s against 8.4 s warm; warmed on 300 alone, the first
    10,000-point one took 30.6 s against ~7 s. The compiled code lives in the
    process, so it must run in the process that fits UMAP later.
    """
    rng = np.random.default_rng(seed)
    for n in sizes:
        _umap(rng.normal(size=(n, 4)).astype(np.float32), 2, seed)


def _tsne(Z: np.ndarray, k: int, seed: int, say) -> np.ndarray:
    n = len(Z)
    fit_idx = np.arange(n)
    if n > TSNE_MAX:
        fit_idx = np.sort(np.random.default_rng(seed).choice(n, TSNE_MAX, replace=False))
    rest = np.setdiff1d(np.arange(n), fit_idx)
    perplexity = float(min(30.0, max(2.0, (len(fit_idx) - 1) / 3.0)))
    out = np.zeros((n, k), np.float32)
    try:
        from openTSNE import TSNE  # fast (FFT-accelerated) and can place new points
    except ImportError:  # pragma: no cover - openTSNE is a dependency; keep working without it
        TSNE = None
    if TSNE is not None:
        # PCA initialisation keeps the global layout sensible; one thread, Barnes-Hut and exact
        # neighbours measured fastest here at the same map quality (benchmarks/FINDINGS.md).
        steps = (TSNE_EXAGGERATION_ITER + TSNE_ITER) // TSNE_REPORT_EVERY
        done = [0]

        def report(_iteration, _error, _embedding):
            done[0] += 1
            say(f"t-SNE on {len(fit_idx):,} points: iteration {done[0] * TSNE_REPORT_EVERY} of "
                f"{steps * TSNE_REPORT_EVERY}…", min(1.0, done[0] / steps))
            return False  # keep going

        emb = TSNE(n_components=k, perplexity=perplexity, random_state=seed, n_jobs=1,
                   initialization="pca" if Z.shape[1] >= k else "random",
                   negative_gradient_method="bh" if k > 2 or len(fit_idx) < 10_000 else "fft",
                   neighbors="exact", early_exaggeration_iter=TSNE_EXAGGERATION_ITER, n_iter=TSNE_ITER,
                   callbacks=report, callbacks_every_iters=TSNE_REPORT_EVERY, verbose=False).fit(Z[fit_idx])
        out[fit_idx] = np.asarray(emb)
        if len(rest):
            say(f"placing the other {len(rest):,} points into the t-SNE map…")
            out[rest] = np.asarray(emb.transform(Z[rest]))
        return out
    from sklearn.manifold import TSNE as SkTSNE  # pragma: no cover

    out[fit_idx] = SkTSNE(n_components=k, perplexity=perplexity, init="pca" if Z.shape[1] >= k else "random",
                                random_state=seed).fit_transform(Z[fit_idx])
    if len(rest):
        out[rest] = place_by_neighbours(Z[fit_idx], out[fit_idx], Z[rest])
    return out


def place_by_neighbours(Z_fit: np.ndarray, Y_fit: np.ndarray, Z_new: np.ndarray, k: int = 5) -> np.ndarray:
    """Coordinates for new points: the mean map position of their k nearest fitted points."""
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(k, len(Z_fit))).fit(Z_fit)
    _, idx = nn.kneighbors(Z_new)
    return Y_fit[idx].mean(axis=1).astype(np.float32)


def cache_name(source: str, method: str, n_components: int) -> str:
    tag = SETTINGS_TAG.get(method)
    return f"proj_{source}_{method}_{n_components}d" + (f"_{tag}" if tag else "") + ".npy"


def _drop_stale(store, run_id: str, source: str, method: str, n_components: int) -> None:
    """Delete this map's files drawn with other settings (they are never read again)."""
    keep = cache_name(source, method, n_components)
    for old in store.folder(run_id).glob(f"proj_{source}_{method}_{n_components}d*.npy"):
        if old.name != keep:
            old.unlink(missing_ok=True)


def cached_projection(store, run_id: str, Z, method: str, n_components: int = 2, source: str = "latent",
                      seed: int = 0, progress: Progress = None, umap=None) -> np.ndarray:
    """`project(Z, ...)`, computed once per run and kept as an NPY file in the run's folder.

    Parameters
    ----------
    store : ae_core.runs.store.RunStore
    run_id : the run whose folder holds the cache
    Z : array of shape (n_samples, n_dims): the run's codes, or its scaled inputs (source="input")
    source : "latent" | "input", part of the file name so the two never mix
    progress, umap : as in `project`
    """
    if source not in SOURCES:
        raise InputError(f"unknown projection source {source!r}; choose one of: {', '.join(SOURCES)}.")
    _check(Z, method, n_components)
    name = cache_name(source, method, n_components)
    cached = store.read_array(run_id, name)
    if cached is not None and cached.shape == (len(Z), n_components):
        return cached
    Y = project(Z, method, n_components, seed=seed, progress=progress, umap=umap)
    store.write_array(run_id, name, Y)
    _drop_stale(store, run_id, source, method, n_components)
    return Y
