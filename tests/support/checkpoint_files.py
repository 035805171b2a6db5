"""Checkpoints written as the released files are: torch's zip format without the entries newer torch adds.

The released SAM and SwinIR files (2021-2023) hold only ``<dir>/data.pkl``, ``<dir>/data/N`` and ``<dir>/version``.
torch >= 2.1 also writes ``.format_version``, ``.storage_alignment``, ``byteorder`` and ``.data/serialization_id``,
which the WebUI's safe-unpickle check refuses; the files users have never contain them.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

RELEASED_ENTRY = re.compile(r"^([^/]+)/((data/\d+)|version|(data\.pkl))$")


def save_as_released(obj: Any, path: Path) -> Path:
    """``torch.save(obj)`` to ``path`` keeping only the zip entries the released checkpoints have (stored)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            if RELEASED_ENTRY.match(info.filename):
                target.writestr(info.filename, source.read(info))
    return path
