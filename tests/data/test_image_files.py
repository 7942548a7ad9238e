"""Tests for ae_core.data.image_files: IDX reading/writing, local sets, fake downloads."""

import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest

from ae_core.data import image_files
from ae_core.data.image_files import IDX_FILES, load_image_set, read_idx, write_idx
from ae_core.errors import InputError


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No system copies, a private cache, and a network that fails loudly."""
    monkeypatch.setattr(image_files, "FASHION_MNIST_SYSTEM_DIRS", ())
    monkeypatch.setattr(image_files, "CACHE_ROOT", tmp_path / "cache")
    monkeypatch.delenv("AE_OFFLINE", raising=False)

    def no_network(url, timeout):
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(image_files, "_urlopen", no_network)


def tiny_set(n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train).astype(np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test).astype(np.uint8))


def write_set(folder, arrays, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for fname, array in zip(IDX_FILES, arrays):
        write_idx(folder / (fname if gz else fname.removesuffix(".gz")), array)


@pytest.mark.parametrize("suffix", [".gz", ""], ids=["gzip", "plain"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trips(tmp_path, suffix, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda b: b[:-5], "truncated or corrupt"),
        (lambda b: b + b"\x00", "truncated or corrupt"),
        (lambda b: b"\x01" + b[1:], "magic number"),
        (lambda b: b[:2] + b"\x07" + b[3:], "magic number"),
        (lambda b: b[:6], "header cut short"),
        (lambda b: b"", "magic number"),
    ],
    ids=["truncated", "extra-bytes", "bad-magic", "bad-dtype-code", "short-header", "empty"],
)
def test_read_idx_rejects_damaged_files(tmp_path, mutate, match):
    path = tmp_path / "a.idx"
    write_idx(path, np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(InputError, match=match):
        read_idx(path)


def test_read_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "a.idx.gz"
    write_idx(path, np.zeros((3, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match="damaged gzip"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_load_image_set_reads_idx_files_from_data_dir(tmp_path, gz):
    arrays = tiny_set()
    write_set(tmp_path / "mnist", arrays, gz=gz)
    images, labels, names = load_image_set("mnist", data_dir=tmp_path / "mnist", allow_download=False)
    assert images.shape == (10, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(images, np.concatenate([arrays[0], arrays[2]]))
    np.testing.assert_array_equal(labels, np.concatenate([arrays[1], arrays[3]]))
    assert names == tuple("0123456789")


def test_load_image_set_reads_keras_npz(tmp_path):
    x_train, y_train, x_test, y_test = tiny_set()
    np.savez(tmp_path / "fashion-mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    images, labels, names = load_image_set("fashion-mnist", data_dir=tmp_path, allow_download=False)
    assert images.shape == (10, 28, 28)
    assert names[9] == "Ankle boot"


def test_load_image_set_rejects_npz_without_keras_keys(tmp_path):
    np.savez(tmp_path / "mnist.npz", images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(InputError, match="x_train, y_train"):
        load_image_set("mnist", data_dir=tmp_path, allow_download=False)


def test_load_image_set_rejects_wrong_image_shape(tmp_path):
    write_set(tmp_path, (np.zeros((2, 8, 8), np.uint8), np.zeros(2, np.uint8),
                         np.zeros((2, 8, 8), np.uint8), np.zeros(2, np.uint8)))
    with pytest.raises(InputError, match=r"expected \(n, 28, 28\) uint8"):
        load_image_set("mnist", data_dir=tmp_path, allow_download=False)


def test_load_image_set_uses_system_install_for_fashion_mnist(tmp_path, monkeypatch):
    write_set(tmp_path / "system", tiny_set())
    monkeypatch.setattr(image_files, "FASHION_MNIST_SYSTEM_DIRS", (tmp_path / "system",))
    images, _, _ = load_image_set("fashion-mnist", data_dir=tmp_path / "empty", allow_download=False)
    assert len(images) == 10


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_load_image_set_offline_says_which_files_go_where(tmp_path, monkeypatch, name):
    monkeypatch.setenv("AE_OFFLINE", "1")
    with pytest.raises(InputError) as info:
        load_image_set(name, data_dir=tmp_path / "here")
    message = str(info.value)
    assert "AE_OFFLINE=1" in message
    assert str((tmp_path / "here").resolve()) in message
    assert all(fname in message for fname in IDX_FILES)
    assert f"{name}.npz" in message
    assert ("apt install dataset-fashion-mnist" in message) == (name == "fashion-mnist")


def test_load_image_set_rejects_unknown_name():
    with pytest.raises(InputError, match="Choose one of: mnist, fashion-mnist"):
        load_image_set("cifar")


# --------------------------------------------------------------------------- download


class FakeServer:
    """Stands in for urllib: serves bytes by file name and records requests."""

    def __init__(self, files):
        self.files, self.requests = files, []

    def __call__(self, url, timeout):
        self.requests.append(url)
        return io.BytesIO(self.files[url.rsplit("/", 1)[1]])


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The tiny set as .gz bytes, with the expected checksums patched to match."""
    files = {}
    for fname, array in zip(IDX_FILES, tiny_set()):
        write_idx(tmp_path / fname, array)
        files[fname] = (tmp_path / fname).read_bytes()
        (tmp_path / fname).unlink()
    spec = image_files.IMAGE_SETS["mnist"]
    md5 = {f: hashlib.md5(b).hexdigest() for f, b in files.items()}
    monkeypatch.setitem(image_files.IMAGE_SETS, "mnist", type(spec)(**{**spec.__dict__, "md5": md5}))
    server = FakeServer(files)
    monkeypatch.setattr(image_files, "_urlopen", server)
    return server


