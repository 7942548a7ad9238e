"""Write data/samples/: the small files the Upload page's "Try a sample" offers (and the CLI can read).

    python scripts/make_samples.py

Deterministic (fixed seeds), so running it again rewrites the same bytes; data/samples/README.md names each
file's source and licence.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed member times: the same zip bytes every run


def wine_csv() -> bytes:
    """scikit-learn's copy of the UCI Wine set: 13 measurements and the cultivar (the label)."""
    from sklearn.datasets import load_wine

    d = load_wine(as_frame=True)
    frame = d.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = np.asarray(d.target_names)[d.target]
    return frame.to_csv(index=False, float_format="%.4g").encode()


def messy_csv(n: int = 400, seed: int = 0) -> bytes:
    """A shop's orders as a spreadsheet export would have them: an id, day-first dates, money as text with
    thousands separators, percentages, yes/no, a few categories, NA spellings, a constant column and notes.
    Synthetic (our own numbers), with structure to find: two customer segments order differently."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(["retail", "wholesale"], n, p=[0.7, 0.3])
    big = segment == "wholesale"
    quantity = np.where(big, rng.poisson(40, n), rng.poisson(3, n)) + 1
    unit = np.round(np.where(big, rng.normal(8, 1.5, n), rng.normal(14, 3, n)).clip(1), 2)
    discount = np.where(big, rng.uniform(10, 25, n), rng.uniform(0, 8, n))
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 365, n), unit="D")
    frame = pd.DataFrame({
        "Order ID": [f"ORD-{10000 + i}" for i in range(n)],
        "Order date": when.strftime("%d/%m/%Y %H:%M"),
        "Region": rng.choice(["North", "South", "East", "West"], n),
        "Segment": segment,
        "Quantity": quantity,
        "Unit price": [f"${v:,.2f}" for v in unit],
        "Total": [f"${v:,.2f}" for v in quantity * unit * (1 - discount / 100)],
        "Discount": [f"{v:.1f}%" for v in discount],
        "Express": np.where(rng.random(n) < np.where(big, 0.6, 0.2), "yes", "no"),
        "Currency": "USD",
        "Customer rating": rng.integers(1, 6, n).astype(object),
        "Notes": rng.choice(["", "call before delivery", "gift wrap", "leave at the door", "fragile"], n),
    })
    frame.loc[rng.random(n) < 0.05, "Customer rating"] = "n/a"  # NA spelled as people spell it
    frame.loc[rng.random(n) < 0.03, "Unit price"] = ""
    return frame.to_csv(index=False).encode()


def digits_zip(per_class: int = 60) -> bytes:
    """scikit-learn's digits (8x8, 16 grey levels) as PNGs, one folder per digit: the usual class-folder layout."""
    from sklearn.datasets import load_digits

    d = load_digits()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for digit in range(10):
            for k, i in enumerate(np.flatnonzero(d.target == digit)[:per_class]):
                pixels = (d.images[i] / 16.0 * 255 + 0.5).astype(np.uint8)
                png = io.BytesIO()
                Image.fromarray(pixels, "L").save(png, format="PNG")
                zf.writestr(zipfile.ZipInfo(f"digits/{digit}/{digit}_{k:03d}.png", ZIP_DATE), png.getvalue())
    return buf.getvalue()


SAMPLES = {"wine.csv": wine_csv, "orders-messy.csv": messy_csv, "digits-images.zip": digits_zip}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in SAMPLES.items():
        data = make()
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data) / 1e3:,.1f} kB")


if __name__ == "__main__":
    main()
