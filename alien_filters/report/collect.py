"""Streams images to small tag records, reusing tags from the report's cache and from batch manifests.

Each image is hashed (sha256); its tags come from, in order: the report cache (keyed by the hash and the
tagger), a batch manifest in the ``--manifests`` folders with the same input hash, or the tagger itself. A
second report over the same folder therefore decodes no image and loads no model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Generic, Sequence, TypeVar

import numpy as np
from PIL import Image

from ..batch.cache import StageCache
from ..batch.imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_image, sha256_file
from ..batch.manifest import FORMAT as MANIFEST_FORMAT
from ..core.cache import cache_key
from ..core.contracts import Tagger, Tags
from ..core.pipeline import StageMissing
from ..core.sizing import WorkingSize
from .embed import Embedder, decode_embedding, encode_embedding

SOURCES = ("cache", "manifest", "tagger")


@dataclass(frozen=True)
class TagRecord:
    """What the report keeps of one image: class scores, box areas, style scores, optional embedding."""

    path: str
    sha256: str
    classes: dict[str, float]
    """Class -> best detection score."""
    areas: dict[str, float]
    """Class -> fraction of the image its detection boxes cover (summed, capped at 1): an upper bound of the mask."""
    styles: dict[str, float]
    source: str
    """Where the tags came from: 'cache', 'manifest' or 'tagger'."""
    embedding: np.ndarray | None = field(default=None, compare=False)
    """float16 image embedding, when an embedder was given."""
    caption: str | None = None
    """The image's caption, when the tagger (or the batch that tagged it) wrote one."""


@dataclass(frozen=True)
class BadFile:
    """An input the report could not use, and why."""

    path: str
    problem: str


def record_from_tags(path: str, sha256: str, tags: Tags, size: tuple[int, int], source: str) -> TagRecord:
    """A TagRecord from ``tags`` found on an image of ``size`` (width, height)."""
    width, height = size
    image_area = float(max(1, width * height))
    areas: dict[str, float] = {}
    for det in tags.objects:
        x0, y0, x1, y1 = det.box
        w = max(0.0, min(float(width), x1) - max(0.0, x0))
        h = max(0.0, min(float(height), y1) - max(0.0, y0))
        areas[det.label] = min(1.0, areas.get(det.label, 0.0) + w * h / image_area)
    return TagRecord(path, sha256, tags.class_scores(), areas, dict(tags.styles), source, caption=tags.caption)


class ManifestIndex:
    """Input sha256 -> manifest file, over the batch manifests under some folders (scanned on first use)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self.warnings: list[str] = []
        self._by_sha: dict[str, Path] | None = None

    def _scan(self) -> dict[str, Path]:
        index: dict[str, Path] = {}
        for folder in self.folders:
            if not folder.is_dir():
                self.warnings.append(f"{folder}: manifests folder not found")
                continue
            for path in sorted(folder.rglob("*.json")):
                manifest = self._read(path)
                sha = manifest.get("input", {}).get("sha256") if manifest else None
                if isinstance(sha, str):
                    index.setdefault(sha, path)
        return index

    def _read(self, path: Path) -> dict | None:
        """The manifest at ``path``, or None for other JSON files; unreadable files become warnings."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.warnings.append(f"{path}: skipped, not readable JSON ({exc})")
            return None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            return None
        return data

    def lookup(self, sha256: str) -> tuple[Tags, tuple[int, int]] | None:
        """Tags and the size of the image they were found on, from the manifest of the input ``sha256``."""
        if self._by_sha is None:
            self._by_sha = self._scan()
        path = self._by_sha.get(sha256)
        manifest = self._read(path) if path is not None else None
        if manifest is None:
            return None
        try:
            width, height = (int(v) for v in manifest.get("working_size") or manifest["input"]["size"])
            return Tags.from_dict(manifest["tags"]), (width, height)
        except (KeyError, TypeError, ValueError) as exc:
            self.warnings.append(f"{path}: skipped, manifest without usable tags ({type(exc).__name__}: {exc})")
            return None


class StageUnavailable(RuntimeError):
    """A model could not be loaded: the report stops (it would fail on every image alike)."""


T = TypeVar("T")


