"""Finds model files where users keep them, downloads missing ones, and counts model loads.

Lookup order for a model: the extra ``search_dirs`` of its kind first (inside the WebUI: its
models/sam, models/SwinIR and the Hugging Face cache), then ``models_dir/relpath``. A folder counts when it
holds every group of files its registry entry requires (one of each group's alternatives); files that are
present are used as they are; only downloads are checksum-verified.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .download import DownloadError, download
from .registry import REGISTRY, ModelSpec, get_spec

log = logging.getLogger(__name__)

Downloader = Callable[..., Path]


class ModelMissingError(DownloadError):
    """A model is not on disk and downloading is switched off."""


def default_models_dir() -> Path:
    """``$ALIEN_FILTERS_MODELS_DIR``, else ``~/.cache/alien-filters/models``."""
    env = os.environ.get("ALIEN_FILTERS_MODELS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "alien-filters" / "models"


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "huggingface") / "hub"


class ModelManager:
    """Locates, downloads and reports the models of the registry under ``models_dir``."""

    def __init__(
        self,
        models_dir: Path,
        search_dirs: Mapping[str, Sequence[Path]] = {},  # noqa: B006 - read only
        allow_download: bool = True,
        downloader: Downloader = download,
        progress: bool = True,
    ) -> None:
        self.models_dir = Path(models_dir).expanduser()
        self.search_dirs = {kind: [Path(p).expanduser() for p in paths] for kind, paths in search_dirs.items()}
        self.allow_download = allow_download
        self.downloader = downloader
        self.progress = progress
        self.load_count: Counter[str] = Counter()

    def target_path(self, name: str) -> Path:
        """Where ``name`` is downloaded to: ``models_dir/relpath``."""
        return self.models_dir / get_spec(name).relpath

    def locate(self, name: str) -> Path | None:
        """The first existing file or folder for ``name`` in the places it is looked for, else None."""
        spec = get_spec(name)
        for candidate in self._candidates(spec):
            if self._present(spec, candidate):
                return candidate
        return None

    def ensure(self, name: str) -> Path:
        """``locate(name)``, or download it into ``models_dir/relpath`` (every file of a folder)."""
        found = self.locate(name)
        if found is not None:
            return found
        spec = get_spec(name)
        target = self.target_path(name)
        if not self.allow_download:
            raise ModelMissingError(self._missing_message(spec, target))
        if spec.kind == "file":
            assert spec.url is not None
            if spec.sha256 is None:
                log.warning("%s: no published sha256; the download will not be verified", name)
            return self.downloader(spec.url, target, spec.sha256, spec.size, progress=self.progress)
        fetch = spec.files_to_fetch(_has_file(target))
        unverified = [remote.filename for remote in fetch if remote.sha256 is None]
        if unverified:
            log.warning("%s: no published sha256 for %s; the download will not be verified", name,
                        ", ".join(unverified))
        for remote in fetch:
            self.downloader(remote.url, target / remote.filename, remote.sha256, remote.size, progress=self.progress)
        return target

    def status(self) -> list[dict[str, Any]]:
        """One row per registry model: name, stage, kind, present, path, size, license, url, verified, description,
        files (name, url, sha256 or None where none is published, size) and, for folders, requires (per group of
        files it needs, the alternatives)."""
        rows = []
        for spec in REGISTRY.values():
            found = self.locate(spec.name)
            path = found if found is not None else self.target_path(spec.name)
            rows.append(
                {
                    "name": spec.name,
                    "stage": spec.stage,
                    "kind": spec.kind,
                    "present": found is not None,
                    "path": str(path),
                    "size": _disk_size(found) if found is not None else spec.total_size,
                    "license": spec.license,
                    "url": spec.url or f"https://huggingface.co/{spec.repo_id}",
                    "verified": spec.verified,
                    "description": spec.description,
                    "files": _expected_files(spec),
                    "requires": [{"what": g.what, "options": [list(o) for o in g.options]} for g in spec.requires],
                }
            )
        return rows

    def record_load(self, name: str) -> None:
        """Count one load of model ``name`` (the pipeline and benchmarks assert one load per batch)."""
        self.load_count[name] += 1

    def _candidates(self, spec: ModelSpec) -> Iterator[Path]:
        for folder in self.search_dirs.get(spec.subdir, ()):
            if spec.kind == "file":
                for filename in (spec.filename, *spec.aliases):
                    yield folder / filename
            else:
                assert spec.repo_id is not None
                yield folder / spec.repo_id
                yield from _hf_cache_snapshots(folder, spec.repo_id, spec.revision)
        target = self.models_dir / spec.relpath
        yield target
        for alias in spec.aliases:
            yield target.with_name(alias)

    def _present(self, spec: ModelSpec, path: Path) -> bool:
        if spec.kind == "file":
            return path.is_file() and path.stat().st_size > 0
        return path.is_dir() and not spec.missing_groups(_has_file(path))

    def _missing_message(self, spec: ModelSpec, target: Path) -> str:
        looked = [str(p) for p in self._candidates(spec)]
        if spec.kind == "file":
            how = f"To add it by hand, download {spec.url} and put it at: {target}"
        else:
            has = _has_file(target)
            lacking = "; ".join(group.describe() for group in spec.missing_groups(has))
            urls = ", ".join(remote.url for remote in spec.files_to_fetch(has))
            how = f"Missing in {target}: {lacking}. To add it by hand, download {urls} into the folder: {target}"
        return (
            f"Model {spec.name} ({spec.description}) is not on disk and downloads are switched off. "
            f"Looked in: {', '.join(looked)}. {how}"
        )


def _hf_cache_snapshots(folder: Path, repo_id: str, pinned: str | None = None) -> Iterator[Path]:
    """Snapshot folders of ``repo_id`` in a HF cache given as ``folder`` (the hub folder or HF_HOME): the pinned
    revision first, then the one ``refs/main`` names, then any other that is there."""
    cache_name = "models--" + repo_id.replace("/", "--")
    for hub in (folder, folder / "hub"):
        repo = hub / cache_name
        if not repo.is_dir():
            continue
        if pinned:
            yield repo / "snapshots" / pinned
        ref = repo / "refs" / "main"
        if ref.is_file():
            yield repo / "snapshots" / ref.read_text(encoding="utf-8").strip()
        yield from sorted((repo / "snapshots").glob("*"))


def _has_file(folder: Path) -> Callable[[str], bool]:
    return lambda filename: (folder / filename).is_file()


def _expected_files(spec: ModelSpec) -> list[dict[str, Any]]:
    """Each file of ``spec`` with its URL and the published sha256 and size (None where none is published)."""
    if spec.kind == "file":
        return [{"name": spec.filename, "url": spec.url, "sha256": spec.sha256, "size": spec.size}]
    return [{"name": f.filename, "url": f.url, "sha256": f.sha256, "size": f.size} for f in spec.files]


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
