"""Ad-hoc dimensionality reduction of a user's CSV: keep the file, check it,
train a quick 2-D autoencoder on it, and hand the coordinates back.

The Upload page is a thin layer over these functions:

* :func:`choose_file` says which file the page works on: the person's upload, a shipped sample
  (:class:`SampleFile`) or a table on the server (:class:`ServerFile`).
* :func:`save_upload` keeps the bytes content-addressed under
  ``<runs root>/uploads/<sha256>.csv``, so a run's config can point at them
  and the same file uploaded twice is stored once. The user's file name is
  display text only (:func:`display_name`), never part of a path.
* :func:`inspect_upload` prepares the table and returns the report, or the
  :class:`~ae_core.errors.InputError` message, without raising.
* :func:`quick_config` is the run config: the vanilla dense preset, a 2-D
  code and a small epoch/time budget.
* :func:`joined_coordinates` puts each kept input row next to its code (and
  the input's PCA/UMAP where they were computed); :func:`coordinates_csv`
  makes it a spreadsheet-safe CSV.
* :func:`colour_values` and :func:`hover_columns` feed
  :func:`ae_core.figures.common.latent_scatter`, which draws it and HTML-escapes every
  user string (Plotly renders tags such as ``<b>`` and ``<a>`` in hover text,
  legend entries and titles).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from ae_core.analysis.latent import safe_csv
from ae_core.analysis.projection import cache_name, cached_projection
from ae_core.data.csv_io import DELIMITER_NAMES, read_csv
from ae_core.data.large_table import prepare_sample
from ae_core.data.preprocessing import split_names
from ae_core.data.registry import MAX_CLASSES
from ae_core.data.tabular import PreparationReport
from ae_core.errors import InputError
from ae_core.runs import every_row
from ae_core.runs.housekeeping import prune_uploads
from ae_core.runs.store import DB_NAME, RunStore, atomic_write_bytes

UPLOADS = "uploads"  # folder under the runs root
QUICK_TRAIN = {"epochs": 40, "max_seconds": 120.0}  # early stopping usually ends it sooner
RECON = "reconstruction error"
TOP_CATEGORIES = 20  # a text column with more distinct values colours these and "(other)"
_EXTRA_METHODS = ("pca", "umap")  # projections of the input, exported when computed


def display_name(name) -> str:
    """A file name reduced to safe display text: no folders, no suffix, plain characters.

    >>> display_name("../../etc/passwd"), display_name(r"C:\\data\\Sales [Q1].csv"), display_name("")
    ('passwd', 'Sales _Q1', 'upload')
    """
    base = re.split(r"[\\/]", str(name or ""))[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    clean = re.sub(r"[^\w .()+-]", "_", stem).strip(" ._")[:60]
    return clean or "upload"


def save_upload(store_root, name: str, data: bytes) -> Path:
    """Store uploaded bytes as ``<store_root>/uploads/<sha256>.csv`` (``.zip`` for a zip of images) and
    return that path.

    The write is atomic (temporary file, then rename) and skipped when the same
    content is already there. `name` is kept as display text in a JSON file
    beside it, never used as a path. Uploads that no run uses and that are a
    day old are removed (:func:`ae_core.runs.housekeeping.prune_uploads`).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"save_upload takes the file's bytes, not {type(data).__name__}")
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(store_root) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest}{_stored_suffix(name, data)}"  # ours, never the user's
    if not (path.is_file() and path.stat().st_size == len(data)):
        atomic_write_bytes(path, data)
    meta = folder / f"{digest}.json"
    if not meta.exists():
        atomic_write_bytes(meta, json.dumps({"name": display_name(name), "bytes": len(data)}).encode())
    if (Path(store_root) / DB_NAME).is_file():  # a run store (not a bare folder): files nobody trained on, a day old
        prune_uploads(RunStore(store_root), folder, keep=path)
    return path


SAMPLES_DIR = Path(__file__).resolve().parents[2] / "data" / "samples"


@dataclass(frozen=True)
class Sample:
    """A file shipped in data/samples/ (made by scripts/make_samples.py; licences in its README.md)."""

    file: str
    title: str
    about: str
    label: str | None = None  # the column to colour by, chosen for the person