def test_download_verifies_and_caches_then_reuses_the_cache(tmp_path, served):
    images, labels, _ = load_image_set("mnist", data_dir=tmp_path / "none")
    assert images.shape == (10, 28, 28) and len(served.requests) == 4
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(IDX_FILES)
    load_image_set("mnist", data_dir=tmp_path / "none")
    assert len(served.requests) == 4  # second load came from the cache


def test_download_with_wrong_checksum_deletes_the_file(tmp_path, served):
    served.files[IDX_FILES[0]] = gzip.compress(b"not the real file")
    with pytest.raises(InputError, match="corrupt.*deleted"):
        load_image_set("mnist", data_dir=tmp_path / "none")
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_download_network_failure_is_an_input_error(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(image_files, "_urlopen", offline)
    with pytest.raises(InputError, match="Could not download MNIST.*Name or service not known.*Put these four files"):
        load_image_set("mnist", data_dir=tmp_path / "none")
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []


def test_download_not_attempted_when_disallowed(tmp_path):
    with pytest.raises(InputError, match=r"downloading is off \(allow_download=False\)"):
        load_image_set("mnist", data_dir=tmp_path / "none", allow_download=False)


# ---- the Dataset: labels at once, pixels when first used -------------------------------------------------


@pytest.mark.parametrize("layout", ["idx", "npz"])
def test_image_dataset_reads_labels_now_and_pixels_on_first_use(tmp_path, monkeypatch, layout):
    from ae_core.data.registry import load_dataset

    arrays = tiny_set()
    if layout == "idx":
        write_set(tmp_path, arrays)
    else:
        np.savez(tmp_path / "mnist.npz", **dict(zip(image_files.KERAS_KEYS, arrays)))
    reads = []
    monkeypatch.setattr(image_files.ImageFiles, "images",
                        lambda self, real=image_files.ImageFiles.images: reads.append(1) or real(self))
    ds = load_dataset("mnist", data_dir=tmp_path, allow_download=False)
    assert (ds.n_samples, ds.n_features, ds.image_shape) == (10, 784, (28, 28))
    np.testing.assert_array_equal(ds.y, np.concatenate([arrays[1], arrays[3]]))
    assert ds.label_names()[0] == str(arrays[1][0]) and reads == []  # nothing but labels read so far
    X = ds.X
    assert X.shape == (10, 784) and X.dtype == np.float32 and not X.flags.writeable
    np.testing.assert_array_equal(X[6].reshape(28, 28), arrays[2][0])
    assert ds.X is X and reads == [1]  # read once


def test_image_dataset_with_damaged_pixels_fails_on_use_with_the_file_named(tmp_path):
    from ae_core.data.registry import load_dataset

    write_set(tmp_path, tiny_set())
    (tmp_path / IDX_FILES[2]).write_bytes(b"\x1f\x8b" + b"not gzip at all")
    ds = load_dataset("mnist", data_dir=tmp_path, allow_download=False)
    assert ds.n_samples == 10
    with pytest.raises(InputError, match=f"{IDX_FILES[2]}' is a damaged gzip file"):
        ds.X


def test_image_dataset_refuses_labels_that_do_not_match_the_images(tmp_path):
    from ae_core.data.registry import load_dataset

    x_train, y_train, x_test, y_test = tiny_set()
    write_set(tmp_path, (x_train, y_train, x_test, y_test[:2]))
    ds = load_dataset("mnist", data_dir=tmp_path, allow_download=False)
    with pytest.raises(InputError, match="8 labels for 10 images"):
        ds.X
