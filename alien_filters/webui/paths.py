"""Allowed-roots checks for folders named in requests: no ``..``, no symlink escapes, nothing outside the roots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence


class PathNotAllowed(PermissionError):
    """A requested path is outside every allowed root (or names ``..``); ``path`` is what the user sent."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def parse_roots(text: str) -> list[Path]:
    """Roots from a settings string: one per line (``;`` also separates); blank entries are ignored."""
    parts = [p.strip() for line in text.splitlines() for p in line.split(";")]
    return [Path(os.path.expanduser(p)) for p in parts if p]


def resolve_inside(requested: str, roots: Sequence[Path]) -> Path:
    """The real path of ``requested`` if it lies inside one of ``roots``, else PathNotAllowed.

    A relative path is looked up in each root in order: the first root where it exists wins, and one that
    exists in none (an output folder still to be made) is taken in the first root. ``..`` components are
    refused outright, and the chosen path is resolved through every symlink before the check, so a link
    pointing out of the roots is refused too (a later root is never tried instead).
    """
    if not roots:
        raise PathNotAllowed(requested, "no allowed roots are configured (Settings > Alien Filters)")
    if not requested or "\x00" in requested:
        raise PathNotAllowed(requested, "empty or invalid path")
    if ".." in Path(requested).parts or ".." in requested.replace("\\", "/").split("/"):
        raise PathNotAllowed(requested, "'..' is not allowed in paths")
    candidate = Path(os.path.expanduser(requested))
    if not candidate.is_absolute():
        candidate = next((r / candidate for r in roots if os.path.exists(r / candidate)), roots[0] / candidate)
    real = Path(os.path.realpath(candidate))
    for root in roots:
        real_root = Path(os.path.realpath(root))
        if real == real_root or real_root in real.parents:
            return real
    raise PathNotAllowed(requested, "outside the allowed roots")


def outside_roots(paths: Iterable[Path], roots: Sequence[Path]) -> list[Path]:
    """Those of ``paths`` whose real location is outside every root (e.g. symlinked files pointing elsewhere)."""
    escaping = []
    for path in paths:
        try:
            resolve_inside(str(path), roots)
        except PathNotAllowed:
            escaping.append(path)
    return escaping
