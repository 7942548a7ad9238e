"""Tiny image sets made in the tests, in the real formats."""

import io
import zipfile

import numpy as np
from PIL import Image


def shapes_zip(path, n=30, side=16, colours=(("red", (200, 30, 30)), ("blue", (30, 30, 200))), seed=0):
    """Discs of two colours in one folder per class: a zip in the usual layout."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    with zipfile.ZipFile(path, "w") as zf:
        for cls, colour in colours:
            for i in range(n):
                a = np.full((side, side, 3), 255, np.uint8)
                r, (cx, cy) = rng.integers(2, side // 3), rng.integers(side // 3, 2 * side // 3, 2)
                a[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = colour
                buf = io.BytesIO()
                Image.fromarray(a).save(buf, "PNG")
                zf.writestr(f"set/{cls}/{i:03d}.png", buf.getvalue())
    return path
