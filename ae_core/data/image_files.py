"""MNIST and Fashion-MNIST from local files, or downloaded once into a cache.

The files are the original IDX format (http://yann.lecun.com/exdb/mnist/),
gzipped or not, or the Keras ``.npz`` layout. Where they are looked for, in
order: ``data/<name>/``, the Debian package ``dataset-fashion-mnist``, the
download cache ``data/cache/<name>/``, and finally the network (unless
``AE_OFFLINE=1``). Offline and absent, the error says which files to put where.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import struct
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ae_core.errors import InputError

REPO = Path(__file__).resolve().parents[2]
CACHE_ROOT = REPO / "data" / "cache"
DOWNLOAD_TIMEOUT_S = 60
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")  # the .npz layout's arrays, in the order of IDX_FILES


@dataclass(frozen=True)
class ImageSet:
    """Where one image set comes from and how to check it."""

    title: str
    mirrors: tuple[str, ...]
    # MD5 of the official .gz files, as listed in torchvision's
    # torchvision/datasets/mnist.py. Used for download integrity only; local
    # copies are not checked against them because Debian recompresses its files.
    md5: dict[str, str]
    class_names: tuple[str, ...]


IMAGE_SETS = {
    "mnist": ImageSet(
        title="MNIST",
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
        md5=dict(zip(IDX_FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                                 "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        class_names=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": ImageSet(
        title="Fashion-MNIST",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5=dict(zip(IDX_FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                                 "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
}

# Install locations of Debian's `dataset-fashion-mnist` (from `dpkg -L`);
# a module-level tuple so tests can point it elsewhere.
FASHION_MNIST_SYSTEM_DIRS = (
    Path("/usr/share/datasets/fashion-mnist"),
    Path("/usr/local/share/datasets/fashion-mnist"),
)

# IDX type codes (third magic byte) -> big-endian numpy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzipped or plain) into an array in native byte order.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    ndarray
        Shape and dtype as declared by the file's header.

    Raises
    ------
    InputError
        Missing, truncated or corrupt file, or not IDX at all.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw.startswith(b"\x1f\x8b"):  # decide by content: files get renamed
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise InputError(f"No file at '{path}'.") from None
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"'{path}' is a damaged gzip file ({err}). Delete it and get a fresh copy.") from None
    bad = f"'{path}' is not a valid IDX file"
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise InputError(f"{bad} (wrong magic number). Get a fresh copy of the original file.")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{bad} (header cut short). Get a fresh copy of the original file.")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(f"{bad}: the header promises {expected:,} bytes of data for shape {dims} "
                         f"but the file holds {len(raw) - header:,} (truncated or corrupt). "
                         "Get a fresh copy of the original file.")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file, gzipped if ``path`` ends in ``.gz``.

    The inverse of :func:`read_idx`; supports uint8, int8, int16, int32,
    float32 and float64 arrays with 1 to 255 dimensions.
    """
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    if array.dtype not in codes or not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX cannot store a {array.ndim}-d {array.dtype} array")
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def find_image_set(name: str, *, data_dir: Path | None = None, allow_download: bool | None = None) -> ImageFiles:
    """Where a complete copy of MNIST or Fashion-MNIST is, downloading it if allowed; nothing is read yet.

    Same parameters and errors as `load_image_set`; its labels can be read without the images
    (``find_image_set(name).labels()``: a few milliseconds, where the 70,000 images take most of a second).
    """
    if name not in IMAGE_SETS:
        raise InputError(f"Unknown image set '{name}'. Choose one of: {', '.join(IMAGE_SETS)}.")
    data_dir = Path(data_dir) if data_dir is not None else REPO / "data" / name
    system = FASHION_MNIST_SYSTEM_DIRS if name == "fashion-mnist" else ()
    cache = CACHE_ROOT / name
    for folder in (data_dir, *system, cache):
        found = _files_in(folder, name)
        if found is not None:
            return found
    if allow_download is None:
        allow_download = os.environ.get("AE_OFFLINE", "") != "1"
    if not allow_download:
        why = "allow_download=False" if os.environ.get("AE_OFFLINE", "") != "1" else "AE_OFFLINE=1"
        raise InputError(_missing_message(name, data_dir, f"downloading is off ({why})"))
    download_image_set(name, cache)
    found = _files_in(cache, name)
    assert found is not None, "download_image_set left an incomplete cache"
    return found


