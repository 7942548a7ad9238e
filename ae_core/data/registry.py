"""The dataset registry: built-in sets that work offline, real image sets from
local files, and user CSVs.

Every loader returns a `Dataset`: float32 features in raw units (scaling is
fitted later, on the training split), optional class labels, and what a person
needs to read it (a description, feature or class names, the image shape).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ae_core.errors import InputError

MAX_CLASSES = 50  # a label column with more distinct values colours continuously instead


class Deferred:
    """An array made on first use, once (thread-safe), read-only; its shape is known before.

    A Dataset's `X` may be one: the 70,000 images of MNIST take most of a second to read, and a
    page that draws a finished run's code needs only the labels.
    """

    def __init__(self, make: Callable[[], np.ndarray], shape: tuple[int, ...]):
        self._make, self.shape, self._value, self._lock = make, tuple(shape), None, threading.Lock()

    def get(self) -> np.ndarray:
        with self._lock:
            if self._value is None:
                value = self._make()
                if value.shape != self.shape:
                    raise InputError(f"the data files changed while in use (expected {self.shape[0]:,} rows of "
                                     f"{self.shape[1]:,} values, found {value.shape}); reload the page.")
                value.flags.writeable = False  # shared by every user of the dataset
                self._value, self._make = value, None
        return self._value


class _Field:
    """A dataclass field that holds an array or a `Deferred` one, and reads as the array."""

    def __set_name__(self, owner, name: str):
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError(self.slot)  # read by @dataclass: the field has no default
        value = obj.__dict__[self.slot]
        return value.get() if isinstance(value, Deferred) else value

    def __set__(self, obj, value):  # only from __init__: the dataclass is frozen
        obj.__dict__[self.slot] = value

    def shape(self, obj) -> tuple[int, ...]:
        """The array's shape, without making a deferred one."""
        return obj.__dict__[self.slot].shape


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    X: np.ndarray = _Field()  # float32 (n_samples, n_features), raw units; NaN = missing (tabular); may be Deferred
    kind: str  # "image" | "tabular"
    description: str
    y: np.ndarray | None = None  # int64 class index per row
    class_names: tuple[str, ...] | None = None
    image_shape: tuple[int, ...] | None = None  # (h, w) grey or (h, w, 3) colour; rows store pixels channel-last
    value_range: tuple[float, float] | None = None  # images: the fixed pixel range
    feature_names: tuple[str, ...] = ()
    is_outlier: np.ndarray | None = None  # bool per row, where outliers are known
    columns: pd.DataFrame | None = None  # extra per-row values to colour by (raw CSV rows, roll position)
    report: object | None = None  # tabular.PreparationReport for CSVs, image_folder.ImageReport for images
    title: str = ""
    row_index: np.ndarray | None = None  # CSVs: 0-based data row number in the file of each kept row

    @property
    def n_samples(self) -> int:
        return Dataset.__dict__["X"].shape(self)[0]  # a deferred X stays unread

    @property
    def n_features(self) -> int:
        return Dataset.__dict__["X"].shape(self)[1]

    def read_only(self) -> Dataset:
        """Make `X` read-only, now or (deferred) when it is read; returns self. For a dataset that
        several runs share."""
        raw = self.__dict__["_X"]
        if not isinstance(raw, Deferred):
            raw.flags.writeable = False
        return self

    @property
    def scaling(self) -> str:
        return "range" if self.kind == "image" else "standard"

    def label_names(self) -> np.ndarray | None:
        """Class name per row (strings), or None."""
        if self.y is None:
            return None
        names = np.asarray(self.class_names if self.class_names else [str(i) for i in range(self.y.max() + 1)], dtype=object)
        return names[self.y]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    kind: str
    summary: str
    loader: Callable[..., Dataset] = field(repr=False)


def _encode_labels(values) -> tuple[np.ndarray, tuple[str, ...]]:
    names, y = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return y.astype(np.int64), tuple(str(n) for n in names)


def _sklearn_digits_file() -> Path | None:
    """scikit-learn's copy of the digits (`sklearn/datasets/data/digits.csv.gz`), found without importing
    scikit-learn; None where this version keeps it elsewhere."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    return None


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(pixels, labels) as `sklearn.datasets.load_digits` returns them, read from that function's file:
    importing scikit-learn costs the server seconds on the way to every digits run's latent page
    (benchmarks/FINDINGS.md). Another layout of a future scikit-learn falls back to its loader."""
    path = _sklearn_digits_file()
    if path is None:
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data, d.target
    data = np.loadtxt(path, delimiter=",")  # 64 pixel columns, then the digit; what load_digits reads
    return data[:, :-1], data[:, -1]


