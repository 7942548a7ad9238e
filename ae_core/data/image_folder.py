"""A person's own images, from a folder or a zip, as one array with a preparation report.

The layout is the one torchvision's `ImageFolder` and Keras' `image_dataset_from_directory` read:
one sub-folder per class (``cats/1.png``, ``dogs/7.jpg``); images that all sit in one flat folder
are unlabelled. Every image is centre-cropped to a square, resized to ``side`` x ``side`` pixels
and kept as grayscale or RGB, so one small model fits them all.

A zip comes from a stranger, so it is read in memory, never extracted, and refused as a whole
(:class:`~ae_core.errors.InputError`) before any image is decoded when a member's path is absolute
or climbs out with ``..``, a member is a symbolic link, or the archive is a zip bomb: too many
members, too many bytes once uncompressed, a compression ratio no image has, or an image whose
header announces more pixels than :attr:`ImageLimits.max_pixels` (checked before decoding, the
way Pillow's own ``Image.MAX_IMAGE_PIXELS`` guard works, at a lower limit).
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import stat
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ae_core.errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
COLOURS = ("auto", "grayscale", "rgb")
MIN_SIDE, MAX_SIDE = 8, 128  # square side of the prepared images
AUTO_SIDE_CAP = 64  # an automatic side is the common images' smaller side, at most this
MIN_IMAGE_SIDE = 8  # a smaller source image carries too little to learn from: skipped


@dataclass(frozen=True)
class ImageLimits:
    """What one folder or zip may hold; past these the whole input is refused.

    The defaults let 20,000 photos through and keep a hostile archive from filling memory: 20,000
    images of 128 x 128 RGB are 1 GB once decoded, the most the app wants to hold for one dataset.
    """

    max_files: int = 20_000  # members / files (folders not counted)
    max_total_bytes: int = 1 << 30  # all image files together, uncompressed
    max_file_bytes: int = 64 << 20  # one image file
    max_pixels: int = 50_000_000  # one image's width x height, from its header (Pillow warns at 89 M)
    max_ratio: int = 200  # uncompressed / compressed size of a zip member above 1 MB; image files barely compress
    max_values: int = 150_000_000  # images x side x side x 3 once prepared: 600 MB as the float32 a model trains on


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class ImageReport:
    """What :func:`read_images` did, in words a person can check.

    Attributes
    ----------
    source : str
        ``"zip"`` or ``"folder"``.
    n_files : int
        Files looked at (hidden files and macOS metadata excluded).
    n_read : int
        Images kept.
    skipped : tuple of (name, reason)
        Files not used and why: not an image, unreadable, too small.
    sizes : tuple of (str, int)
        Source sizes (``"640x480"``) and how many images had each, most common first.
    modes : tuple of (str, int)
        Source colour modes (Pillow's: ``L``, ``RGB``, ``P``, ...) and their counts.
    side : int
        The square side every image was resized to.
    colour : str
        ``"grayscale"`` or ``"rgb"``.
    classes : tuple of (name, int)
        Class folders and their image counts; empty when unlabelled.
    notes : tuple of str
        How the side and colour were chosen, why there are no classes, ...
    """

    source: str
    n_files: int
    n_read: int
    skipped: tuple[tuple[str, str], ...]
    sizes: tuple[tuple[str, int], ...]
    modes: tuple[tuple[str, int], ...]
    side: int
    colour: str
    classes: tuple[tuple[str, int], ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"source": self.source, "n_files": self.n_files, "n_read": self.n_read,
                "skipped": [list(s) for s in self.skipped], "sizes": [list(s) for s in self.sizes],
                "modes": [list(m) for m in self.modes], "side": self.side, "colour": self.colour,
                "classes": [list(c) for c in self.classes], "notes": list(self.notes)}

    def skip_reasons(self) -> list[tuple[str, int]]:
        """(reason without its details, count), most common first: 'unreadable', 'too small', ..."""
        return Counter(why.split(":")[0] for _, why in self.skipped).most_common()

    def summary_lines(self) -> list[str]:
        """Plain-English lines for the CLI and the app, most important first."""
        lines = [(f"Read {self.n_read:,} of {self.n_files:,} files from the {self.source} as {self.side}x{self.side} "
                  f"{'RGB' if self.colour == 'rgb' else 'grayscale'} images (centre-cropped to a square, then resized).")]
        if self.classes:
            lines.append(f"{len(self.classes)} classes from the sub-folders: "
                         + ", ".join(f"{name} ({n:,})" for name, n in self.classes[:12])
                         + (", ..." if len(self.classes) > 12 else "") + ".")
        else:
            lines.append("No class sub-folders: the images are unlabelled.")
        if self.sizes:
            lines.append("Sizes found: " + ", ".join(f"{s} ({n:,})" for s, n in self.sizes[:5])
                         + (f" and {len(self.sizes) - 5} more" if len(self.sizes) > 5 else "") + ".")
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped):,} file(s): "
                         + ", ".join(f"{why} ({n:,})" for why, n in self.skip_reasons()) + ".")
        lines += [f"Note: {note}." for note in self.notes]
        return lines


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Prepared images: ``X`` uint8 of shape (n, side, side) or (n, side, side, 3), row-major."""

    X: np.ndarray
    labels: np.ndarray | None  # int64 class index per image, or None
    class_names: tuple[str, ...]
    names: tuple[str, ...]  # each image's path inside the folder or zip
    report: ImageReport = field(repr=False)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.X.shape[1:])