class _Lazy(Generic[T]):
    """A stage built on its first use, so that a report whose results are all cached loads no model.

    ``name`` identifies the stage in cache keys before it is built."""

    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self.name = name
        self._build = build
        self._built: T | None = None

    def get(self) -> T:
        if self._built is None:
            try:
                self._built = self._build()
            except Exception as exc:  # any loading failure: missing file, bad weights, no memory
                raise StageUnavailable(f"cannot load {self.name}: {exc}") from exc
        return self._built

    @property
    def built(self) -> T | None:
        """The stage, when it has been built."""
        return self._built


class LazyTagger(_Lazy[Tagger]):
    def tag(self, image: Image.Image) -> Tags:
        return self.get().tag(image)


class LazyEmbedder(_Lazy[Embedder]):
    def embed(self, image: Image.Image) -> np.ndarray:
        return self.get().embed(image)


@dataclass
class Collector:
    """Turns image files into TagRecords (or BadFiles), one at a time; ``counts`` says where tags came from."""

    tagger: Tagger
    cache: StageCache
    manifests: ManifestIndex | None = None
    embedder: Embedder | None = None
    working_size: WorkingSize = field(default_factory=WorkingSize)
    max_pixels: int = DEFAULT_MAX_PIXELS
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    captions: bool = False
    """The tagger captions: a manifest's tags without a caption are not reused (the image is tagged again)."""

    def record(self, path: Path) -> TagRecord | BadFile:
        """The record of the image at ``path``; a file that cannot be read, decoded or tagged is a BadFile."""
        try:
            sha = sha256_file(path)
            loaded: list[Image.Image] = []
            record = self._tags(path, sha, loaded)
            if self.embedder is not None:
                record = self._with_embedding(record, path, loaded)
        except ImageLoadError as exc:
            return BadFile(str(path), exc.problem)
        except _StageError as exc:
            return BadFile(str(path), str(exc))
        self.counts[record.source] += 1
        return record

    def _working(self, path: Path, loaded: list[Image.Image]) -> Image.Image:
        """The image at ``path`` at the working size (decoded once per record)."""
        if not loaded:
            image = load_image(path, self.max_pixels)
            loaded.append(image.resize(self.working_size.for_image(*image.size), Image.LANCZOS))
        return loaded[0]

    def _tags(self, path: Path, sha: str, loaded: list[Image.Image]) -> TagRecord:
        key = cache_key(sha, "report-tags", self.tagger.name)
        cached = _cached_tags(self.cache.get_json(key))
        if cached is not None:
            return record_from_tags(str(path), sha, cached[0], cached[1], "cache")
        found = self.manifests.lookup(sha) if self.manifests is not None else None
        if found is not None and self.captions and found[0].caption is None:
            found = None
        if found is not None:
            tags, size = found
            source = "manifest"
        else:
            image = self._working(path, loaded)
            tags, size = _run("tagging", lambda: self.tagger.tag(image)), image.size
            source = "tagger"
        self.cache.put_json(key, {"tags": tags.to_dict(), "size": list(size)})
        return record_from_tags(str(path), sha, tags, size, source)

    def _with_embedding(self, record: TagRecord, path: Path, loaded: list[Image.Image]) -> TagRecord:
        assert self.embedder is not None
        key = cache_key(record.sha256, "report-embedding", self.embedder.name)
        entry = self.cache.get_json(key)
        vector = decode_embedding(entry) if entry is not None else None
        if vector is None:
            image = self._working(path, loaded)
            vector = _run("embedding", lambda: np.asarray(self.embedder.embed(image), dtype=np.float16))
            self.cache.put_json(key, encode_embedding(vector))
        return replace(record, embedding=vector)


def _cached_tags(entry: Any) -> tuple[Tags, tuple[int, int]] | None:
    """Tags and image size from a report cache entry; a damaged entry is a miss."""
    try:
        width, height = (int(v) for v in entry["size"])
        return Tags.from_dict(entry["tags"]), (width, height)
    except (KeyError, TypeError, ValueError):
        return None


class _StageError(RuntimeError):
    pass


def _run(what: str, fn: Callable[[], T]) -> T:
    """Run a model call; its failure on one image becomes that image's problem, never the end of the report."""
    try:
        return fn()
    except (StageUnavailable, StageMissing):  # no image can get through: stop with the reason
        raise
    except Exception as exc:  # a model failing on one image must not stop a report over thousands
        raise _StageError(f"{what} failed: {type(exc).__name__}: {exc}") from exc