def _digits(**_) -> Dataset:
    pixels, target = _digits_arrays()
    return Dataset(
        name="digits", title="Digits (8x8)", kind="image",
        description="1,797 handwritten digits, 8x8 pixels with values 0-16, ten classes (scikit-learn's copy of the UCI set).",
        X=pixels.astype(np.float32), y=target.astype(np.int64), class_names=tuple(str(i) for i in range(10)),
        image_shape=(8, 8), value_range=(0.0, 16.0), feature_names=tuple(f"px{i}" for i in range(64)),
    )


def _sklearn_table(loader_name: str, name: str, title: str, blurb: str) -> Dataset:
    import sklearn.datasets

    d = getattr(sklearn.datasets, loader_name)()
    return Dataset(
        name=name, title=title, kind="tabular", description=blurb,
        X=d.data.astype(np.float32), y=d.target.astype(np.int64), class_names=tuple(str(c) for c in d.target_names),
        feature_names=tuple(str(f) for f in d.feature_names),
        columns=pd.DataFrame(d.data, columns=list(d.feature_names)),
    )


def _breast_cancer(**_) -> Dataset:
    return _sklearn_table(
        "load_breast_cancer", "breast-cancer", "Breast cancer (Wisconsin)",
        "569 tumours described by 30 numeric cell-nucleus measurements, labelled malignant or benign.",
    )


def _wine(**_) -> Dataset:
    return _sklearn_table(
        "load_wine", "wine", "Wine", "178 wines from three cultivars, 13 chemical measurements each.",
    )


def _swiss_roll(n_samples: int = 3000, seed: int = 0, **_) -> Dataset:
    from sklearn.datasets import make_swiss_roll

    X, t = make_swiss_roll(n_samples=n_samples, noise=0.05, random_state=seed)
    # Six bands along the roll serve as classes, so kNN accuracy and trustworthiness
    # say whether the 2-D code keeps neighbours along the manifold together.
    bands = np.digitize(t, np.quantile(t, [1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6]))
    return Dataset(
        name="swiss-roll", title="Swiss roll (synthetic)", kind="tabular",
        description=f"{n_samples:,} points on a rolled-up 2-D sheet in 3-D. A linear method (PCA) squashes the roll; "
        "a 2-D autoencoder code can unroll it. Colour = position along the roll.",
        X=X.astype(np.float32), y=bands.astype(np.int64), class_names=tuple(f"band {i + 1}" for i in range(6)),
        feature_names=("x", "y", "z"), columns=pd.DataFrame({"position along roll": t}),
    )


def _outliers(n_samples: int = 3000, contamination: float = 0.03, seed: int = 0, **_) -> Dataset:
    """Normal data on a 3-D curved manifold embedded in 12-D; outliers off it."""
    rng = np.random.default_rng(seed)
    n_out = int(round(n_samples * contamination))
    n_in = n_samples - n_out
    latent = rng.uniform(-1, 1, size=(n_in, 3))
    inliers = np.tanh(latent @ rng.normal(size=(3, 8))) @ rng.normal(size=(8, 12))  # curved 3-D sheet in 12-D
    inliers += 0.05 * rng.normal(size=inliers.shape)
    # Outliers take each reading from the normal marginal distribution independently:
    # every single value looks plausible, only the joint pattern is broken.
    outliers = np.stack([rng.choice(inliers[:, j], size=n_out) for j in range(12)], axis=1)
    X = np.concatenate([inliers, outliers]).astype(np.float32)
    is_out = np.r_[np.zeros(n_in, bool), np.ones(n_out, bool)]
    order = rng.permutation(n_samples)
    X, is_out = X[order], is_out[order]
    return Dataset(
        name="outliers", title="Sensor readings with outliers (synthetic)", kind="tabular",
        description=f"{n_samples:,} rows of 12 correlated sensor readings; {n_out} injected outliers "
        f"({contamination:.0%}) break the correlations. Labelled, for the anomaly page.",
        X=X, y=is_out.astype(np.int64), class_names=("normal", "outlier"), is_outlier=is_out,
        feature_names=tuple(f"sensor_{i + 1}" for i in range(12)),
    )


def _image_set(name: str, **kwargs) -> Dataset:
    """MNIST or Fashion-MNIST: the labels now, the pixels (`X`, deferred) when something first uses them."""
    from ae_core.data.image_files import IMAGE_SETS, find_image_set

    files = find_image_set(name, **{k: v for k, v in kwargs.items() if k in ("data_dir", "allow_download")})
    labels = files.labels()[: kwargs.get("n_samples") or None]
    n, (h, w) = len(labels), (28, 28)  # the shape image_files accepts

    def pixels() -> np.ndarray:
        images, _ = files.load()
        return images[:n].reshape(n, h * w).astype(np.float32)

    title = "MNIST" if name == "mnist" else "Fashion-MNIST"
    what = "handwritten digits" if name == "mnist" else "clothing photos (Zalando), ten kinds"
    return Dataset(
        name=name, title=f"{title} (28x28)", kind="image",
        description=f"{n:,} {what}, {h}x{w} grey pixels.",
        X=Deferred(pixels, (n, h * w)), y=labels, class_names=IMAGE_SETS[name].class_names,
        image_shape=(h, w), value_range=(0.0, 255.0), feature_names=tuple(f"px{i}" for i in range(h * w)),
    )