# ---- where the files come from -------------------------------------------------------------


def _is_hidden(parts) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _unsafe_member(name: str) -> bool:
    """An absolute path, a drive letter or a `..` step: a member meant to land outside its folder."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return True
    return ".." in re.split(r"[\\/]", name)


def _zip_members(path: Path, limits: ImageLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The zip's file members after every check that needs no decoding; InputError refuses the archive."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot open the zip ({exc}); upload a .zip file made by a zip tool.") from None
    try:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_files:
            raise InputError(f"the zip holds {len(infos):,} files, more than the {limits.max_files:,} allowed; "
                             "split it or keep fewer images.")
        total = 0
        for info in infos:
            if _unsafe_member(info.filename):
                raise InputError(f"the zip holds a member with an unsafe path ({info.filename[:80]!r}: absolute or "
                                 "with '..'); refused. Make the zip from inside the image folder.")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(f"the zip holds a symbolic link ({info.filename[:80]!r}); refused. "
                                 "Zip the image files themselves.")
            if info.file_size > limits.max_file_bytes:
                raise InputError(f"{info.filename[:80]!r} is {info.file_size / 1e6:,.0f} MB uncompressed, more than the "
                                 f"{limits.max_file_bytes / 1e6:,.0f} MB allowed per file; refused.")
            if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise InputError(f"{info.filename[:80]!r} expands {info.file_size / max(info.compress_size, 1):,.0f} "
                                 "times when unzipped, which no image file does (a zip bomb?); refused.")
            total += info.file_size
        if total > limits.max_total_bytes:
            raise InputError(f"the zip expands to {total / 1e6:,.0f} MB, more than the {limits.max_total_bytes / 1e6:,.0f} MB "
                             "allowed; keep fewer or smaller images.")
    except BaseException:
        zf.close()
        raise
    return zf, infos


def _folder_files(root: Path, limits: ImageLimits) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    """(relative name, path) of every regular file under `root`, symbolic links skipped (never followed)."""
    files, skipped, total = [], [], 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden([d]))
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            rel = path.relative_to(root).as_posix()
            if _is_hidden(PurePosixPath(rel).parts):
                continue
            if path.is_symlink():
                skipped.append((rel, "symbolic link: not followed"))
                continue
            files.append((rel, path))
            total += path.stat().st_size
            if len(files) > limits.max_files:
                raise InputError(f"the folder holds more than {limits.max_files:,} files; point at a smaller folder.")
    if total > limits.max_total_bytes:
        raise InputError(f"the folder holds {total / 1e6:,.0f} MB of files, more than the "
                         f"{limits.max_total_bytes / 1e6:,.0f} MB allowed; point at a smaller folder.")
    return files, skipped


class _Source:
    """Uniform access to the candidate files of a folder or a zip: names, then bytes on demand."""

    def __init__(self, path, limits: ImageLimits):
        path = Path(path)
        self.zip, self.skipped = None, []
        if path.is_dir():
            self.kind = "folder"
            files, self.skipped = _folder_files(path, limits)
            self.items = [(name, p) for name, p in files]
        elif path.is_file():
            self.kind = "zip"
            self.zip, infos = _zip_members(path, limits)
            self.items = sorted(((i.filename.replace("\\", "/"), i) for i in infos
                                 if not _is_hidden(PurePosixPath(i.filename.replace("\\", "/")).parts)), key=lambda t: t[0])
        else:
            raise InputError(f"no such file or folder: {path}")
        self.limits = limits

    def read(self, item) -> bytes:
        if self.zip is None:
            return item.read_bytes()
        if item.flag_bits & 0x1:
            raise OSError("encrypted")
        with self.zip.open(item) as f:
            data = f.read(self.limits.max_file_bytes + 1)  # the declared size was checked; never trust it
        if len(data) > self.limits.max_file_bytes:
            raise InputError(f"{item.filename[:80]!r} is larger than its header says; refused.")
        return data

    def close(self):
        if self.zip is not None:
            self.zip.close()


# ---- decoding --------------------------------------------------------------------------------


def _open(data: bytes, name: str, limits: ImageLimits):
    """A lazily decoded Pillow image after the pixel check on its header; InputError for a bomb."""
    from PIL import Image

    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit raises) on huge headers; ours is lower, so decide here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            im = None
    if im is None or im.width * im.height > limits.max_pixels:
        size = f"{im.width:,}x{im.height:,} pixels" if im is not None else "more pixels than Pillow allows"
        raise InputError(f"{name[:80]!r} claims {size}, more than the {limits.max_pixels:,} allowed per image "
                         "(a decompression bomb?); refused. Resize it or leave it out.")
    return im


def _to_rgb(im):
    """First frame, transparency flattened onto white, as an RGB image."""
    from PIL import Image

    im.seek(0)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")


def _square(im, side: int):
    from PIL import ImageOps

    im.draft("RGB", (side, side))  # JPEG: decode at a reduced scale directly (much faster on photos)
    return ImageOps.fit(_to_rgb(im), (side, side), method=3)  # 3 = BICUBIC


def _class_layout(names: list[str]) -> tuple[list[str] | None, str | None]:
    """Class per image from the first folder below the common root, or (None, why not)."""
    parts = [PurePosixPath(n).parts[:-1] for n in names]
    common = 0
    while parts and all(len(p) > common for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    rest = [p[common:] for p in parts]
    if all(not r for r in rest):
        return None, None
    if any(not r for r in rest):
        return None, "some images sit beside the class folders, so the folders are not used as classes"
    return [r[0] for r in rest], None


def read_images(source, side: int | None = None, colour: str = "auto",
                limits: ImageLimits = DEFAULT_LIMITS) -> ImageSet:
    """Read a folder or a zip of images into one uint8 array.

    Parameters
    ----------
    source : path of a folder or a .zip file
    side : int in [8, 128] or None
        Square side of the prepared images; None picks the most common images' smaller side, at most 64.
    colour : "auto" | "grayscale" | "rgb"
        "auto" keeps RGB if any image has colour, grayscale otherwise.
    limits : ImageLimits

    Returns
    -------
    ImageSet

    Raises InputError for a hostile or unusable input, or when no image could be read.

    >>> read_images("photos.zip", side=32).X.shape  # doctest: +SKIP
    (812, 32, 32, 3)
    """
    if colour not in COLOURS:
        raise InputError(f"colour must be one of {', '.join(COLOURS)}; got {colour!r}.")
    if side is not None and not MIN_SIDE <= int(side) <= MAX_SIDE:
        raise InputError(f"the image side must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {side}.")
    src = _Source(source, limits)
    try:
        return _read(src, side, colour, limits)
    finally:
        src.close()


def _read(src: _Source, side: int | None, colour: str, limits: ImageLimits) -> ImageSet:
    skipped = list(src.skipped)
    found = _headers(src, limits, skipped)
    notes: list[str] = []
    side = _choose_side(found, side, limits, notes)
    rgb, kept = _decode(src, found, side, limits, skipped)
    X, colour = _colour(rgb, colour, notes)
    labels, class_names, class_counts = _labels_of(kept, notes)
    report = ImageReport(source=src.kind, n_files=len(src.items) + len(src.skipped), n_read=len(kept),
                         skipped=tuple(skipped), sizes=tuple(Counter(f"{w}x{h}" for _, _, (w, h), _ in found).most_common()),
                         modes=tuple(Counter(m for _, _, _, m in found).most_common()),
                         side=side, colour=colour, classes=class_counts, notes=tuple(notes))
    log.info("read %d images (%s, side %d, %s) from a %s; %d skipped", len(kept), colour, side,
             "labelled" if labels is not None else "unlabelled", src.kind, len(skipped))
    return ImageSet(X=X, labels=labels, class_names=class_names, names=tuple(kept), report=report)


def _headers(src: _Source, limits: ImageLimits, skipped: list) -> list:
    """Pass 1, headers only (no pixel decoded): (name, item, (w, h), mode) of every usable image."""
    found = []
    for name, item in src.items:
        if not name.lower().endswith(IMAGE_SUFFIXES):
            skipped.append((name, f"not an image: {PurePosixPath(name).suffix or 'no suffix'}"))
            continue
        try:
            im = _open(src.read(item), name, limits)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure is this file's problem, reported per file
            skipped.append((name, f"unreadable: {type(exc).__name__}: {str(exc)[:80]}"))
            continue
        if min(im.size) < MIN_IMAGE_SIDE:
            skipped.append((name, f"too small: {im.width}x{im.height} (at least {MIN_IMAGE_SIDE} pixels a side)"))
            continue
        found.append((name, item, im.size, im.mode))
    if not found:
        why = "; ".join(f"{w} ({n})" for w, n in Counter(w.split(":")[0] for _, w in skipped).most_common()) or "it is empty"
        raise InputError(f"no usable image in the {src.kind} ({why}). Supported: "
                         f"{', '.join(s.lstrip('.').upper() for s in IMAGE_SUFFIXES)}.")
    return found


def _choose_side(found: list, side: int | None, limits: ImageLimits, notes: list) -> int:
    """The square side: the one asked for, else the most common smaller side (capped, and lowered to fit)."""
    if side is None:
        common = Counter(min(s) for _, _, s, _ in found).most_common(1)[0][0]
        side = int(np.clip(common, MIN_SIDE, AUTO_SIDE_CAP))
        notes.append(f"side {side} chosen from the most common image size (set it to change)")
        fits = math.isqrt(limits.max_values // (3 * len(found)))
        if side > fits >= MIN_SIDE:
            side = fits
            notes.append(f"side lowered to {side}: {len(found):,} larger images would not fit in memory")
    # Every image counts as colour here: whether there is colour is known only once they are decoded.
    if len(found) * side * side * 3 > limits.max_values:
        fits = math.isqrt(limits.max_values // (3 * len(found)))
        raise InputError(f"{len(found):,} images of {side}x{side} pixels are too many to hold in memory; "
                         + (f"choose a side of at most {fits}." if fits >= MIN_SIDE else
                            f"keep at most {limits.max_values // (3 * MIN_SIDE * MIN_SIDE):,} images."))
    return side


def _decode(src: _Source, found: list, side: int, limits: ImageLimits, skipped: list) -> tuple[np.ndarray, list]:
    """Pass 2: decode, square and resize; (n, side, side, 3) uint8 and the names kept."""
    rgb = np.empty((len(found), side, side, 3), np.uint8)
    kept: list[str] = []
    for name, item, _, _ in found:
        try:
            rgb[len(kept)] = np.asarray(_square(_open(src.read(item), name, limits), side))
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - a header that opened but pixels that do not: this file only
            skipped.append((name, f"unreadable: {type(exc).__name__}: {str(exc)[:80]}"))
            continue
        kept.append(name)
    if not kept:
        raise InputError(f"none of the {len(found):,} images in the {src.kind} could be decoded.")
    return rgb[: len(kept)], kept


def _colour(rgb: np.ndarray, colour: str, notes: list) -> tuple[np.ndarray, str]:
    """The pixels in the colour mode asked for (auto: RGB where any image has colour) and that mode."""
    if colour == "auto":
        spread = np.ptp(rgb.astype(np.int16), axis=3).max()
        colour = "rgb" if spread > 8 else "grayscale"  # JPEG leaves a few levels of tint on grey photos
        notes.append(f"{'colour found' if colour == 'rgb' else 'no colour found'}: kept as {colour}")
    if colour == "grayscale":
        # ITU-R 601 luma, as Pillow's convert("L").
        return (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5).astype(np.uint8), colour
    return rgb, colour


def _labels_of(kept: list, notes: list):
    """(labels, class names, (class, count) pairs) from the folder layout; Nones and () for a flat folder."""
    classes, why = _class_layout(kept)
    if why:
        notes.append(why)
    if classes is None:
        return None, (), ()
    names_, idx = np.unique(np.asarray(classes, dtype=object).astype(str), return_inverse=True)
    labels, class_names = idx.astype(np.int64), tuple(str(c) for c in names_)
    counts = np.bincount(labels, minlength=len(class_names))
    return labels, class_names, tuple((c, int(k)) for c, k in zip(class_names, counts))