SAMPLES = {s.file: s for s in [
    Sample("wine.csv", "Wine (labelled table)", "178 wines, 13 chemical measurements, coloured by cultivar.", "cultivar"),
    Sample("orders-messy.csv", "Shop orders (messy table)",
           "400 orders as a spreadsheet exports them: ids, day-first dates, $ amounts, percentages, yes/no, n/a."),
    Sample("digits-images.zip", "Handwritten digits (zip of images)", "600 8x8 PNGs, one folder per digit."),
]}


@dataclass(frozen=True)
class ServerSideFile:
    """A file already on this server that the Upload page takes as it takes a browser's upload (`name`, `file_id`).

    Attributes
    ----------
    name : str
        Display text, as an upload's file name (its suffix says whether it is a zip of images).
    path : Path
        Where it lies.
    label : str or None
        The column to colour by, chosen for the person.
    """

    name: str
    path: Path
    label: str | None = None
    source: ClassVar[str]  # "sample" or "server": keeps their file ids apart

    @property
    def file_id(self) -> str:
        return f"{self.source}:{self.path}"


class SampleFile(ServerSideFile):
    """A shipped sample: its bytes go through the same steps as an upload's (`getvalue()`, stored by content)."""

    source = "sample"

    def getvalue(self) -> bytes:
        return self.path.read_bytes()


class ServerFile(ServerSideFile):
    """A table in the server's data folder (`ae_core.data.server_files`), trained on where it lies: too big to
    upload through a browser, and never copied."""

    source = "server"


def server_file(name: str) -> ServerFile:
    """The table `name` under $AE_DATA_DIR; InputError when it is not there or lies outside the folder."""
    from ae_core.data.server_files import server_table

    path = server_table(name)
    return ServerFile(name=path.name, path=path)


def sample_file(name: str) -> SampleFile:
    """The sample `name` (a key of `SAMPLES`); InputError for another name or a checkout without the file."""
    if name not in SAMPLES:
        raise InputError(f"no sample named {name!r}; choose one of: {', '.join(SAMPLES)}.")
    path = SAMPLES_DIR / name
    if not path.is_file():
        raise InputError(f"the sample {name} is missing from {SAMPLES_DIR}; run `python scripts/make_samples.py`.")
    return SampleFile(name=name, path=path, label=SAMPLES[name].label)


@dataclass(frozen=True, eq=False)
class ChosenFile:
    """The file the Upload page works on (:func:`choose_file`).

    Attributes
    ----------
    file : UploadedFile, SampleFile, ServerFile or None
        Streamlit's upload or a :class:`ServerSideFile`: anything with `name` and `file_id`, and `getvalue()`
        unless it is read in place. None when nothing is chosen.
    error : str or None
        Why the sample or server table asked for cannot be used (then nothing is chosen).
    """

    file: object | None = None
    error: str | None = None

    @property
    def kind(self) -> str | None:
        """"images" for a zip of images, "table" for anything else, None when nothing is chosen."""
        if self.file is None:
            return None
        return "images" if is_image_upload(self.file.name) else "table"

    @property
    def in_place(self) -> Path | None:
        """Where a server table lies (it is read there); None for a file whose bytes are stored first."""
        return self.file.path if isinstance(self.file, ServerFile) else None

    def label_in(self, columns) -> str | None:
        """The label column that came with the file (a sample's), if `columns` has it."""
        label = getattr(self.file, "label", None)
        return label if label in columns else None


def choose_file(uploaded=None, sample: str | None = None, server: str | None = None) -> ChosenFile:
    """The file the Upload page works on: the person's own upload wins, then a shipped sample (a key of
    `SAMPLES`), then a table on the server (a name under $AE_DATA_DIR).

    A sample or table that cannot be used comes back as the `error` of an empty choice, never as an exception:
    the page shows it and offers the pickers again.
    """
    try:
        if uploaded is not None:
            return ChosenFile(uploaded)
        if sample:
            return ChosenFile(sample_file(sample))
        if server:
            return ChosenFile(server_file(server))
    except InputError as exc:
        return ChosenFile(error=str(exc))
    return ChosenFile()


