"""The per-image manifest: everything needed to understand and reproduce a result."""

from __future__ import annotations

import datetime as _dt
import platform
from importlib import metadata
from typing import Any

from .. import __version__
from ..core import masks
from ..core.pipeline import ImageResult

FORMAT = "alien-filters/manifest@1"
VERSIONED_PACKAGES = ("numpy", "Pillow", "torch", "transformers", "diffusers", "spandrel", "segment-anything", "gradio")


def package_versions() -> dict[str, str]:
    """Versions of Python, Alien Filters and the installed packages that shape a result."""
    versions = {"python": platform.python_version(), "alien-filters": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def build_manifest(
    *,
    status: str,
    input_info: dict[str, Any],
    result: ImageResult,
    theme_info: dict[str, Any],
    seed: int,
    settings_hash: str,
    options: dict[str, Any],
    models: dict[str, str | None],
    outputs: dict[str, str],
) -> dict[str, Any]:
    """The JSON-ready manifest of one processed image (``status`` is 'done' or 'planned' for a dry run)."""
    return {
        "format": FORMAT,
        "status": status,
        "input": input_info,
        "working_size": list(result.working.size),
        "theme": theme_info,
        "seed": seed,
        "settings_hash": settings_hash,
        "options": options,
        "models": {**models, "restore": result.restored_by} if result.restore_fallback else models,
        "restore": {"ran": result.restored_by, "fallback": result.restore_fallback},
        "tags": result.tags.to_dict(),
        "masks": {label: masks.rle_encode(mask) for label, mask in sorted(result.masks.items())},
        "plan": result.plan.to_dict(),
        "infotexts": result.infotexts,
        "calls": result.calls,
        "control": control_section(result),
        "finish": result.finish,
        "timings": {stage: round(seconds, 4) for stage, seconds in result.timings.items()},
        "cached_stages": result.cached,
        "outputs": outputs,
        "versions": package_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def control_section(result: ImageResult) -> dict[str, Any] | None:
    """Structure guidance per job of the plan (its unit: kind, model, weight, window; whether it ran, why not),
    the control imager, and each reason a unit did not run, once; None when inpainting did not run."""
    run = result.control
    if run is None:
        return None
    return {"imager": run.imager, "jobs": run.records, "not_applied": run.notes}


def tags_line(result: ImageResult) -> str:
    """Comma-separated tags (objects by score, then style tags), the format caption tools read."""
    return ", ".join([*result.tags.class_scores(), *result.plan.style_tags])


def caption_line(result: ImageResult) -> str:
    """The caption as the ``NAME.caption`` sidecar holds it: one line (whitespace collapsed), empty when none."""
    return " ".join((result.tags.caption or "").split())