def load_image_set(name: str, *, data_dir: Path | None = None,
                   allow_download: bool | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Load MNIST or Fashion-MNIST, train and test concatenated.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    data_dir : Path, optional
        Folder with the four IDX files or ``<name>.npz``; default ``<repo>/data/<name>/``.
    allow_download : bool, optional
        Download into ``<repo>/data/cache/<name>/`` when no local copy exists.
        None (default) means yes unless the environment sets ``AE_OFFLINE=1``.

    Returns
    -------
    images : ndarray of shape (n, 28, 28), uint8
    labels : ndarray of shape (n,), int64
    class_names : tuple of str
        ``class_names[label]`` names a label.

    Raises
    ------
    InputError
        Unknown name, corrupt files, failed download, or offline without files.
    """
    files = find_image_set(name, data_dir=data_dir, allow_download=allow_download)
    images, labels = files.load()
    return images, labels, IMAGE_SETS[name].class_names


def _missing_message(name: str, data_dir: Path, why: str) -> str:
    return f"{IMAGE_SETS[name].title} is not available: {why}. {_how_to_provide(name, data_dir)}"


def _how_to_provide(name: str, data_dir: Path) -> str:
    spec = IMAGE_SETS[name]
    msg = (f"Put these four files in {data_dir.resolve()}/: {', '.join(IDX_FILES)} "
           f"(from {spec.mirrors[0]}); or put there a single {name}.npz with arrays "
           "x_train, y_train, x_test, y_test (the Keras layout)")
    if name == "fashion-mnist":
        msg += "; or install Debian's package: sudo apt install dataset-fashion-mnist"
    return msg + "."


@dataclass(frozen=True)
class ImageFiles:
    """One complete local copy of an image set: the four IDX files (``idx``: train images, train
    labels, test images, test labels) or one Keras-style ``npz``. Reading checks the contents."""

    where: str  # named in error messages
    idx: tuple[Path, ...] = ()
    npz: Path | None = None

    def _read(self, train_key: str, test_key: str) -> tuple[np.ndarray, np.ndarray]:
        if self.npz is None:
            return read_idx(self.idx[KERAS_KEYS.index(train_key)]), read_idx(self.idx[KERAS_KEYS.index(test_key)])
        try:
            with np.load(self.npz, allow_pickle=False) as npz:  # a zip: only these two members are read
                return npz[train_key], npz[test_key]
        except KeyError as err:
            raise InputError(f"'{self.npz}' lacks the array {err}; it needs x_train, y_train, "
                             "x_test and y_test (the Keras layout).") from None
        except (OSError, ValueError) as err:  # not a zip, or object arrays (pickle refused)
            raise InputError(f"'{self.npz}' could not be read as a numeric .npz ({err}). "
                             "Save it again with numpy.savez.") from None

    def labels(self) -> np.ndarray:
        """The labels, train then test: ndarray of shape (n,), int64 in 0-9."""
        labels = np.concatenate([np.asarray(a) for a in self._read("y_train", "y_test")])
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) \
                or (len(labels) and (labels.min() < 0 or labels.max() > 9)):
            raise InputError(f"The labels in {self.where} are not one integer 0-9 per image (got shape "
                             f"{labels.shape}, dtype {labels.dtype}). Get fresh copies.")
        return labels.astype(np.int64)

    def images(self) -> np.ndarray:
        """The images, train then test: ndarray of shape (n, 28, 28), uint8."""
        return np.concatenate([_check_images(x, self.where) for x in self._read("x_train", "x_test")])

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Images and labels, checked against each other."""
        images, labels = self.images(), self.labels()
        if len(labels) != len(images):
            raise InputError(f"The labels in {self.where} do not match the images ({len(labels):,} labels for "
                             f"{len(images):,} images). Get fresh copies.")
        return images, labels


def _files_in(folder: Path, name: str) -> ImageFiles | None:
    """The complete set in ``folder``, or None if it holds none."""
    paths = []
    for fname in IDX_FILES:
        gz, plain = folder / fname, folder / fname.removesuffix(".gz")
        paths.append(gz if gz.is_file() else plain if plain.is_file() else None)
    if all(paths):
        return ImageFiles(str(folder), idx=tuple(paths))
    if (folder / f"{name}.npz").is_file():
        return ImageFiles(str(folder / f"{name}.npz"), npz=folder / f"{name}.npz")
    return None


def _check_images(x: np.ndarray, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
        raise InputError(f"The images in {where} have shape {x.shape} and dtype {x.dtype}; expected "
                         "(n, 28, 28) uint8. Get fresh copies of the original files.")
    return x


def _urlopen(url: str, timeout: float):
    """Open ``url``; a seam that tests replace so they never touch the network."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - fixed https/http mirrors


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # integrity check against torchvision's list
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_image_set(name: str, cache_dir: Path | None = None) -> Path:
    """Download the four official files of ``name`` into ``cache_dir``, verified.

    Each file is written to a temporary name, checked against its MD5 and only
    then renamed into place, so an interrupted download never leaves a file
    that looks complete. Files already cached with the right checksum are kept.

    Returns
    -------
    Path
        The cache folder.

    Raises
    ------
    InputError
        Network failure or checksum mismatch (the bad file is deleted).
    """
    spec = IMAGE_SETS[name]
    cache_dir = Path(cache_dir) if cache_dir is not None else CACHE_ROOT / name
    cache_dir.mkdir(parents=True, exist_ok=True)
    for fname in IDX_FILES:
        target = cache_dir / fname
        if target.is_file() and _md5(target) == spec.md5[fname]:
            continue
        tmp = target.with_name(f"{fname}.part-{os.getpid()}")
        errors = []
        for mirror in spec.mirrors:
            try:
                with _urlopen(mirror + fname, DOWNLOAD_TIMEOUT_S) as response, open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out)
                break
            except (OSError, http.client.HTTPException) as err:  # URLError and timeouts are OSErrors
                tmp.unlink(missing_ok=True)
                errors.append(f"{mirror}{fname}: {err}")
        else:
            raise InputError(f"Could not download {spec.title} ({'; '.join(errors)}). Check the "
                             "internet connection and try again. Or: "
                             + _how_to_provide(name, REPO / "data" / name))
        got = _md5(tmp)
        if got != spec.md5[fname]:
            tmp.unlink()
            raise InputError(f"The downloaded {fname} is corrupt (MD5 {got}, expected {spec.md5[fname]}); "
                             "it was deleted. Try again later, or get the file another way and put it in "
                             f"{(REPO / 'data' / name).resolve()}/.")
        os.replace(tmp, target)
    return cache_dir