def _stored_suffix(name, data: bytes) -> str:
    """.zip for a zip of images, .parquet for a Parquet file (by its first bytes), .csv for anything else."""
    if is_image_upload(name):
        return ".zip"
    return ".parquet" if data[:4] == b"PAR1" else ".csv"


def is_image_upload(name) -> bool:
    """Whether an uploaded file (by its name) is a zip of images rather than a table."""
    return str(name or "").lower().endswith(".zip")


@dataclass(frozen=True, eq=False)
class ImageInspection:
    """What :func:`inspect_images` found: the report and a few prepared images, or why the zip cannot be used."""

    report: object | None = None  # image_folder.ImageReport
    error: str | None = None
    preview: np.ndarray | None = None  # up to n_preview images in [0, 1], (n, h, w) or (n, h, w, 3)
    preview_titles: tuple[str, ...] = ()


def inspect_images(path, side: int | None = None, colour: str = "auto", n_preview: int = 24) -> ImageInspection:
    """Read the zip at `path` as training will (:func:`ae_core.data.image_folder.read_images`); an InputError
    (a hostile or unusable zip) becomes ``error``. The preview takes images spread over the classes."""
    from ae_core.data.image_folder import read_images

    try:
        ims = read_images(path, side=side, colour=colour)
    except InputError as exc:
        return ImageInspection(error=str(exc))
    pick = np.unique(np.linspace(0, len(ims.X) - 1, min(n_preview, len(ims.X))).astype(int))
    titles = tuple((ims.class_names[ims.labels[i]] if ims.labels is not None else Path(ims.names[i]).stem)[:14]
                   for i in pick)
    return ImageInspection(report=ims.report, preview=ims.X[pick].astype(np.float32) / 255.0, preview_titles=titles)


def image_overview(report) -> list[tuple[str, str]]:
    """(label, value) pairs for the page's headline numbers of an image zip."""
    return [("Images read", f"{report.n_read:,}"), ("Skipped", f"{len(report.skipped):,}"),
            ("Classes", f"{len(report.classes):,}" if report.classes else "none"),
            ("Size used", f"{report.side}x{report.side}"), ("Colour", "RGB" if report.colour == "rgb" else "grayscale"),
            ("Sizes found", f"{len(report.sizes):,}")]


def skipped_table(report) -> pd.DataFrame:
    """One row per file not used: its name in the zip and why."""
    return pd.DataFrame(list(report.skipped), columns=["file", "why"])


def quick_image_config(path, side: int | None = None, colour: str = "auto", display_name: str | None = None) -> dict:
    """A run config for a quick look at a zip of images: the convolutional preset (it handles colour), a 2-D
    code, the ``QUICK_TRAIN`` budget. The side and colour read from the images are stored, so every later
    load of the run prepares the same pixels. Raises InputError if the zip cannot be used."""
    from ae_core.data.registry import load_dataset
    from ae_core.runs.spec import make_config

    options = {"path": str(path), "side": side, "colour": colour}
    if display_name:
        options["display_name"] = display_name
    ds = load_dataset("images", **options)
    options.update(side=ds.report.side, colour=ds.report.colour)
    return make_config("images", "convolutional", options, model={"latent_dim": 2}, train=dict(QUICK_TRAIN), ds=ds)


@dataclass(frozen=True, eq=False)
class Inspection:
    """What :func:`inspect_upload` found: the report, or why the file cannot be used."""

    columns: tuple[str, ...] = ()  # the file's columns (cleaned headers); empty if unreadable
    report: PreparationReport | None = None
    error: str | None = None
    preview: pd.DataFrame | None = None  # the first kept rows, raw values


def inspect_upload(path, label_column: str | None = None, n_preview: int = 10) -> Inspection:
    """Prepare the CSV at `path` as training will; an InputError becomes ``error``."""
    try:
        table = prepare_sample(path, label_column=label_column)  # a big file: streamed, as training will
    except InputError as exc:
        try:
            columns = tuple(str(c) for c in read_csv(path)[0].columns)
        except InputError:
            columns = ()
        return Inspection(columns=columns, error=str(exc))
    return Inspection(columns=tuple(str(c) for c in table.frame.columns), report=table.report,
                      preview=table.frame.head(n_preview))


