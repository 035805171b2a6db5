"""The ControlNet model folder both stand-ins list, named as the extensions name models: "stem [hash]" with the
WebUI's short model hash (sd_models.model_hash: sha256 of 64 KiB at offset 1 MiB, first 8 hex digits)."""

from __future__ import annotations

import hashlib
from pathlib import Path

EXTENSIONS = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")


def model_hash(path: Path) -> str:
    with open(path, "rb") as file:
        file.seek(0x100000)
        return hashlib.sha256(file.read(0x10000)).hexdigest()[0:8]


def list_models(folder: Path | None) -> dict[str, str]:
    """"stem [hash]" -> path of every model file under ``folder`` (sorted by file name)."""
    if folder is None or not folder.is_dir():
        return {}
    files = sorted((p for p in folder.rglob("*") if p.suffix in EXTENSIONS), key=lambda p: p.name)
    return {f"{p.stem} [{model_hash(p)}]": str(p) for p in files if p.stem != "None"}
