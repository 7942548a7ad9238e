"""Thumbnail atlas: every image of a run, and its reconstruction, as tiles of one PNG sprite sheet.

The latent scatter shows a point's picture the moment the pointer rests on it, also among 70,000 points, so
the pictures travel with the chart once instead of one request per hover: the TensorFlow Projector's sprite
image does the same (one PNG, tiles in row-major order, a fixed tile size). Tile ``2 * row`` holds the image
of dataset row ``row``, tile ``2 * row + 1`` its reconstruction; tile ``t`` sits at column ``t % cols`` and
row ``t // cols`` of the sheet. Grey images are drawn dark on light, as on every other page.

The sheet's pixel budget (`ATLAS_PIXELS`) sets the tile size: a browser decodes the PNG to 4 bytes a pixel,
so 24 M pixels is about 100 MB of memory; 70,000 images with their reconstructions get 13-pixel tiles,
5,000 get 32. A run's atlas is built once and kept in its folder (`atlas.png`, `atlas.json`).
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass

import numpy as np

from ae_core.errors import InputError

ATLAS_PIXELS = 24_000_000  # the whole sheet; see the module docstring
MAX_TILE = 32  # px: the tooltip shows a tile at about 96 px, so more detail is not seen
MIN_TILE = 4
ATLAS_FILE, LAYOUT_FILE = "atlas.png", "atlas.json"
ATLAS_VERSION = 1  # bump when the layout changes: a cached atlas of another version is rebuilt
# Grey sheets in 16 levels (a 4-bit PNG): 6.6 MB instead of 16.9 for 70,000 Fashion-MNIST images and their
# reconstructions, encoded and decoded faster; a step of 17/255, not seen at thumbnail size. Measured in
# benchmarks/bench_images.py ("Your own images"); the why in benchmarks/FINDINGS.md. Colour sheets stay 8-bit.
GREY_BITS = 4


@dataclass(frozen=True)
class AtlasLayout:
    """Where tile ``t`` is: column ``t % cols``, row ``t // cols``, each ``tile`` pixels square.

    Attributes
    ----------
    n : int
        Images (dataset rows); there are ``n * per_row`` tiles.
    per_row : int
        Tiles per dataset row: 2 (image, reconstruction) or 1 (image only).
    cols, rows : int
        The sheet's size in tiles.
    tile : int
        Tile side in pixels.
    colour : bool
        RGB tiles; grey ones otherwise.
    """

    n: int
    per_row: int
    cols: int
    rows: int
    tile: int
    colour: bool
    version: int = ATLAS_VERSION

    def position(self, row: int, which: int = 0) -> tuple[int, int]:
        """Top-left pixel (x, y) of dataset row `row`'s image (`which` 0) or reconstruction (1)."""
        t = row * self.per_row + which
        return (t % self.cols) * self.tile, (t // self.cols) * self.tile

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sheet in pixels."""
        return self.cols * self.tile, self.rows * self.tile

    def to_dict(self) -> dict:
        return asdict(self)


def atlas_layout(n: int, image_side: int, per_row: int = 2, colour: bool = False,
                 budget: int = ATLAS_PIXELS) -> AtlasLayout:
    """The tile size and grid for `n` images: as large as the budget allows, never above the images' own
    side or `MAX_TILE`; the sheet about square.

    >>> atlas_layout(1797, 8).tile, atlas_layout(70_000, 28).tile
    (8, 13)
    """
    if n < 1:
        raise InputError("an atlas needs at least one image.")
    tiles = n * per_row
    tile = int(min(image_side, MAX_TILE, math.isqrt(budget // tiles)))
    if tile < MIN_TILE:
        raise InputError(f"{n:,} images do not fit a {budget:,}-pixel atlas with tiles of at least {MIN_TILE} pixels.")
    cols = math.ceil(math.sqrt(tiles))
    cols += cols % per_row  # an image and its reconstruction side by side on one row of the sheet
    return AtlasLayout(n=n, per_row=per_row, cols=cols, rows=math.ceil(tiles / cols), tile=tile, colour=colour)


def _shrink(images: np.ndarray, tile: int) -> np.ndarray:
    """(n, h, w[, c]) in [0, 1] -> (n, tile, tile[, c]): area averaging (each output pixel the mean of the input
    pixels it covers), as OpenCV's INTER_AREA, through torch's adaptive pooling."""
    if images.shape[1:3] == (tile, tile):
        return images
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images, np.float32))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)  # (n, c, h, w)
    y = F.adaptive_avg_pool2d(x, tile)
    return (y.squeeze(1) if images.ndim == 3 else y.permute(0, 2, 3, 1)).numpy()


def build_atlas(images: np.ndarray, reconstructions: np.ndarray | None = None,
                budget: int = ATLAS_PIXELS) -> tuple[np.ndarray, AtlasLayout]:
    """The sprite sheet of `images` (and their `reconstructions`, tile by tile after each image).

    Parameters
    ----------
    images, reconstructions : arrays of shape (n, h, w) or (n, h, w, 3), values in [0, 1]

    Returns
    -------
    sheet : uint8 array of shape (rows * tile, cols * tile[, 3]); grey is inverted (dark ink on white),
        unused tiles are white
    layout : AtlasLayout
    """
    images = np.asarray(images, np.float32)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] != 3):
        raise InputError(f"an atlas needs images of shape (n, h, w) or (n, h, w, 3), got {images.shape}.")
    if reconstructions is not None and np.shape(reconstructions) != images.shape:
        raise InputError(f"got reconstructions of shape {np.shape(reconstructions)} for images of {images.shape}.")
    n, colour = len(images), images.ndim == 4
    layout = atlas_layout(n, max(images.shape[1:3]), 1 if reconstructions is None else 2, colour, budget)
    t = layout.tile
    parts = [images] if reconstructions is None else [images, np.asarray(reconstructions, np.float32)]
    tiles = np.empty((n, layout.per_row, t, t, *images.shape[3:]), np.uint8)
    for start in range(0, n, 8192):  # bounded float memory at 70,000 images
        for k, part in enumerate(parts):
            small = np.clip(_shrink(part[start:start + 8192], t), 0, 1)
            small = small if colour else 1.0 - small
            tiles[start:start + 8192, k] = (small * 255 + 0.5).astype(np.uint8)
    flat = tiles.reshape(n * layout.per_row, t, t, *images.shape[3:])
    pad = layout.rows * layout.cols - len(flat)
    flat = np.concatenate([flat, np.full((pad, *flat.shape[1:]), 255, np.uint8)]) if pad else flat
    grid = flat.reshape(layout.rows, layout.cols, t, t, *images.shape[3:])
    sheet = grid.swapaxes(1, 2).reshape(layout.rows * t, layout.cols * t, *images.shape[3:])
    return np.ascontiguousarray(sheet), layout


def atlas_png(sheet: np.ndarray, grey_bits: int = GREY_BITS) -> bytes:
    """The sheet as PNG bytes (grey or RGB). compress_level 3: most of level 9's size at a fraction of its time.

    A grey sheet is stored with `grey_bits` bits a pixel (4: 16 levels, each value rounded to the nearest
    multiple of 17; 8: as it is); see `GREY_BITS`.
    """
    from PIL import Image

    if grey_bits not in (4, 8):
        raise ValueError(f"grey_bits must be 4 or 8, got {grey_bits!r}")
    buf = io.BytesIO()
    if sheet.ndim == 2 and grey_bits == 4:
        levels = ((sheet.astype(np.uint16) + 8) // 17 * 17).astype(np.uint8)  # Pillow packs the top 4 bits
        Image.fromarray(levels).save(buf, format="PNG", compress_level=3, bits=4)
    else:
        Image.fromarray(sheet).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def write_atlas(store, run_id: str, X_scaled: np.ndarray, image_shape, model,
                grey_bits: int = GREY_BITS) -> tuple[bytes, AtlasLayout]:
    """Build the atlas of a run's scaled image rows and their reconstructions by `model`, and keep it in the
    run's folder. The worker calls this when training ends, so the Latent page never waits for it."""
    from ae_core.analysis.latent import as_images
    from ae_core.analysis.metrics import reconstruct

    rebuilt = np.concatenate([reconstruct(model, X_scaled[i:i + 8192]) for i in range(0, len(X_scaled), 8192)])
    sheet, layout = build_atlas(as_images(X_scaled, image_shape), as_images(rebuilt, image_shape))
    png = atlas_png(sheet, grey_bits)
    store.write_bytes(run_id, ATLAS_FILE, png)
    # Written last: its presence says the PNG is whole.
    store.write_json(run_id, LAYOUT_FILE, {"layout": layout.to_dict(), "weights": store.weights_signature(run_id)})
    return png, layout


def cached_atlas(run) -> tuple[bytes, AtlasLayout]:
    """The run's atlas (PNG bytes, layout) from its folder, or built now (a run trained before atlases
    existed, or trained again since). Image runs only."""
    if run.dataset.image_shape is None:
        raise InputError("thumbnails are for image datasets; this one is tabular.")
    saved = run.store.read_json(run.id, LAYOUT_FILE) or {}
    path = run.store.path(run.id, ATLAS_FILE)
    if (saved.get("weights") == run.store.weights_signature(run.id)
            and saved.get("layout", {}).get("version") == ATLAS_VERSION and path.is_file()):
        return path.read_bytes(), AtlasLayout(**saved["layout"])
    return write_atlas(run.store, run.id, run.X, run.dataset.image_shape, run.model)
