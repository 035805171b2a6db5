"""Atomic file writes: a temporary file in the target folder, fsync, then rename over the target.

A process killed at any moment leaves either the old file, the new file, or a temporary file whose name
starts with ``TMP_PREFIX`` (swept by the next batch), never a half-written output.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from PIL import Image
from PIL.PngImagePlugin import PngInfo

TMP_PREFIX = ".alientmp-"
_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import: mkstemp creates 0600 files, outputs get the usual mode instead


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is renamed onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix="-" + target.name, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n")


def png_info(text: Mapping[str, str]) -> PngInfo:
    """PNG text chunks (key -> text), as the WebUI writes its ``parameters``; iTXt where latin-1 cannot hold it."""
    info = PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    return info


def write_image(target: Path, image: Image.Image, text: Mapping[str, str] | None = None, **save_args: Any) -> None:
    """Save ``image`` atomically; the format follows ``target``'s suffix. ``text``: PNG text chunks to write
    (ValueError for another format)."""
    fmt = Image.registered_extensions()[target.suffix.lower()]
    if text:
        if fmt != "PNG":
            raise ValueError(f"{target}: text chunks need a PNG, not {fmt}")
        save_args["pnginfo"] = png_info(text)
    with atomic_path(target) as tmp:
        image.save(tmp, format=fmt, **save_args)


def sweep_temporaries(folder: Path) -> list[Path]:
    """Delete temporary files left by a killed run anywhere under ``folder``; return what was removed."""
    removed = []
    if folder.is_dir():
        for path in folder.rglob(TMP_PREFIX + "*"):
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed
