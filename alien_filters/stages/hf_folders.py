"""Loading transformers model folders (what ``save_pretrained`` writes) with errors that name the folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_model_type(folder: Path) -> str:
    """``model_type`` from a transformers model folder's config.json, with a clear error if it is unreadable."""
    config = Path(folder) / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{config}: missing; expected a transformers model folder (save_pretrained layout)")
    try:
        return str(json.loads(config.read_text(encoding="utf-8"))["model_type"])
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{config}: not a transformers config with a model_type ({exc})") from exc


def load_pretrained(loader: Any, folder: Path, what: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained(folder)``; any failure (a missing file, damaged weights: safetensors raises its own
    error type, a size mismatch a RuntimeError) is an OSError naming the folder."""
    try:
        return loader.from_pretrained(str(folder), **kwargs)
    except Exception as exc:  # noqa: BLE001 - every load failure becomes one clear error
        raise OSError(f"{folder}: cannot load {what}: {exc}") from exc


def load_model_and_processor(folder: Path, model_type: str, model_class: Any, processor_class: Any, what: str,
                             torch_dtype: Any = None) -> tuple[Any, Any]:
    """A model and its processor from one transformers folder whose config says ``model_type`` (ValueError if it
    says another; OSError naming the folder if either does not load)."""
    found = read_model_type(folder)
    if found != model_type:
        raise ValueError(f"{folder}: model_type {found!r} is not a {what} model")
    model = load_pretrained(model_class, folder, what, torch_dtype=torch_dtype)
    processor = load_pretrained(processor_class, folder, f"the {what} processor")
    return model, processor
