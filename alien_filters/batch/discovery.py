"""Finding input images in files and folders, and naming their outputs so the output tree mirrors the input."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from .imageio import IMAGE_EXTENSIONS
from .output_names import is_reserved_stem


@dataclass(frozen=True)
class InputItem:
    """An input image and the output stem (relative to the output folder, POSIX style, no suffix)."""

    path: Path
    rel_stem: str

    def output(self, out_dir: Path, suffix: str) -> Path:
        return out_dir.joinpath(*PurePosixPath(self.rel_stem + suffix).parts)


@dataclass(frozen=True)
class InputProblem:
    path: Path
    problem: str


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def discover(paths: Sequence[Path], exclude: Path | None = None) -> tuple[list[InputItem], list[InputProblem]]:
    """Image files under ``paths`` (folders recursively, symlinked folders not followed), sorted, with unique
    output stems. Folders keep their tree under the output folder; files given directly land at its top.
    ``exclude`` (normally the output folder) is never walked."""
    found: list[tuple[Path, PurePosixPath]] = []
    problems: list[InputProblem] = []
    excluded = exclude.resolve() if exclude is not None else None
    for given in paths:
        if given.is_dir():
            for file in _walk(given, excluded):
                found.append((file, PurePosixPath(*file.relative_to(given).parts)))
        elif given.is_file() or given.is_symlink():
            if is_image_name(given):
                found.append((given, PurePosixPath(given.name)))
            else:
                expected = ", ".join(IMAGE_EXTENSIONS)
                problems.append(InputProblem(given, f"not an image file name (expected one of {expected})"))
        else:
            problems.append(InputProblem(given, "no such file or folder"))
    return _unique_stems(found), problems


def _walk(root: Path, excluded: Path | None) -> Iterable[Path]:
    for folder, subdirs, files in os.walk(root, followlinks=False, onerror=None):
        here = Path(folder)
        subdirs[:] = sorted(d for d in subdirs if excluded is None or (here / d).resolve() != excluded)
        for name in sorted(files):
            path = here / name
            if is_image_name(path) and not name.startswith("."):
                yield path


def _unique_stems(found: list[tuple[Path, PurePosixPath]]) -> list[InputItem]:
    """``a.jpg`` and ``a.png`` in one folder would share the stem ``a``: such clashes keep their extension, and so do
    stems whose outputs would take the name of another image's outputs or of the batch's own files."""
    found.sort(key=lambda pair: str(pair[1]))
    stems: dict[str, int] = {}
    for _, rel in found:
        stem = str(rel.with_suffix(""))
        stems[stem] = stems.get(stem, 0) + 1
    items: list[InputItem] = []
    taken: set[str] = set()
    for path, rel in found:
        stem = str(rel.with_suffix(""))
        if stems[stem] > 1 or is_reserved_stem(stem):
            stem = f"{stem}_{rel.suffix.lstrip('.').lower()}"
        base, n = stem, 2
        while stem in taken:
            stem, n = f"{base}_{n}", n + 1
        taken.add(stem)
        items.append(InputItem(path, stem))
    return items