def load_csv_dataset(source, label_column: str | None = None, name: str = "csv", max_rows: int = 100_000, **_) -> Dataset:
    """A user's CSV or Parquet file as a Dataset, with the preparation report attached (a big file is streamed
    for a random sample of max_rows rows: memory stays bounded)."""
    from ae_core.data.large_table import prepare_sample

    table = prepare_sample(source, label_column=label_column, max_rows=max_rows)
    y = class_names = None
    columns = table.frame.reset_index(drop=True)
    if table.labels is not None:
        distinct = pd.unique(table.labels)
        if len(distinct) <= MAX_CLASSES:
            y, class_names = _encode_labels(table.labels)
    return Dataset(
        name=name, title=f"CSV: {name}", kind="tabular",
        description=f"{table.X.shape[0]:,} rows x {table.X.shape[1]} prepared features from an uploaded CSV.",
        X=table.X.astype(np.float32), y=y, class_names=class_names, feature_names=tuple(table.feature_names),
        columns=columns, report=table.report, row_index=table.row_index,
    )


def load_image_dataset(path, side: int | None = None, colour: str = "auto", name: str = "images", **_) -> Dataset:
    """A folder or zip of a person's images as a Dataset (`image_folder.read_images`), the report attached."""
    from ae_core.data.image_folder import read_images

    ims = read_images(path, side=side, colour=colour)
    n, shape = len(ims.X), ims.image_shape
    y, class_names = ims.labels, ims.class_names or None
    if class_names is not None and len(class_names) > MAX_CLASSES:
        y = class_names = None  # a folder per image, say: not classes a legend can show
    what = f"{len(class_names)} classes" if class_names else "unlabelled"
    return Dataset(
        name=name, title=f"Images: {name}", kind="image",
        description=f"{n:,} of your images, {shape[0]}x{shape[1]} {'RGB' if len(shape) == 3 else 'grey'} pixels, {what}.",
        X=ims.X.reshape(n, -1).astype(np.float32), y=y, class_names=class_names, image_shape=shape,
        value_range=(0.0, 255.0), feature_names=tuple(f"px{i}" for i in range(int(np.prod(shape)))),
        columns=pd.DataFrame({"file": ims.names, **({"class": np.asarray(class_names, dtype=object)[y]} if y is not None else {})}),
        report=ims.report,
    )


REGISTRY: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo("digits", "Digits (8x8)", "image", "1,797 small handwritten digits: trains in seconds (default).", _digits),
        DatasetInfo("mnist", "MNIST (28x28)", "image", "70,000 handwritten digits, from local files or a one-time download.",
                    lambda **kw: _image_set("mnist", **kw)),
        DatasetInfo("fashion-mnist", "Fashion-MNIST (28x28)", "image", "70,000 clothing images, from local files, Debian's package or a download.",
                    lambda **kw: _image_set("fashion-mnist", **kw)),
        DatasetInfo("breast-cancer", "Breast cancer", "tabular", "569 tumours x 30 measurements, malignant/benign.", _breast_cancer),
        DatasetInfo("wine", "Wine", "tabular", "178 wines x 13 chemical measurements, three cultivars.", _wine),
        DatasetInfo("swiss-roll", "Swiss roll", "tabular", "A rolled 2-D sheet in 3-D: where PCA fails and an AE unrolls.", _swiss_roll),
        DatasetInfo("outliers", "Sensors with outliers", "tabular", "12 correlated sensors, 3% injected outliers (labelled).", _outliers),
    ]
}
DEFAULT_DATASET = "digits"


def load_dataset(name: str, **options) -> Dataset:
    """Load a built-in dataset by name, a CSV with name="csv" and path=..., or a folder or zip of images
    with name="images", path=... (and side=..., colour=...).

    Raises InputError for an unknown name or unusable input.
    """
    if name == "csv":
        path = options.pop("path", None)
        if path is None:
            raise InputError("a CSV dataset needs a file path.")
        return load_csv_dataset(path, name=options.pop("display_name", Path(path).stem), **options)
    if name == "images":
        path = options.pop("path", None)
        if path is None:
            raise InputError("an image dataset needs the path of a folder or a zip of images.")
        return load_image_dataset(path, name=options.pop("display_name", Path(path).stem), **options)
    if name not in REGISTRY:
        raise InputError(f"unknown dataset {name!r}; choose one of: {', '.join(REGISTRY)} (or upload a CSV).")
    return REGISTRY[name].loader(**options)


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
