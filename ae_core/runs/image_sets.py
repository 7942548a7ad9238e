"""The image sets a person has given, as datasets to choose beside the built-in ones.

An image set is a zip uploaded on the Upload page (kept under ``<runs root>/uploads/`` by its hash) or a
folder or zip named to ``train --images PATH``; either way a run's config holds it as
``{"name": "images", "options": {"path", "side", "colour", ...}}``. :func:`image_sets` lists them, so the
Train page can train any variant on them, as it does on digits.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ae_core.runs.store import RunStore

_OPTIONS = ("path", "side", "colour", "display_name")  # what load_dataset("images", ...) takes


@dataclass(frozen=True)
class ImageSet:
    """An image source and the side and colour to prepare it with.

    Attributes
    ----------
    key : str
        ``"images:<12 hex>"``, the same for the same source and settings (a choice a page can keep).
    name : str
        Display text: the upload's file name or the folder's name, never a path.
    options : dict
        Keyword arguments of ``load_dataset("images", ...)``.
    """

    key: str
    name: str
    options: dict

    @property
    def title(self) -> str:
        side, colour = self.options.get("side"), self.options.get("colour") or "auto"
        how = ", ".join(p for p in (f"{side} px" if side else "", "" if colour == "auto" else colour) if p)
        return f"Your images: {self.name}" + (f" ({how})" if how else "")


def _image_set(options: dict) -> ImageSet:
    options = {k: options[k] for k in _OPTIONS if options.get(k) is not None}
    options["path"] = str(options["path"])
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
    name = options.get("display_name") or Path(options["path"]).stem
    return ImageSet(key=f"images:{digest}", name=str(name), options=options)


def _upload_name(zip_path: Path) -> str | None:
    """The display name the Upload page stored beside a zip (`<hash>.json`), if any."""
    try:
        return str(json.loads(zip_path.with_suffix(".json").read_text())["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def image_sets(store: RunStore) -> list[ImageSet]:
    """Every image set of this store: those runs trained on (newest run first, each source and settings
    once), then uploaded zips no run has used yet (prepared with the automatic side and colour).

    A source that is gone (a deleted upload, a moved folder) is left out: it could not be loaded.
    """
    found: dict[str, ImageSet] = {}
    used_paths = set()
    for rec in store.list():  # newest first
        spec = (rec.config or {}).get("dataset") or {}
        options = spec.get("options") or {}
        if spec.get("name") != "images" or not options.get("path"):
            continue
        used_paths.add(Path(options["path"]).resolve())
        if Path(options["path"]).exists():
            s = _image_set(options)
            found.setdefault(s.key, s)
    uploads = store.root / "uploads"
    zips = sorted(uploads.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True) if uploads.is_dir() else []
    for z in zips:
        if z.resolve() in used_paths:
            continue
        s = _image_set({"path": str(z), "display_name": _upload_name(z) or "upload"})
        found.setdefault(s.key, s)
    return list(found.values())
