"""Cache keys and the cache the pipeline reads and writes stage results through (restored image, tags, masks).

Keys chain the input's hash with each stage's name and options: a change upstream invalidates what follows. The
files behind it are the batch's (:class:`alien_filters.batch.cache.StageCache`); :class:`NoCache` keeps nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from PIL import Image

from .contracts import ClassMasks


def cache_key(*parts: Any) -> str:
    """A stable hex key for JSON-serialisable ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:32]


class ResultCache(Protocol):
    """Stage results by key; a miss (missing or unreadable entry) is None, never an error."""

    def get_image(self, key: str) -> Image.Image | None: ...

    def put_image(self, key: str, image: Image.Image) -> None: ...

    def get_json(self, key: str) -> Any | None: ...

    def put_json(self, key: str, data: Any) -> None: ...

    def get_masks(self, key: str) -> ClassMasks | None: ...

    def put_masks(self, key: str, masks: ClassMasks) -> None: ...


class NoCache:
    """A cache that keeps nothing: every lookup misses."""

    def get_image(self, key: str) -> None:
        return None

    def put_image(self, key: str, image: Image.Image) -> None:
        pass

    def get_json(self, key: str) -> None:
        return None

    def put_json(self, key: str, data: Any) -> None:
        pass

    def get_masks(self, key: str) -> None:
        return None

    def put_masks(self, key: str, masks: ClassMasks) -> None:
        pass
