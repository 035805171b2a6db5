"""Inpainting settings shared by themes, plans and inpainters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class InpaintSettings:
    """How one mask is inpainted. Pixel values refer to the working image."""

    denoising_strength: float = 0.75
    steps: int = 20
    cfg_scale: float = 7.0
    mask_grow: int = 8
    mask_feather: int = 4
    crop_padding: int = 32

    def merged(self, overrides: Mapping[str, Any]) -> InpaintSettings:
        """A copy with ``overrides`` applied (keys must be field names)."""
        return replace(self, **dict(overrides))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
