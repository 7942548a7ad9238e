"""The Train page's dataset preview: a few facts and the first rows, as plain data."""

from __future__ import annotations

import numpy as np
import pandas as pd


def dataset_facts(ds) -> list[tuple[str, str]]:
    """(label, value) pairs that describe a Dataset at a glance."""
    facts = [("rows", f"{ds.n_samples:,}"), ("features", f"{ds.n_features:,}")]
    if ds.image_shape is not None:
        colour = ", RGB" if len(ds.image_shape) == 3 else ""
        facts.append(("image size", f"{ds.image_shape[0]}x{ds.image_shape[1]} pixels{colour}"))
    if ds.y is not None:
        names = ds.class_names or tuple(str(i) for i in np.unique(ds.y))
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        facts.append(("classes", f"{len(names)}: {shown}"))
    else:
        facts.append(("classes", "none (unlabelled)"))
    if ds.is_outlier is not None:
        facts.append(("known outliers", f"{int(np.sum(ds.is_outlier)):,}"))
    return facts


def preview_table(ds, n: int = 20) -> pd.DataFrame:
    """The first `n` rows of a tabular Dataset, with its class column first."""
    names = list(ds.feature_names) if len(ds.feature_names) == ds.n_features else [f"x{i}" for i in range(ds.n_features)]
    df = pd.DataFrame(ds.X[:n], columns=names)
    labels = ds.label_names()
    if labels is not None:
        df.insert(0, "class", labels[:n])
    return df