def report_overview(report: PreparationReport) -> list[tuple[str, str]]:
    """(label, value) pairs for the page's headline numbers."""
    return [
        ("Rows read", f"{report.n_rows_read:,}"), ("Rows used", f"{report.n_rows_kept:,}"),
        ("Columns read", f"{report.n_columns_read:,}"), ("Features", f"{len(report.kept):,}"),
        ("Missing values", f"{report.n_imputed:,}"), ("Encoding", report.encoding),
        ("Delimiter", DELIMITER_NAMES.get(report.delimiter, report.delimiter)),
    ]


def column_table(report: PreparationReport, columns) -> pd.DataFrame:
    """One row per column of the file: what preparation did with it, and why."""
    dropped, converted = dict(report.dropped), dict(report.converted)
    kept = set(report.kept)
    rows = []
    for c in columns:
        if c == report.label_column:
            rows.append((c, "label (colours the plot)", "not a feature"))
        elif c in dropped:
            rows.append((c, "dropped", dropped[c]))
        elif c in converted:
            onehot = converted[c].startswith("one-hot")
            rows.append((c, "features (one-hot)" if onehot else "feature (converted)", converted[c]))
        elif c in kept:
            rows.append((c, "feature", "numeric, used as it is"))
        else:
            rows.append((c, "not used", ""))
    return pd.DataFrame(rows, columns=["column", "used as", "why / how"])


def quick_config(path, label_column: str | None = None, display_name: str | None = None) -> dict:
    """A run config for quick dimensionality reduction of the CSV at `path`.

    Vanilla dense autoencoder, a 2-D code (1-D for a two-feature table, since
    the code must be smaller than the input), at most ``QUICK_TRAIN`` epochs
    and seconds. Raises InputError if the file cannot be used.
    """
    from ae_core.data.registry import load_dataset
    from ae_core.runs.spec import make_config

    options = {"path": str(path)}
    if label_column:
        options["label_column"] = label_column
    if display_name:
        options["display_name"] = display_name
    ds = load_dataset("csv", **options)
    model = {"latent_dim": 2 if ds.n_features > 2 else 1}
    return make_config("csv", "vanilla", options, model=model, train=dict(QUICK_TRAIN), ds=ds)


def is_upload_run(rec) -> bool:
    """Whether a RunRecord trained on a user's CSV or images."""
    return (rec.config or {}).get("dataset", {}).get("name") in ("csv", "images")


def label_column(run) -> str | None:
    return (run.record.config["dataset"].get("options") or {}).get("label_column")


def input_projection(run, method: str) -> np.ndarray | None:
    """The cached 2-D PCA/UMAP of the run's (scaled) input, or None if not computed yet."""
    Y = run.store.read_array(run.id, cache_name("input", method, 2))
    return Y if Y is not None and len(Y) == run.dataset.n_samples else None


def input_coordinates(run, method: str) -> np.ndarray | None:
    """What the page draws beside the code: PCA of the input (computed and cached on first use: it takes
    milliseconds), or UMAP's when it was computed (None until the person asks for it: it takes a minute)."""
    Y = input_projection(run, method)
    if Y is None and method == "pca":
        Y = cached_projection(run.store, run.id, run.X, "pca", 2, source="input")
    return Y


def computed_projections(run) -> tuple[str, ...]:
    """The input projections computed so far: they are columns of the download, so they key its cache."""
    return tuple(m for m in _EXTRA_METHODS if input_projection(run, m) is not None)


