"""Anomaly detection by reconstruction error.

An autoencoder trained on normal data rebuilds normal rows well and unusual
rows badly, so the reconstruction error is an anomaly score:
score(x) = mean_j (x_j − x̂_j)² (the run's `recon_error.npy`). A row is flagged
when its score is above a threshold, chosen either as a percentile of the
*training* errors ("the worst 1% of what it trained on is already suspicious")
or from an expected contamination (flag the top c of the rows shown).

When the truth is known (the "outliers" dataset, or a one-class run trained on
some classes only, where every other class is an anomaly) ROC and
precision-recall curves say how well the score separates the two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ae_core.analysis.anomaly_scores import DEFAULT_SCORE, SCORES
from ae_core.data.preprocessing import SplitCode, held_out_rows, split_names
from ae_core.data.preprocessing import anomaly_truth as truth
from ae_core.errors import InputError

# ---- thresholds ---------------------------------------------------------------


def _errors(errors) -> np.ndarray:
    e = np.asarray(errors, np.float64).ravel()
    if e.size == 0:
        raise InputError("there are no reconstruction errors to set a threshold from.")
    if not np.isfinite(e).all():
        raise InputError("some reconstruction errors are NaN or infinite (did training diverge?); retrain the run.")
    return e


def threshold_from_percentile(normal_errors, pct: float) -> float:
    """The `pct`-th percentile of the scores of normal rows: rows scoring above it are flagged."""
    if not 0.0 <= pct <= 100.0:
        raise InputError(f"the percentile must be between 0 and 100, got {pct}.")
    return float(np.percentile(_errors(normal_errors), pct))


def threshold_from_contamination(errors, c: float) -> float:
    """The threshold that flags the highest fraction `c` of `errors` (0 < c < 1)."""
    if not 0.0 < c < 1.0:
        raise InputError(f"the contamination must be a fraction between 0 and 1 (e.g. 0.03 for 3%), got {c}.")
    return float(np.quantile(_errors(errors), 1.0 - c))


def threshold_for(errors, split, how: str, value: float) -> float:
    """The page's threshold: `how` = "percentile" (of the validation rows' scores, `value` in 0..100) or
    "contamination" (the share of all rows to flag, `value` in percent).

    Validation rows, not training rows: they are normal rows the model did not fit, so a 99th percentile
    flags about 1 % of new normal rows. Training rows score lower than new ones, by far with the
    nearest-neighbour scores (each training row is its own nearest neighbour). Training rows only where a run
    has no validation rows."""
    if how == "percentile":
        split = np.asarray(split)
        normal = split == SplitCode.VALIDATION if (split == SplitCode.VALIDATION).any() else split == SplitCode.TRAIN
        return threshold_from_percentile(np.asarray(errors)[normal], value)
    if how == "contamination":
        return threshold_from_contamination(errors, value / 100)
    raise InputError(f"a threshold is set by 'percentile' or 'contamination', not {how!r}.")


def flag(errors, threshold: float) -> np.ndarray:
    """True where the score is above the threshold."""
    return np.asarray(errors, np.float64) > threshold


# ---- what the truth is --------------------------------------------------------


def graded_truth(truth, split) -> np.ndarray | None:
    """The known anomalies among the test rows, when they can grade a score (both anomalies and normal rows
    among them: a ROC curve needs both); else None."""
    if truth is None:
        return None
    t = np.asarray(truth, bool)[held_out_rows(split)]
    return t if 0 < t.sum() < len(t) else None


def normal_classes(run) -> list[int] | None:
    """The classes a one-class run trained on, or None for an ordinary run."""
    classes = run.record.config.get("train_classes")
    return [int(c) for c in classes] if classes else None


def anomaly_truth(run) -> np.ndarray | None:
    """Known anomalies per row (bool), or None: classes left out of training, else the labelled outliers."""
    return truth(run.dataset, normal_classes(run))


# ---- frames for the page --------------------------------------------------------


def _labels(run) -> np.ndarray | None:
    return run.dataset.label_names()


def _scores(run, scores) -> np.ndarray:
    return np.asarray(run.recon_error if scores is None else scores, np.float64)


def run_scores(run, method: str = DEFAULT_SCORE) -> np.ndarray:
    """The anomaly score of every row of a finished run, higher = more anomalous (`method`: one of
    `anomaly_scores.SCORES`). "reconstruction" is the run's stored error; the others are referenced to its
    validation rows (held-out rows the model did not train on) and its training rows' codes."""
    if method not in SCORES:
        raise InputError(f"unknown anomaly score {method!r}; choose one of: {', '.join(SCORES)}.")
    if method == "reconstruction":
        return _scores(run, None)
    from ae_core.analysis.anomaly_scores import model_reference, model_scores, needs
    from ae_core.analysis.metrics import reconstruct

    X, Z, split, m = run.X, run.latent, np.asarray(run.split), run.model
    recon = reconstruct(m, X)
    val, train = split == SplitCode.VALIDATION, split == SplitCode.TRAIN
    ref = model_reference(m, X[train], X[val], Z[train], Z[val], recon_val=recon[val],
                          hidden="hidden" in needs(method))
    return model_scores(method, ref, m, X, recon, Z)


