"""Per-image cache of stage results, so a re-run (another theme, a resumed batch) reuses restore, tags and masks.

Keys chain the input's hash with each stage's name and options: a change upstream invalidates what follows.
A missing or unreadable entry is a miss, never an error.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..core.contracts import ClassMasks
from . import atomic


class StageCache:
    """Files under ``root`` (None disables caching)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, key: str, suffix: str) -> Path | None:
        return None if self.root is None else self.root / key[:2] / f"{key}{suffix}"

    def get_image(self, key: str) -> Image.Image | None:
        path = self._path(key, ".png")
        if path is None:
            return None
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError):
            return None

    def put_image(self, key: str, image: Image.Image) -> None:
        path = self._path(key, ".png")
        if path is not None:
            atomic.write_image(path, image, compress_level=1)

    def get_json(self, key: str) -> Any | None:
        path = self._path(key, ".json")
        if path is None:
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put_json(self, key: str, data: Any) -> None:
        path = self._path(key, ".json")
        if path is not None:
            atomic.write_json(path, data)

    def get_masks(self, key: str) -> ClassMasks | None:
        path = self._path(key, ".npz")
        if path is None:
            return None
        try:
            with np.load(path) as data:
                return {name: data[name].astype(bool) for name in data.files}
        except (OSError, ValueError, KeyError):
            return None

    def put_masks(self, key: str, masks: ClassMasks) -> None:
        path = self._path(key, ".npz")
        if path is not None:
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **{name: mask.astype(bool) for name, mask in masks.items()})
            atomic.write_bytes(path, buffer.getvalue())