def joined_coordinates(run) -> pd.DataFrame:
    """Each kept input row with its coordinates, one line per row.

    Columns: ``row`` (0-based data row in the file, header excluded, as
    ``python -m ae_core embed`` writes it), ``ae_1..ae_D`` (the code),
    ``pca_1, pca_2`` and ``umap_1, umap_2`` of the input where computed,
    ``reconstruction_error``, ``split``, then the file's own columns (one that
    clashes with ours gets `` (from file)`` appended).
    """
    ds = run.dataset
    n = ds.n_samples
    out = {"row": ds.row_index if ds.row_index is not None else np.arange(n)}
    Z = run.latent
    out.update({f"ae_{j + 1}": Z[:, j] for j in range(Z.shape[1])})
    for method in _EXTRA_METHODS:
        Y = input_projection(run, method)
        if Y is not None:
            out.update({f"{method}_1": Y[:, 0], f"{method}_2": Y[:, 1]})
    out["reconstruction_error"] = run.recon_error
    out["split"] = split_names(run.split)
    coords = pd.DataFrame(out)
    if ds.columns is None:
        return coords
    original = ds.columns.reset_index(drop=True)
    original.columns = [f"{c} (from file)" if c in out else c for c in map(str, original.columns)]
    return pd.concat([coords, original], axis=1)


def coordinates_csv(run) -> bytes:
    """:func:`joined_coordinates` as UTF-8 CSV; text that a spreadsheet would run as a formula is defused."""
    return safe_csv(joined_coordinates(run))


def trained_on_a_sample(run) -> bool:
    """Whether a table run trained on a sample of its file's rows (its dataset's report says so)."""
    return every_row.trained_on_a_sample(run.dataset)


def every_row_csv(run, chunk_rows: int = 100_000) -> bytes:
    """Every kept row of a sampled table run's file with its code (``row``, the label, ``ae_1..ae_D``), as CSV.

    The file is streamed again, chunk by chunk, through the same column decisions and the run's scaler and
    encoder (`every_row.stream_codes`), so memory holds one chunk plus the codes, not the file.
    """
    options = run.record.config["dataset"].get("options") or {}
    label = options.get("label_column")
    parts = []
    for rows, labels, Z in every_row.stream_codes(options, run.dataset.feature_names, run.model, run.scaler,
                                                  chunk_rows):
        part = {"row": rows}
        if labels is not None:
            part[label] = labels
        part.update({f"ae_{j + 1}": Z[:, j] for j in range(Z.shape[1])})
        parts.append(pd.DataFrame(part))
    return safe_csv(pd.concat(parts, ignore_index=True))


def hover_columns(run, max_cols: int = 8) -> tuple[pd.DataFrame, str]:
    """What the scatter's tooltip shows per row, for `plots.latent_scatter(hover_columns=...)`.

    Returns the row's number in the file, then its first `max_cols` original columns
    (values as read, not prepared: `plots` escapes and shortens them), and a note
    saying how many columns were left out ("" if none).
    """
    ds = run.dataset
    frame = pd.DataFrame({"row": ds.row_index if ds.row_index is not None else np.arange(ds.n_samples)})
    if ds.columns is None:
        return frame, ""
    cols = ds.columns.reset_index(drop=True)
    shown = cols.iloc[:, :max_cols]
    shown.columns = [f"{c} (from file)" if str(c) == "row" else str(c) for c in shown.columns]
    left = len(cols.columns) - len(shown.columns)
    return pd.concat([frame, shown], axis=1), (f"… and {left} more column(s)" if left > 0 else "")


def colour_options(run) -> list[str]:
    """What the scatter can be coloured by: the label column (if one was chosen), reconstruction error."""
    label = label_column(run)
    if label is None and run.dataset.kind == "image" and run.dataset.y is not None:
        label = "class"  # an image folder's class sub-folders (registry.load_image_dataset)
    return ([label] if label else []) + [RECON]


def colour_values(run, by: str) -> tuple[np.ndarray, str]:
    """(values per row, "category" | "continuous") for colouring the scatter by `by`."""
    if by == RECON:
        return np.asarray(run.recon_error, dtype=np.float64), "continuous"
    ds = run.dataset
    if ds.columns is None or by not in ds.columns:
        raise InputError(f"cannot colour by {by!r}: not a column of this run's data.")
    if by == label_column(run) and ds.y is not None:
        return ds.label_names().astype(object), "category"
    s = ds.columns[by]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan), "continuous"
    text = s.astype(object).where(s.notna(), "(missing)").astype(str)
    top = text.value_counts().index[:TOP_CATEGORIES]
    if text.nunique() > MAX_CLASSES:
        text = text.where(text.isin(top), "(other)")
    return text.to_numpy(dtype=object), "category"