def error_histogram_frame(run, group_by: str = "split", scores=None) -> pd.DataFrame:
    """One row per data row: score (`scores`, default the reconstruction error) and the group to colour by
    ("split" or "class")."""
    err = _scores(run, scores)
    if group_by == "split":
        group = split_names(run.split)
    elif group_by == "class":
        labels = _labels(run)
        if labels is None:
            raise InputError("this dataset has no classes; group the errors by split instead.")
        group = labels
    else:
        raise InputError(f"group the errors by 'split' or 'class', not {group_by!r}.")
    return pd.DataFrame({"error": err, "group": np.asarray(group, dtype=object), "row": np.arange(len(err))})


def roc_pr(errors, is_anomaly) -> dict:
    """ROC and precision-recall curves of the score against the truth, with their areas.

    Returns a dict with fpr, tpr, precision, recall (arrays), roc_auc, pr_auc
    (average precision, sklearn's summary of the PR curve), prevalence (the
    PR curve of a random score) and n.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    e = _errors(errors)
    y = np.asarray(is_anomaly, bool).ravel()
    if y.shape != e.shape:
        raise InputError(f"{len(y)} labels for {len(e)} scores.")
    if y.all() or not y.any():
        raise InputError("ROC needs both normal and anomalous rows among those scored; here there is only one kind.")
    fpr, tpr, _ = roc_curve(y, e)
    precision, recall, _ = precision_recall_curve(y, e)
    return {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall,
            "roc_auc": float(roc_auc_score(y, e)), "pr_auc": float(average_precision_score(y, e)),
            "prevalence": float(y.mean()), "n": int(len(y))}


def confusion_counts(flags, is_anomaly) -> dict:
    """How the flags meet the truth: true/false positives and negatives, precision and recall."""
    f, y = np.asarray(flags, bool), np.asarray(is_anomaly, bool)
    tp, fp = int((f & y).sum()), int((f & ~y).sum())
    fn, tn = int((~f & y).sum()), int((~f & ~y).sum())
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": tp / (tp + fp) if tp + fp else float("nan"), "recall": tp / (tp + fn) if tp + fn else float("nan")}


def row_squared_errors(run, rows) -> np.ndarray:
    """Per-feature squared reconstruction errors (len(rows), n_features), scaled units."""
    from ae_core.analysis.metrics import reconstruct

    X = run.X[np.asarray(rows, np.int64)]
    return (np.asarray(X, np.float64) - reconstruct(run.model, X)) ** 2


def most_anomalous(run, n: int = 12, rows=None, n_features: int = 3, scores=None) -> pd.DataFrame:
    """The `n` highest-scoring rows (among `rows`, default all), worst first.

    Columns: row, split, score, label (if any) and, for tabular data,
    worst_features: the features whose squared error is largest, with the value
    and its reconstruction in the data's own units.
    """
    err = _scores(run, scores)
    cand = np.arange(len(err)) if rows is None else np.asarray(rows, np.int64)
    top = cand[np.argsort(-err[cand], kind="stable")[: max(0, int(n))]]
    out = pd.DataFrame({"row": top, "split": split_names(run.split[top]), "score": err[top]})
    labels = _labels(run)
    if labels is not None:
        out["label"] = labels[top]
    if run.dataset.kind != "image" and len(top):
        from ae_core.analysis.metrics import reconstruct

        names = list(run.dataset.feature_names) or [f"x{i}" for i in range(run.X.shape[1])]
        X = run.X[top]
        X_hat = reconstruct(run.model, X)
        sq = (np.asarray(X, np.float64) - X_hat) ** 2
        raw, raw_hat = run.scaler.inverse_transform(X), run.scaler.inverse_transform(X_hat)
        texts = []
        for i in range(len(top)):
            worst = np.argsort(-sq[i], kind="stable")[:n_features]
            texts.append("; ".join(f"{names[j]}: {raw[i, j]:.3g} (rebuilt {raw_hat[i, j]:.3g})" for j in worst))
        out["worst_features"] = texts
    return out


def flagged_frame(run, threshold: float, only_flagged: bool = True, scores=None) -> pd.DataFrame:
    """Rows with their score, flag, split, label and original values, worst first (see flagged_csv)."""
    err = _scores(run, scores)
    flags = flag(err, threshold)
    ds = run.dataset
    frame = pd.DataFrame({"row": np.arange(len(err)), "split": split_names(run.split),
                          "score": err, "flagged": flags})
    labels = _labels(run)
    if labels is not None:
        frame["label"] = labels
    truth = anomaly_truth(run)
    if truth is not None:
        frame["known_anomaly"] = truth
    if ds.columns is not None and len(ds.columns) == len(err):
        values = ds.columns.reset_index(drop=True)
    else:
        values = pd.DataFrame(ds.X, columns=list(ds.feature_names) or [f"x{i}" for i in range(ds.n_features)])
    values = values.rename(columns=lambda c: f"{c} (value)" if c in frame.columns else c)
    frame = pd.concat([frame, values], axis=1)
    if only_flagged:
        frame = frame[frame["flagged"]]
    return frame.sort_values("score", ascending=False).reset_index(drop=True)


def flagged_csv(run, threshold: float, scores=None) -> bytes:
    """The flagged rows as UTF-8 CSV, text cells neutralised against formula injection (ae_core.analysis.latent.safe_csv)."""
    from ae_core.analysis.latent import safe_csv

    return safe_csv(flagged_frame(run, threshold, scores=scores))


def row_hover(run, scores=None) -> list[str]:
    """Hover text per row: its number, score and class."""
    labels = _labels(run)
    return [f"row {i} · score {e:.3g}" + (f" · {labels[i]}" if labels is not None else "")
            for i, e in enumerate(_scores(run, scores))]


def tile_titles(top: pd.DataFrame) -> list[str]:
    """Short titles for thumbnails of `most_anomalous` rows: the score, and the class if known."""
    labels = top["label"] if "label" in top else [None] * len(top)
    return [f"{s:.3g}" + (f" · {lab}" if lab is not None else "") for s, lab in zip(top["score"], labels)]


def scatter_coordinates(run, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D points to draw the code: the code itself when it has 1-2 dimensions, else its PCA."""
    from ae_core.analysis.projection import project

    Z = run.latent
    method = "latent" if Z.shape[1] <= 2 else "pca"
    return project(Z, method, 2, seed), ("the code itself" if method == "latent" else "PCA of the code")
